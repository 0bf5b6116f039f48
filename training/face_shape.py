"""Remake :data:`vidkeys.keypoints.pose.FACE_3D`, the generic 3D face head pose is fitted to.

x and y: the mean of the most frontal 30 % of a data set's faces (nose tip
closest to the middle of the jaw), similarity-aligned (generalised
Procrustes), averaged with its own mirror image so it is exactly symmetric,
and scaled to 90 mm between the outer eye corners (the adult average).
z: depths set by hand per region, in mm behind the nose tip, from typical
face proportions. The result is centred on its mean and printed as the
Python literal pasted into ``vidkeys/keypoints/pose.py``::

    python -m vidkeys.training.face_shape --csv DATA/training_frames_keypoints.csv
"""

from __future__ import annotations

import argparse

import numpy as np

from vidkeys.keypoints.mirror import FLIP_INDEX
from vidkeys.training.data import read_keypoints_csv

EYE_CORNERS_MM = 90.0
GROUPS = [
    (0, 17, "jaw"),
    (17, 27, "brows"),
    (27, 31, "nose bridge"),
    (31, 36, "nostrils"),
    (36, 48, "eyes"),
    (48, 60, "outer lips"),
    (60, 68, "inner lips"),
]


def depths() -> np.ndarray:
    """Hand-set depth of each point behind the nose tip, mm."""
    z = np.zeros(68)
    t = np.abs(np.arange(17) - 8) / 8
    z[:17] = 22 + 63 * t**2  # chin 22 mm behind the nose tip, the outline at the ears 85
    z[17:22] = [45, 33, 27, 24, 23]
    z[22:27] = z[17:22][::-1]
    z[27:31] = [22, 15, 8, 0]
    z[31:36] = [16, 11, 9, 11, 16]
    z[36:42] = [38, 28, 26, 27, 27, 29]
    z[42:48] = [27, 26, 28, 38, 29, 27]
    z[48:60] = [30, 20, 14, 12, 14, 20, 30, 20, 15, 14, 15, 20]
    z[60:68] = [27, 16, 14, 16, 27, 17, 15, 17]
    assert np.allclose(z, z[FLIP_INDEX]), "depths must be symmetric"
    return z


def _normalise(p: np.ndarray) -> np.ndarray:
    c = p - p.mean(0)
    return c / np.sqrt((c**2).sum())


def _align(p: np.ndarray, ref: np.ndarray) -> np.ndarray:
    a = _normalise(p)
    u, _, vt = np.linalg.svd(a.T @ ref)
    return a @ (u @ vt)


def mean_frontal_shape(points: np.ndarray, share: float = 0.3) -> np.ndarray:
    """Symmetric mean 2D shape of the most frontal faces, outer eye corners 1 apart."""
    iod = np.linalg.norm(points[:, 45] - points[:, 36], axis=1)
    offset = np.abs(points[:, 30, 0] - (points[:, 0, 0] + points[:, 16, 0]) / 2) / iod
    frontal = points[offset < np.quantile(offset, share)]
    ref = _normalise(frontal[0])
    for _ in range(5):
        ref = _normalise(np.mean([_align(p, ref) for p in frontal], axis=0))
    shape = (ref + ref[FLIP_INDEX] * [-1, 1]) / 2
    shape -= (shape[36] + shape[45]) / 2
    return shape / np.linalg.norm(shape[45] - shape[36])


def face_3d(points: np.ndarray) -> np.ndarray:
    """The 68 x 3 model in mm, centred on its mean."""
    model = np.c_[mean_frontal_shape(points) * EYE_CORNERS_MM, depths()]
    return model - model.mean(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", required=True, help="Keypoints CSV of the data set.")
    args = parser.parse_args()
    model = face_3d(np.stack([s.points for s in read_keypoints_csv(args.csv)]))
    for first, end, name in GROUPS:
        print(f"        # {first}-{end - 1}: {name}")
        for x, y, z in model[first:end]:
            print(f"        [{x:.1f}, {y:.1f}, {z:.1f}],")


if __name__ == "__main__":
    main()
