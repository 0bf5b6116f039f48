"""Read a keypoint data set: a CSV of 68 points per image plus its image folder.

Format (youtube-faces-68 and any folder like it): a header row, then one row
per image: the file name, then 136 numbers x0, y0, x1, y1, ... in iBUG
68-point order. File names are ``PERSON_NAME_KK.jpg``; the person is what the
validation split holds out.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vidkeys.config import DetectorConfig
from vidkeys.errors import VidkeysError
from vidkeys.faces.crop import box_from_points
from vidkeys.faces.haar import HaarDetector
from vidkeys.keypoints.weights import N_POINTS
from vidkeys.outputs.progress import iterate

#: Data-set images are small (72-494 px) and mostly face: Haar searches them
#: at full resolution, as when the crop rule and the miss rate were measured.
DATASET_DETECTOR = DetectorConfig(detect_width=4096)
#: Share of people held out for validation.
VAL_FRACTION = 0.10
_SUFFIX = re.compile(r"_\d+$")


@dataclass(frozen=True)
class Sample:
    """One labelled image: its file name and 68 ``(x, y)`` points in pixels."""

    name: str
    points: np.ndarray

    @property
    def person(self) -> str:
        """Identity from ``PERSON_NAME_KK.jpg``: the name without the frame number."""
        return _SUFFIX.sub("", Path(self.name).stem)


#: Outer eye corners closer than this (pixels) are a broken label, not a face:
#: every error is divided by their distance.
MIN_EYE_DISTANCE = 1.0


def read_keypoints_csv(path: Path | str) -> list[Sample]:
    """Parse a keypoints CSV; any malformed row is an error naming file and row."""
    path = Path(path)
    if not path.is_file():
        raise VidkeysError(f"keypoints CSV not found: {path}")
    samples: list[Sample] = []
    try:
        with path.open(newline="") as f:
            rows = csv.reader(f)
            header = next(rows, None)
            if header is None:
                raise VidkeysError(f"{path}: empty file, expected a header row")
            for lineno, row in enumerate(rows, start=2):
                if not row or not any(cell.strip() for cell in row):
                    continue
                if len(row) != 1 + 2 * N_POINTS:
                    raise VidkeysError(
                        f"{path}:{lineno}: expected a file name and {2 * N_POINTS} numbers, "
                        f"got {len(row)} values"
                    )
                try:
                    values = np.array([float(v) for v in row[1:]], dtype=np.float64)
                except ValueError as exc:
                    raise VidkeysError(f"{path}:{lineno}: not a number ({exc})") from exc
                if not np.all(np.isfinite(values)):
                    raise VidkeysError(f"{path}:{lineno}: non-finite coordinate")
                points = values.reshape(N_POINTS, 2)
                if np.linalg.norm(points[36] - points[45]) < MIN_EYE_DISTANCE:
                    raise VidkeysError(
                        f"{path}:{lineno} ({row[0].strip()}): the outer eye corners (points "
                        "36 and 45) coincide: errors are measured in their distance"
                    )
                samples.append(Sample(row[0].strip(), points))
    except UnicodeDecodeError as exc:
        raise VidkeysError(f"{path}: not a text CSV file") from exc
    except csv.Error as exc:
        raise VidkeysError(f"{path}: malformed CSV ({exc})") from exc
    if not samples:
        raise VidkeysError(f"{path}: no data rows")
    return samples


def split_people(
    samples: Sequence[Sample], val_fraction: float = VAL_FRACTION
) -> tuple[list[int], list[int]]:
    """Deterministic split holding out whole people: ``(train indices, val indices)``.

    People are ordered by a hash of their name, so the split does not depend
    on row order and a person never lands on both sides.
    """
    people = sorted({s.person for s in samples}, key=lambda p: hashlib.sha1(p.encode()).digest())
    n_val = max(1, round(len(people) * val_fraction)) if len(people) > 1 else 0
    val_people = set(people[:n_val])
    train = [i for i, s in enumerate(samples) if s.person not in val_people]
    val = [i for i, s in enumerate(samples) if s.person in val_people]
    return train, val


def some_people(samples: Sequence[Sample], indices: Sequence[int], fraction: float) -> list[int]:
    """The images (of ``indices``) of a share ``fraction`` of their people, at least one.

    For learning curves: the people are taken in the order of a hash of their
    name, like :func:`split_people`'s, so a smaller share is a subset of a
    larger one and the held-out people are never touched.
    """
    people = sorted(
        {samples[i].person for i in indices}, key=lambda p: hashlib.sha1(p.encode()).digest()
    )
    keep = set(people[: max(1, round(len(people) * fraction))])
    return [i for i in indices if samples[i].person in keep]


def load_gray(path: Path) -> np.ndarray:
    """Read an image as 8-bit grayscale; an unreadable file is an error naming it."""
    if not path.is_file():
        raise VidkeysError(f"image not found: {path}")
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise VidkeysError(f"cannot read image {path}: not a supported image file")
    return image


def load_images(samples: Sequence[Sample], images_dir: Path | str) -> list[np.ndarray]:
    """Load every sample's image as grayscale (the data set fits in memory)."""
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise VidkeysError(f"images folder not found: {images_dir}")
    with ThreadPoolExecutor(4) as pool:
        return list(
            iterate(
                pool.map(lambda s: load_gray(images_dir / s.name), samples),
                "load images",
                len(samples),
                "image",
            )
        )


def match_detection(boxes: np.ndarray, points: np.ndarray) -> np.ndarray | None:
    """Pick the detected box that belongs to the labelled face, or ``None``.

    The nearest box counts only if its centre lies inside the points' bounding
    box and its width is within a factor of two of the width Haar would give
    for those points; otherwise Haar missed this face.
    """
    if len(boxes) == 0:
        return None
    expected = box_from_points(points)
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    centres = boxes[:, :2] + boxes[:, 2:4] / 2
    target = expected[:2] + expected[2:] / 2
    best = int(np.argmin(np.linalg.norm(centres - target, axis=1)))
    cx, cy = centres[best]
    ratio = boxes[best, 2] / expected[2]
    if x0 <= cx <= x1 and y0 <= cy <= y1 and 0.5 <= ratio <= 2.0:
        return boxes[best]
    return None


def haar_boxes(
    images: Sequence[np.ndarray], samples: Sequence[Sample], detector: HaarDetector | None = None
) -> list[np.ndarray | None]:
    """Run the detector on every image; the matched box per sample, ``None`` if missed.

    One cascade is not thread-safe, and OpenCV already spreads one detection
    over the cores, so images go through one at a time.
    """
    detector = detector or HaarDetector(DATASET_DETECTOR)
    found = [detector(im) for im in iterate(images, "detect faces", len(images), "image")]
    return [match_detection(b, s.points) for b, s in zip(found, samples, strict=True)]


def cached_haar_boxes(
    csv_path: Path | str, images: Sequence[np.ndarray], samples: Sequence[Sample]
) -> list[np.ndarray | None]:
    """:func:`haar_boxes`, remembered per data set in ``~/.cache/vidkeys``.

    Detection on 3,500 images takes about two minutes here and never changes
    for the same CSV, images and cascade settings, so repeated training and
    evaluation runs read it back. The key covers the CSV's and every image's
    bytes-derived shape, so an edited data set is detected afresh.
    """
    key = hashlib.sha256()
    key.update(dataset_checksum(csv_path).encode())
    key.update(repr(DATASET_DETECTOR).encode())
    for im in images:
        key.update(np.asarray(im.shape).tobytes())
        key.update(im[:: max(1, im.shape[0] // 8), :: max(1, im.shape[1] // 8)].tobytes())
    cache = cache_folder()
    path = cache / f"haar-{key.hexdigest()[:20]}.npy" if cache else None
    if path is None:  # no home and no XDG_CACHE_HOME: detect every time
        return haar_boxes(images, samples)
    if path.is_file():
        try:
            arr = np.load(path)
            if arr.ndim == 2 and arr.shape == (len(images), 4):
                return [None if np.isnan(row[0]) else row for row in arr]
        except (OSError, ValueError, EOFError):
            pass  # a damaged cache file: detect again and rewrite it
    boxes = haar_boxes(images, samples)
    arr = np.array([b if b is not None else np.full(4, np.nan) for b in boxes])
    try:
        cache.mkdir(parents=True, exist_ok=True)
        np.save(path.with_suffix(".part.npy"), arr)
        os.replace(path.with_suffix(".part.npy"), path)
    except OSError:
        pass  # a read-only home only costs the time to detect again
    return boxes


def cache_folder() -> Path | None:
    """``$XDG_CACHE_HOME/vidkeys``, else ``~/.cache/vidkeys``; None when neither is known
    (no ``HOME``): caching is only a saving, never a reason to fail."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # HOME unset and no passwd entry
            return None
    return Path(base) / "vidkeys"


def boxes_or_points(
    samples: Sequence[Sample], detected: Sequence[np.ndarray | None]
) -> list[np.ndarray]:
    """Haar's box where it found the face, else the Haar-like box from the points:
    the boxes training crops from and teachers place points in."""
    return [
        b if b is not None else box_from_points(s.points)
        for s, b in zip(samples, detected, strict=True)
    ]


def held_out_people(data: Path | str, limit: int = 0) -> tuple[list[Sample], list[np.ndarray]]:
    """The held-out people's samples and images of a data-set folder (its CSV and
    ``training/``), the first ``limit`` of them (0: all): what benchmarks run on."""
    data = Path(data)
    samples = read_keypoints_csv(data / "training_frames_keypoints.csv")
    _, val = split_people(samples)
    samples = [samples[i] for i in val][: limit or None]
    return samples, load_images(samples, data / "training")


def held_out_faces(
    csv_path: Path | str, images_dir: Path | str
) -> tuple[list[Sample], list[np.ndarray], list[np.ndarray]]:
    """The held-out people's samples, images and Haar boxes, for those Haar finds."""
    samples = read_keypoints_csv(csv_path)
    _, val = split_people(samples)
    samples = [samples[i] for i in val]
    images = load_images(samples, images_dir)
    found = cached_haar_boxes(csv_path, images, samples)
    hit = [i for i, b in enumerate(found) if b is not None]
    return [samples[i] for i in hit], [images[i] for i in hit], [found[i] for i in hit]


def training_people_faces(
    csv_path: Path | str, images_dir: Path | str, n: int | None = None, seed: int = 0
) -> tuple[list[Sample], list[np.ndarray], list[np.ndarray]]:
    """The training people's samples, images and boxes (Haar's, else from the labels).

    ``n``: that many faces drawn at random (``seed``), in file order; None: all.
    Held-out people are left out, so validation stays unseen by every step.
    """
    samples = read_keypoints_csv(csv_path)
    train, _ = split_people(samples)
    if n is not None:
        train = sorted(np.random.default_rng(seed).choice(train, min(n, len(train)), replace=False))
    chosen = [samples[i] for i in train]
    images = load_images(chosen, images_dir)
    return chosen, images, boxes_or_points(chosen, cached_haar_boxes(csv_path, images, chosen))


def weights_step_parser(description: str) -> argparse.ArgumentParser:
    """The arguments of a step that works on a trained weights file with the data set:
    ``--csv``, ``--images`` and ``--model`` (the shape correction, the 8-bit graph)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--csv", type=Path, required=True, help="training_frames_keypoints.csv")
    parser.add_argument("--images", type=Path, required=True, help="the images' folder")
    parser.add_argument("--model", type=Path, required=True, help="weights .pt (its graph beside)")
    return parser


def dataset_checksum(path: Path | str) -> str:
    """sha256 of the keypoints CSV, recorded in the model card."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
