"""Where the faces are: detection (YuNet, Haar), scene cuts, crops, tracks, smoothing, likeness."""
