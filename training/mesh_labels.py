"""Teacher labels for eyes and lips: MediaPipe FaceMesh on frames of real video.

    python -m vidkeys.training.mesh_labels VIDEO ... --out runs/mesh_labels.npz
        [--python PEER_PYTHON] [--every 3]

The labelled faces hold few shut eyes and their shut lips sit apart; real
video holds both, unlabelled. MediaPipe FaceMesh (Apache-2.0; 0.10.21, video
mode, refined eyes and lips) runs in a venv of its own (``--python``, default
``$VIDKEYS_PEERS_PYTHON``, else ``/tmp/peers-venv/bin/python``; never a
run-time dependency of vidkeys) on every frame of each video; its eyelid and
lip vertices become iBUG points 36-67 (:data:`MESH_68`). Kept: every
``--every``-th frame, and every frame whose eyes are less open than 0.8 of the
clip's median or whose lips are shut, so closures weigh as much as open faces.
vidkeys places the same frame's face with the face network (``vidkeys.process``,
the face nearest the mesh), which is where the region patches are cut in training.

The output ``.npz`` holds per kept frame the grey image around the face (JPEG
bytes, one flat array cut at ``jpeg_ends``), the teacher's 68 points (points
0-35 are vidkeys') and vidkeys' own, and the clip each came from.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

DEFAULT_PEER_PYTHON = "/tmp/peers-venv/bin/python"
#: FaceMesh vertex of each iBUG point 36-67 (eyes as in the EAR literature; lips
#: at the corners, the bow and the midline).
MESH_68 = {
    36: 33, 37: 160, 38: 158, 39: 133, 40: 153, 41: 144,
    42: 362, 43: 385, 44: 387, 45: 263, 46: 373, 47: 380,
    48: 61, 49: 40, 50: 37, 51: 0, 52: 267, 53: 270, 54: 291,
    55: 321, 56: 314, 57: 17, 58: 84, 59: 91,
    60: 78, 61: 81, 62: 13, 63: 311, 64: 308, 65: 402, 66: 14, 67: 178,
}  # fmt: skip


def worker(video: Path, dst: Path) -> None:
    """Per frame: the mesh's points for :data:`MESH_68` (NaN where no face)."""
    import cv2
    import mediapipe as mp

    cap = cv2.VideoCapture(str(video))
    keys = list(MESH_68.values())
    rows = []
    with mp.solutions.face_mesh.FaceMesh(
        static_image_mode=False, max_num_faces=1, refine_landmarks=True
    ) as mesh:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            h, w = frame.shape[:2]
            result = mesh.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            if result.multi_face_landmarks:
                lm = result.multi_face_landmarks[0].landmark
                # -0.5: pixel centres on whole numbers, as vidkeys has them.
                rows.append([(lm[k].x * w - 0.5, lm[k].y * h - 0.5) for k in keys])
            else:
                rows.append(np.full((len(keys), 2), np.nan))
    np.save(dst, np.array(rows, float).reshape(-1, len(keys), 2))


def mesh_points(video: Path, python: str) -> np.ndarray:
    """``(frames, 32, 2)`` teacher points 36-67 of ``video`` from the peers' venv."""
    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / "mesh.npy"
        subprocess.run([python, __file__, "--worker", str(video), str(dst)], check=True)
        return np.load(dst)


def keep_frames(teacher: np.ndarray, every: int) -> np.ndarray:
    """Indices of the frames to keep: every ``every``-th, and the closures."""
    from vidkeys.keypoints.features import eye_opening, lip_gap

    full = np.full((len(teacher), 68, 2), np.nan)
    full[:, 36:68] = teacher
    ok = np.isfinite(teacher).all(axis=(1, 2))
    ear, gap = eye_opening(full), lip_gap(full)
    median = np.nanmedian(ear) if ok.any() else 0.0
    closing = (ear < 0.8 * median) | (gap < 0.02)
    regular = np.arange(len(teacher)) % every == 0
    return np.flatnonzero(ok & (regular | closing))


def label_video(video: Path, python: str, every: int) -> dict[str, list]:
    """Kept frames of one video: grey crops (JPEG), teacher and vidkeys points."""
    import cv2

    import vidkeys

    teacher = mesh_points(video, python)
    keep = set(keep_frames(teacher, every).tolist())
    out: dict[str, list] = {"frames": [], "labels": [], "placed": []}
    # The face network's own points, as the eye and mouth stage gets them at run time.
    for frame in vidkeys.process(str(video), keep_images=True, regions=False, smooth=False):
        i = frame.index
        if i not in keep or i >= len(teacher) or len(frame.faces) == 0:
            continue
        t = teacher[i]
        pts = frame.faces.points
        j = int(np.argmin(np.linalg.norm(pts.mean(axis=1) - t.mean(axis=0), axis=1)))
        iod = np.linalg.norm(t[0] - t[9])
        if np.linalg.norm(pts[j, 36:68].mean(axis=0) - t.mean(axis=0)) > 0.3 * iod:
            continue  # vidkeys' face is another one, or far off
        placed = pts[j].astype(np.float64)
        labels = placed.copy()
        labels[36:68] = t
        gray = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
        x0, y0 = np.maximum(np.floor(placed.min(axis=0) - iod), 0).astype(int)
        x1, y1 = np.ceil(placed.max(axis=0) + iod).astype(int)
        patch = gray[y0:y1, x0:x1]
        ok, buf = cv2.imencode(".jpg", patch, [cv2.IMWRITE_JPEG_QUALITY, 95])
        if not ok:
            continue
        out["frames"].append(buf.ravel())
        out["labels"].append(labels - [x0, y0])
        out["placed"].append(placed - [x0, y0])
    print(f"{video.name}: {len(out['labels'])} frames kept of {len(teacher)}", flush=True)
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--python", default=os.environ.get("VIDKEYS_PEERS_PYTHON", DEFAULT_PEER_PYTHON)
    )
    parser.add_argument("--every", type=int, default=3)
    args = parser.parse_args()
    frames, labels, placed, names = [], [], [], []
    for video in args.videos:
        got = label_video(video, args.python, args.every)
        frames += got["frames"]
        labels += got["labels"]
        placed += got["placed"]
        names += [video.name] * len(got["labels"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        args.out,
        jpeg=np.concatenate(frames),
        jpeg_ends=np.cumsum([len(f) for f in frames]),
        labels=np.array(labels),
        placed=np.array(placed),
        clips=np.array(names),
        meta=np.array(json.dumps({"every": args.every})),
    )
    print(f"wrote {args.out}: {len(labels)} frames")


if __name__ == "__main__":
    main()
