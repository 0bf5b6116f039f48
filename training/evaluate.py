"""`vidkeys eval`: accuracy of a weights file on a labelled data set.

``boxes="haar"`` measures what a user gets: the Haar detector finds the face,
the shipped crop rule cuts it, the CNN places the points. A face Haar misses
counts as a failure. ``boxes="oracle"`` crops from the labelled points instead
and so measures the CNN alone. ``mirror=True`` evaluates on left-right
mirrored copies of the images (labels mirrored and swapped to match): a
check of how evenly a model treats both sides of a face.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidkeys.crop import box_from_points, cut_faces, to_frame
from vidkeys.errors import VidkeysError
from vidkeys.predictor import KeypointPredictor
from vidkeys.training.augment import flip_points
from vidkeys.training.data import (
    Sample,
    cached_haar_boxes,
    load_images,
    read_keypoints_csv,
    split_people,
)
from vidkeys.training.metrics import auc, failure_rate, nme

SPLITS = ("all", "val")
BOX_SOURCES = ("haar", "oracle")


def evaluate(
    csv_path: Path | str,
    images_dir: Path | str,
    split: str = "all",
    weights: Path | str | None = None,
    boxes: str = "haar",
    device: str = "auto",
    batch_size: int = 256,
    mirror: bool = False,
) -> dict:
    """Return n, missed, NME mean/median, failure rate and AUC@10% as a dict."""
    if split not in SPLITS:
        raise VidkeysError(f"unknown split {split!r}: use {' or '.join(SPLITS)}")
    if boxes not in BOX_SOURCES:
        raise VidkeysError(f"unknown box source {boxes!r}: use {' or '.join(BOX_SOURCES)}")
    predictor = KeypointPredictor(weights, device)
    samples = read_keypoints_csv(csv_path)
    if split == "val":
        _, keep = split_people(samples)
        samples = [samples[i] for i in keep]
    images = load_images(samples, images_dir)
    if mirror:
        samples = [
            Sample(s.name, flip_points(s.points, im.shape[1]))
            for s, im in zip(samples, images, strict=True)
        ]
        images = [np.ascontiguousarray(im[:, ::-1]) for im in images]
    if boxes == "haar":
        found = cached_haar_boxes(csv_path, images, samples)
    else:
        found = [box_from_points(s.points) for s in samples]
    hit = [i for i, b in enumerate(found) if b is not None]
    size = predictor.crop_size
    pred = []
    for start in range(0, len(hit), batch_size):
        chunk = hit[start : start + batch_size]
        crops, mats = cut_faces([images[i] for i in chunk], [found[i] for i in chunk], size)
        pts, _, _ = predictor(crops)
        pred += list(to_frame(pts, mats))
    errors = np.full(len(samples), np.inf)
    if hit:
        errors[hit] = nme(np.stack(pred), np.stack([samples[i].points for i in hit]))
    found_errors = errors[np.isfinite(errors)]
    return {
        "n": len(samples),
        "missed": len(samples) - len(hit),
        "nme_mean": float(found_errors.mean()) if found_errors.size else float("nan"),
        "nme_median": float(np.median(found_errors)) if found_errors.size else float("nan"),
        "failure_rate": failure_rate(errors),
        "auc_10": auc(errors),
        "split": split,
        "boxes": boxes,
        "mirror": mirror,
    }


def format_report(result: dict) -> str:
    """Human-readable lines for the terminal."""
    return "\n".join(
        [
            f"faces       {result['n']} ({result['split']} split, {result['boxes']} boxes"
            + (", mirrored)" if result["mirror"] else ")"),
            f"missed      {result['missed']} (detector found no face; counted as failures)",
            f"NME mean    {100 * result['nme_mean']:.2f} %  (of outer-eye-corner distance)",
            f"NME median  {100 * result['nme_median']:.2f} %",
            f"failures    {100 * result['failure_rate']:.2f} %  (NME > 10 % or missed)",
            f"AUC@10%     {result['auc_10']:.4f}",
        ]
    )
