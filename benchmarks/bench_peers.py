"""Missed faces, NME and failures of two peer detectors (MediaPipe, dlib) under bench_conditions'.

    python benchmarks/bench_peers.py [--data DIR] [--peers mediapipe dlib] [--limit N]
        [--only NAME ...] [--fit N] [--python PEER_PYTHON] [--dlib-model FILE]

What vidkeys' own figures in ``bench_conditions.py`` are worth next to the
landmark detectors people already use: the same held-out people of
``youtube-faces-68`` (``--data``, default ``$VIDKEYS_DATA``), changed by the
same conditions (its ``CONDITIONS``, same seeds), scored the same way
(``vidkeys.training.metrics``: NME in % of the outer-eye-corner distance, of
the faces found; failures: NME > 10 % or missed).

- MediaPipe FaceMesh (``static_image_mode``, one face, no refined eyes/lips),
  the grey image given as RGB. Its 468 mesh points are not the iBUG 68: each
  of the 68 is a linear regression on the (x, y) of the 3 mesh vertices
  nearest it, in a frame set by the mesh's own outer eye corners (so the map
  follows roll and scale), fitted on the training people only (``--fit``
  faces of them, 0: all), never on the held-out ones.
- dlib's 68-point shape predictor (already iBUG order) in boxes from dlib's
  HOG frontal face detector, upsampled once; of several faces, the one
  nearest the labelled face.

A face counts as missed when the peer finds none, or when the centre of its
68 points lies farther from the labels' centre than the labels' outer eye
corners lie apart (it found someone, or something, else).

MediaPipe pins ``numpy<2`` and its own OpenCV, so the peers live in a venv of
their own, and this script runs in two halves: the project's venv makes the
condition images and labels (vidkeys and ``bench_conditions`` import there),
writes them to a temporary ``.npz``, and runs this same file with
``--worker`` under the peers' python (``--python``, default
``$VIDKEYS_PEERS_PYTHON``, else ``/tmp/peers-venv/bin/python``), which needs
only numpy, cv2, mediapipe and dlib and returns the raw points; fitting the
mesh map and scoring happen back in the project's venv. Set-up (dlib's model
file comes from Debian, dlib itself from the ``dlib-bin`` wheel, no compiler)::

    apt-get install -y libdlib-data   # /usr/share/dlib/shape_predictor_68_face_landmarks.dat
    python3 -m venv /tmp/peers-venv
    /tmp/peers-venv/bin/pip install mediapipe==0.10.21 dlib-bin
    .venv/bin/python benchmarks/bench_peers.py --data ../shared/data/youtube-faces-68
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

PEERS = ("mediapipe", "dlib")
DLIB_MODEL = Path("/usr/share/dlib/shape_predictor_68_face_landmarks.dat")
DEFAULT_PEER_PYTHON = "/tmp/peers-venv/bin/python"
#: FaceMesh vertices at the outer eye corners (image left, image right): the map's frame.
MESH_EYES = (33, 263)
#: Mesh vertices each of the 68 points is regressed on.
NEAREST = 3
#: The group of training-people images the mesh map is fitted on.
TRAIN = "train"


# --- shared by both halves: ragged image lists in one .npz ------------------------------


def pack(arrays: dict[str, np.ndarray], group: str, images: Sequence[np.ndarray]) -> None:
    """Images of different sizes as one flat byte array and their shapes, so the
    hand-over file needs no pickle (the two venvs' numpy versions differ)."""
    arrays[f"{group}__flat"] = np.concatenate([im.ravel() for im in images]).astype(np.uint8)
    arrays[f"{group}__shapes"] = np.array([im.shape[:2] for im in images], np.int64)


def unpack(data: dict[str, np.ndarray], group: str) -> list[np.ndarray]:
    """The images :func:`pack` stored under ``group``."""
    flat, shapes = data[f"{group}__flat"], data[f"{group}__shapes"]
    ends = np.cumsum(shapes.prod(axis=1))
    return [
        flat[end - h * w : end].reshape(h, w)
        for (h, w), end in zip(shapes.tolist(), ends.tolist(), strict=True)
    ]


# --- the worker: runs in the peers' venv, needs only numpy, cv2, mediapipe and dlib -------


def run_mediapipe(images: Sequence[np.ndarray]) -> tuple[np.ndarray, float]:
    """FaceMesh's 468 points per image in pixels (NaN where it found no face), and
    the seconds it took."""
    import cv2
    import mediapipe as mp

    out = np.full((len(images), 468, 2), np.nan)
    start = time.perf_counter()
    with mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, max_num_faces=1, refine_landmarks=False
    ) as mesh:
        for i, image in enumerate(images):
            result = mesh.process(cv2.cvtColor(image, cv2.COLOR_GRAY2RGB))
            if result.multi_face_landmarks:
                h, w = image.shape
                marks = result.multi_face_landmarks[0].landmark
                # Normalised to the image's edges; -0.5 puts pixel centres on whole
                # numbers, as the labels have them.
                out[i] = [(p.x * w - 0.5, p.y * h - 0.5) for p in marks]
    return out, time.perf_counter() - start


def run_dlib(
    images: Sequence[np.ndarray], centres: np.ndarray, model: Path
) -> tuple[np.ndarray, float]:
    """dlib's 68 points per image (NaN where HOG found no face), of the detection
    nearest the labelled face's ``centres``, and the seconds it took."""
    import dlib

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(model))
    out = np.full((len(images), 68, 2), np.nan)
    start = time.perf_counter()
    for i, (image, centre) in enumerate(zip(images, centres, strict=True)):
        image = np.ascontiguousarray(image)
        faces = detector(image, 1)
        if len(faces) == 0:
            continue
        mid = np.array([((r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2) for r in faces])
        best = faces[int(np.argmin(np.linalg.norm(mid - centre, axis=1)))]
        shape = predictor(image, best)
        out[i] = [(p.x, p.y) for p in shape.parts()]
    return out, time.perf_counter() - start


def worker(src: Path, dst: Path, model: Path) -> None:
    """Run each group's peers on its images; write their raw points and times."""
    data = dict(np.load(src))
    result: dict[str, np.ndarray] = {}
    versions = {}
    for group, peers in zip(data["groups"].tolist(), data["peers"].tolist(), strict=True):
        images = unpack(data, group)
        for peer in peers.split(","):
            if peer == "mediapipe":
                import mediapipe

                versions[peer] = mediapipe.__version__
                points, seconds = run_mediapipe(images)
            else:
                import dlib

                versions[peer] = dlib.__version__
                points, seconds = run_dlib(images, data[f"{group}__centres"], model)
            result[f"{group}__{peer}"] = points
            result[f"{group}__{peer}_s"] = np.array(seconds)
            print(f"  {peer:9s} {group:18s} {len(images)} images {seconds:6.1f} s", flush=True)
    result["versions"] = np.array([f"{k}={v}" for k, v in versions.items()])
    np.savez(dst, **result)


# --- the project's half: conditions, the mesh map, scores ---------------------------------


def eye_frame(mesh: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Origin ``(n, 2)``, rotation ``(n, 2, 2)`` and scale ``(n,)`` of each mesh's
    frame: its outer eye corners at (-0.5, 0) and (0.5, 0)."""
    left, right = mesh[:, MESH_EYES[0]], mesh[:, MESH_EYES[1]]
    axis = right - left
    scale = np.linalg.norm(axis, axis=1)
    c, s = axis[:, 0] / scale, axis[:, 1] / scale
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)  # columns: x, y axes
    return (left + right) / 2, rot, scale


def to_frame(points: np.ndarray, frame: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """``(n, k, 2)`` pixel points in each face's eye frame."""
    origin, rot, scale = frame
    return np.einsum("nkj,nji->nki", points - origin[:, None], rot) / scale[:, None, None]


def from_frame(points: np.ndarray, frame: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Back from :func:`to_frame`."""
    origin, rot, scale = frame
    return np.einsum("nki,nji->nkj", points * scale[:, None, None], rot) + origin[:, None]


class MeshTo68:
    """The 468 -> 68 map: per iBUG point, a linear regression on the (x, y) of its
    :data:`NEAREST` nearest mesh vertices, both in the mesh's eye frame, so a rolled
    or small face maps as an upright large one does."""

    def __init__(self, mesh: np.ndarray, labels: np.ndarray) -> None:
        frame = eye_frame(mesh)
        q, y = to_frame(mesh, frame), to_frame(labels, frame)
        mean_dist = np.linalg.norm(y[:, :, None] - q[:, None], axis=-1).mean(axis=0)
        self.nearest = np.argsort(mean_dist, axis=1)[:, :NEAREST]  # (68, NEAREST)
        self.weights = np.stack(
            [
                np.linalg.lstsq(self.features(q, i), y[:, i], rcond=None)[0]
                for i in range(len(self.nearest))
            ]
        )  # (68, 2 * NEAREST + 1, 2)

    def features(self, q: np.ndarray, i: int) -> np.ndarray:
        near = q[:, self.nearest[i]].reshape(len(q), -1)
        return np.concatenate([near, np.ones((len(q), 1))], axis=1)

    def __call__(self, mesh: np.ndarray) -> np.ndarray:
        frame = eye_frame(mesh)
        q = to_frame(mesh, frame)
        y = np.stack([self.features(q, i) @ w for i, w in enumerate(self.weights)], axis=1)
        return from_frame(y, frame)


def score(points: np.ndarray, labels: np.ndarray) -> tuple[int, float, float]:
    """Missed faces, mean NME of the found ones, failure rate (missed count as failed).

    Missed: no points, or their centre farther from the labels' centre than the
    labels' outer-eye-corner distance.
    """
    from vidkeys.training.metrics import LEFT_EYE_OUTER, RIGHT_EYE_OUTER, failure_rate, nme

    iod = np.linalg.norm(labels[:, LEFT_EYE_OUTER] - labels[:, RIGHT_EYE_OUTER], axis=1)
    off = np.linalg.norm(points.mean(axis=1) - labels.mean(axis=1), axis=1)
    found = np.isfinite(off) & (off <= iod)
    errors = np.full(len(labels), np.inf)
    errors[found] = nme(points[found], labels[found])
    mean = float(errors[found].mean()) if found.any() else float("nan")
    return int((~found).sum()), mean, failure_rate(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("VIDKEYS_DATA"))
    parser.add_argument("--peers", nargs="+", default=list(PEERS), choices=PEERS)
    parser.add_argument("--limit", type=int, default=0, help="images (0: all held-out)")
    parser.add_argument("--only", nargs="*", default=None, help="conditions to run")
    parser.add_argument(
        "--fit", type=int, default=0, help="training faces for the mesh map (0: all)"
    )
    parser.add_argument(
        "--python",
        default=os.environ.get("VIDKEYS_PEERS_PYTHON", DEFAULT_PEER_PYTHON),
        help="python of the venv with mediapipe and dlib",
    )
    parser.add_argument("--dlib-model", type=Path, default=DLIB_MODEL)
    parser.add_argument(
        "--worker", nargs=2, type=Path, metavar=("IN", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker, args.dlib_model)
        return
    if args.data is None:
        raise SystemExit("error: give --data DIR or set VIDKEYS_DATA")
    if "dlib" in args.peers and not args.dlib_model.is_file():
        raise SystemExit(
            f"error: no dlib model at {args.dlib_model} (apt-get install libdlib-data)"
        )
    started = time.perf_counter()

    # bench_conditions sits beside this file; benchmarks/ is not a package.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_conditions import CONDITIONS

    from vidkeys.training.data import load_images, read_keypoints_csv, split_people
    from vidkeys.training.metrics import LEFT_EYE_OUTER, RIGHT_EYE_OUTER

    samples = read_keypoints_csv(args.data / "training_frames_keypoints.csv")
    train, val = split_people(samples)
    held_out = [samples[i] for i in val][: args.limit or None]
    images = load_images(held_out, args.data / "training")
    arrays: dict[str, np.ndarray] = {}
    groups, peers, labels = [], [], {}
    for name, condition in CONDITIONS.items():
        if args.only and name not in args.only:
            continue
        rng = np.random.default_rng(0)  # as bench_conditions seeds each condition
        changed = [condition(im, s.points, rng) for im, s in zip(images, held_out, strict=True)]
        pack(arrays, name, [im for im, _ in changed])
        labels[name] = np.stack([p for _, p in changed])
        arrays[f"{name}__centres"] = labels[name].mean(axis=1)
        groups.append(name)
        peers.append(",".join(args.peers))
    if "mediapipe" in args.peers:
        if args.fit:
            train = sorted(np.random.default_rng(0).choice(train, args.fit, replace=False))
        fit_samples = [samples[i] for i in train]
        pack(arrays, TRAIN, load_images(fit_samples, args.data / "training"))
        labels[TRAIN] = np.stack([s.points for s in fit_samples])
        groups.append(TRAIN)
        peers.append("mediapipe")
    arrays["groups"], arrays["peers"] = np.array(groups), np.array(peers)

    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, **arrays)
        del arrays
        print(f"peers' worker: {args.python}", flush=True)
        log = Path(tmp) / "worker.log"
        with log.open("w") as err:
            env = {**os.environ, "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "3"}
            cmd = [args.python, __file__, "--worker", str(src), str(dst)]
            cmd += ["--dlib-model", str(args.dlib_model)]
            proc = subprocess.run(cmd, stderr=err, env=env, check=False)
        if proc.returncode:
            sys.stderr.write(log.read_text()[-4000:])
            raise SystemExit(f"error: the peers' worker exited with {proc.returncode}")
        out = dict(np.load(dst))

    versions = dict(v.split("=", 1) for v in out["versions"].tolist())
    n = len(held_out)
    mesh_map = None
    if "mediapipe" in args.peers:
        train_mesh, train_labels = out[f"{TRAIN}__mediapipe"], labels[TRAIN]
        # Fit only on faces FaceMesh found where the labels are (eye midpoints
        # within an eye distance).
        eyes = train_labels[:, [LEFT_EYE_OUTER, RIGHT_EYE_OUTER]]
        iod = np.linalg.norm(eyes[:, 0] - eyes[:, 1], axis=1)
        mid = train_mesh[:, MESH_EYES].mean(axis=1)
        near = np.linalg.norm(mid - eyes.mean(axis=1), axis=1) < iod
        mesh_map = MeshTo68(train_mesh[near], train_labels[near])
        fitted = f"{int(near.sum())} of {len(near)} training-people faces"
    for peer in args.peers:
        if peer == "mediapipe":
            title = f"MediaPipe FaceMesh {versions[peer]} (468 points mapped to 68 on {fitted})"
        else:
            title = f"dlib {versions[peer]} HOG detector + shape_predictor_68_face_landmarks"
        print(f"\n{title}; {n} held-out faces")
        print(f"{'condition':18s} {'missed':>7s} {'NME':>6s} {'fail':>6s} {'ms/face':>8s}")
        for name in groups:
            if name == TRAIN:
                continue
            points = out[f"{name}__{peer}"]
            if peer == "mediapipe":
                found = np.isfinite(points[:, 0, 0])
                mapped = np.full((n, 68, 2), np.nan)
                if found.any():
                    mapped[found] = mesh_map(points[found])
                points = mapped
            missed, nme_mean, fail = score(points, labels[name])
            ms = 1000 * float(out[f"{name}__{peer}_s"]) / n
            print(
                f"{name:18s} {100 * missed / n:6.1f}% {100 * nme_mean:5.2f}% "
                f"{100 * fail:5.1f}% {ms:8.1f}"
            )
    print(f"\nwall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
