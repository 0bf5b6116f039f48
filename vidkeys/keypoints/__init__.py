"""The 68 points of each face: the network and its weights, mirror test, correction,
confidence, head pose and derived features."""
