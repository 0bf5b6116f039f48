"""Paths and reference values shared by several test modules (test modules import
this, never each other)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "samples" / "astronaut.mp4"
PHOTO = REPO / "samples" / "astronaut.png"

# Hand-placed on samples/astronaut.png (512 x 512) from a 5x zoom with a
# 10 px grid: iBUG index -> (x, y). Outer and inner eye corners, nose tip,
# mouth corners, chin.
ASTRONAUT_REFERENCE = {
    36: (192.6, 101.6),
    39: (210.0, 102.4),
    42: (240.0, 102.4),
    45: (257.0, 101.0),
    30: (224.0, 126.0),
    48: (202.4, 140.0),
    54: (245.0, 141.0),
    8: (220.0, 179.0),
}


def camera_path() -> np.ndarray:
    """The sample's true photo -> frame affine per frame, ``(n, 2, 3)``."""
    with (REPO / "samples" / "astronaut_path.csv").open() as f:
        rows = list(csv.DictReader(f))
    keys = ["a11", "a12", "a13", "a21", "a22", "a23"]
    return np.array([[float(r[k]) for k in keys] for r in rows]).reshape(-1, 2, 3)
