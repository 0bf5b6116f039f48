"""MediaPipe's face mesh (478 points) on every image of a keypoints CSV: the teacher's raw answers.

    make teacher            # or, in a venv holding mediapipe==0.10.14:
    python training/face_mesh.py --data DIR --out runs/teacher/mesh.npz

This runs in its own venv (``make teacher`` builds ``.teacher-venv``), not in
vidkeys': MediaPipe 0.10.14 is the last release that carries the face mesh
model in its wheel (later ones download it), and it pulls in
opencv-contrib-python, which would clash with vidkeys' headless OpenCV. So
the script imports neither vidkeys nor torch, only what that venv holds. It
runs the mesh with its attention model (``refine_landmarks``: 468 points
placed more closely around eyes and lips, plus 10 on the irises); mapped
onto the 68 points it erred 4.33 % on the held-out people against 4.53 %
for the plain model (``benchmarks/compare_models.py --teacher``). Its
output feeds :mod:`vidkeys.training.teacher`, which maps the mesh onto the 68
points and blends it into the training labels.

The data set's faces fill their small frames (72-494 px a side), where the
mesh's own face detector often gives up: each image is tried as it is, then
with a black border of half and one times its size, each scaled up to at
least 256 px.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2
import numpy as np

#: Black borders tried around an image, in multiples of its larger side.
BORDERS = (0.0, 0.5, 1.0)
#: Images are scaled up to this size (larger side) before the mesh sees them.
MIN_SIDE = 256
#: Points of the attention model's mesh: 468 of the face and 10 of the irises.
MESH_POINTS = 478


def mesh_points(face_mesh, image: np.ndarray) -> tuple[np.ndarray | None, int]:
    """The mesh's ``(x, y, z)`` points in ``image``'s pixels (z in the same
    scale as x) and which try found them (1-based); ``(None, 0)`` if none did."""
    h, w = image.shape[:2]
    for attempt, border in enumerate(BORDERS, start=1):
        pad = int(border * max(h, w))
        framed = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        scale = max(1.0, MIN_SIDE / max(framed.shape[:2]))
        if scale > 1:
            framed = cv2.resize(framed, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        found = face_mesh.process(framed)
        if found.multi_face_landmarks:
            fh, fw = framed.shape[:2]
            marks = found.multi_face_landmarks[0].landmark
            points = np.array([[m.x * fw, m.y * fh, m.z * fw] for m in marks], dtype=np.float32)
            points /= scale
            points[:, :2] -= pad
            return points, attempt
    return None, 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with the CSV and images")
    parser.add_argument("--csv", default="training_frames_keypoints.csv")
    parser.add_argument("--images", default="training")
    parser.add_argument("--out", type=Path, required=True, help=".npz file to write")
    args = parser.parse_args()
    import mediapipe as mp  # only in the teacher venv

    with (args.data / args.csv).open(newline="") as f:
        names = [row[0].strip() for row in list(csv.reader(f))[1:] if row]
    mesh = np.full((len(names), MESH_POINTS, 3), np.nan, dtype=np.float32)
    attempt = np.zeros(len(names), dtype=np.int8)
    with mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True,
        max_num_faces=1,
        refine_landmarks=True,
        min_detection_confidence=0.3,
    ) as face_mesh:
        for i, name in enumerate(names):
            image = cv2.imread(str(args.data / args.images / name))
            if image is None:
                raise SystemExit(f"error: cannot read {args.data / args.images / name}")
            points, attempt[i] = mesh_points(face_mesh, np.ascontiguousarray(image[:, :, ::-1]))
            if points is not None:
                mesh[i] = points
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".part.npz")
    np.savez(tmp, names=np.array(names), mesh=mesh, attempt=attempt)
    tmp.replace(args.out)
    print(f"mesh on {int((attempt > 0).sum())} of {len(names)} images -> {args.out}")


if __name__ == "__main__":
    main()
