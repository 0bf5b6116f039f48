"""The shipped weights (``vidkeys68.pt``), their ONNX graph and model card.

Installed as the package ``vidkeys.saved_models`` so the files travel with
vidkeys; see README.md here for what the weights are and the terms they carry.
"""
