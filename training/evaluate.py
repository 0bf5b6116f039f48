"""`vidkeys eval`: accuracy of a weights file on a labelled data set.

``boxes="haar"`` measures what a user gets: the Haar detector finds the face,
the shipped crop rule cuts it, the CNN places the points, then places them
again from the box of its own points (``passes``, by default the tracker's
``TrackerConfig.new_face_passes``, as every face of a photo or a new face
in a video gets). A face the detector misses counts as a failure.
``boxes="haar"`` is OpenCV's default frontal cascade (upright boxes; the
second pass turns the crop with the face); ``boxes="search"`` is the face
search ``vidkeys`` runs on a photo (``detector``: YuNet by default, its first
crop from its five points; or Haar's video search: frontal ``alt2`` and
profile cascades, small faces in tiles).
``boxes="oracle"`` crops from the labelled points instead and so measures the
CNN alone. ``mirror=True`` evaluates on left-right
mirrored copies of the images (labels mirrored and swapped to match): a
check of how evenly a model treats both sides of a face.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidkeys.config import DetectorConfig, PipelineConfig, TrackerConfig
from vidkeys.errors import VidkeysError
from vidkeys.faces.crop import crop_box_from_points, cut_faces, to_frame
from vidkeys.faces.search import face_search
from vidkeys.keypoints.confidence import SUCCESS_THRESHOLD, landmark_confidence
from vidkeys.keypoints.mirror import flip_points
from vidkeys.keypoints.predictor import KeypointPredictor
from vidkeys.keypoints.regions import RegionRefiner, shared_refiner
from vidkeys.training.data import (
    Sample,
    cached_haar_boxes,
    haar_boxes,
    load_images,
    match_detection,
    read_keypoints_csv,
    split_people,
)
from vidkeys.training.metrics import auc, failure_rate, nme

SPLITS = ("all", "val")
BOX_SOURCES = ("haar", "search", "oracle")


def evaluate(
    csv_path: Path | str,
    images_dir: Path | str,
    split: str = "all",
    weights: Path | str | None = None,
    boxes: str = "haar",
    device: str = "auto",
    batch_size: int = 256,
    mirror: bool = False,
    passes: int = TrackerConfig.new_face_passes,
    mirror_test: bool = PipelineConfig.mirror_test,
    detector: str = DetectorConfig.detector,
    regions: bool = PipelineConfig.regions,
) -> dict:
    """Return n, missed, NME mean/median, failure rate and AUC@10% as a dict.

    ``regions``: place eyes and mouth again with the eye and mouth networks, as
    the pipeline does by default."""
    if split not in SPLITS:
        raise VidkeysError(f"unknown split {split!r}: use {' or '.join(SPLITS)}")
    if passes < 1:
        raise VidkeysError(f"passes must be 1 or more, got {passes}")
    if boxes not in BOX_SOURCES:
        raise VidkeysError(f"unknown box source {boxes!r}: use {' or '.join(BOX_SOURCES)}")
    predictor = KeypointPredictor(weights, device, mirror_test=mirror_test)
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
    refiner = shared_refiner() if regions else None
    result = measure(
        predictor, images, samples, boxes, detector, passes, csv_path, batch_size, refiner
    )
    return {
        **result,
        "split": split,
        "boxes": boxes if boxes != "search" else f"search ({detector})",
        "mirror": mirror,
        "passes": passes,
        "mirror_test": mirror_test,
        "shape_correction": predictor.correction is not None,
        "regions": regions,
    }


def measure(
    predictor: KeypointPredictor,
    images: list[np.ndarray],
    samples: list[Sample],
    boxes: str = "haar",
    detector: str = DetectorConfig.detector,
    passes: int = TrackerConfig.new_face_passes,
    csv_path: Path | str | None = None,
    batch_size: int = 256,
    regions: RegionRefiner | None = None,
) -> dict:
    """Missed faces, NME, failures, AUC and confidence figures of ``images`` against
    their labels, the points placed as vidkeys places a new face's (see :func:`evaluate`).

    ``csv_path`` caches Haar's boxes of a data set beside its CSV (``boxes="haar"``);
    ``batch_size`` is the most crops per CNN call; ``regions`` places eyes and
    mouth again (see :func:`place_points`).
    """
    found = face_boxes(images, samples, boxes, detector, csv_path)
    hit = [i for i, b in enumerate(found) if b is not None]
    pred, conf, raw = [], [], []
    for start in range(0, len(hit), batch_size):
        chunk = hit[start : start + batch_size]
        frame_pts, score, point_conf = place_points(
            predictor,
            [images[i] for i in chunk],
            [found[i] for i in chunk],
            passes,
            regions=regions,
        )
        pred += list(frame_pts)
        conf += list(landmark_confidence(frame_pts, point_conf))
        raw += list(face_confidence(score, point_conf))
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
        **confidence_figures(np.array(conf), errors[hit] if hit else np.zeros(0)),
        # The pipeline's own confidence (lower of face score and mean peak), for comparison.
        "raw_conf_nme_spearman": spearman(np.array(raw), errors[hit] if hit else np.zeros(0)),
    }


def face_boxes(
    images: list[np.ndarray],
    samples: list[Sample],
    boxes: str = "haar",
    detector: str = DetectorConfig.detector,
    csv_path: Path | str | None = None,
) -> list[np.ndarray | None]:
    """Each image's first crop box of its labelled face from ``boxes`` (see
    :func:`evaluate`); None where the detector missed the face."""
    if boxes == "haar":
        if csv_path is not None:
            return cached_haar_boxes(csv_path, images, samples)
        return haar_boxes(images, samples)
    if boxes == "search":
        search = face_search(DetectorConfig(detector=detector))
        return [
            match_detection(search(im).start_boxes(), s.points)
            for im, s in zip(images, samples, strict=True)
        ]
    return [crop_box_from_points(s.points) for s in samples]


def place_points(
    predictor: KeypointPredictor,
    images: list[np.ndarray],
    boxes: list[np.ndarray],
    passes: int = TrackerConfig.new_face_passes,
    batch_size: int | None = None,
    regions: RegionRefiner | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points (image pixels), face scores and point confidences of box ``i`` in image
    ``i``, placed as vidkeys places a new face's: ``passes`` CNN passes, each after
    the first from the box of the previous points, then the eyes and mouth placed
    again by ``regions`` where given (as the pipeline does by default).
    ``batch_size``: most crops per CNN call (None: all), which bounds the network's
    memory."""
    for _ in range(passes):
        crops, mats = cut_faces(images, boxes, predictor.crop_size)
        points, score, point_conf = predictor(crops, batch_size)
        points = to_frame(points, mats)
        boxes = [crop_box_from_points(p) for p in points]
    if regions is not None:
        points = regions(list(images), points)
    return points, score, point_conf


def face_confidence(score: np.ndarray, point_conf: np.ndarray) -> np.ndarray:
    """A face's confidence as the pipeline computes it (lower of face score and mean point one)."""
    return np.minimum(score, point_conf.mean(axis=1))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties)."""
    if len(a) < 3:
        return float("nan")
    ra, rb = _ranks(a), _ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = np.sqrt((ra**2).sum() * (rb**2).sum())
    return float((ra * rb).sum() / den) if den > 0 else float("nan")


def _ranks(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, np.float64)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=np.float64)
    _, inverse = np.unique(values, return_inverse=True)
    sums = np.bincount(inverse, ranks)
    counts = np.bincount(inverse)
    return (sums / counts)[inverse]


def confidence_figures(
    conf: np.ndarray, errors: np.ndarray, cut: float = SUCCESS_THRESHOLD
) -> dict:
    """How well a face's confidence (the CSV's) predicts its NME, on the faces found.

    ``conf_nme_spearman``: rank correlation of confidence and NME (negative
    is good: confident faces have small errors); NME mean and count of the
    faces at or above ``cut`` and below it.
    """
    above, below = errors[conf >= cut], errors[conf < cut]

    def mean(e: np.ndarray) -> float:
        return float(e.mean()) if e.size else float("nan")

    return {
        "conf_nme_spearman": spearman(conf, errors),
        "conf_cut": cut,
        "nme_conf_above": mean(above),
        "nme_conf_below": mean(below),
        "n_conf_above": int(above.size),
        "n_conf_below": int(below.size),
    }


def format_report(result: dict) -> str:
    """Human-readable lines for the terminal."""
    return "\n".join(
        [
            f"faces       {result['n']} ({result['split']} split, {result['boxes']} boxes, "
            f"{result['passes']} pass{'es' if result['passes'] > 1 else ''}"
            + ("" if result["mirror_test"] else ", no mirror test")
            + ("" if result["shape_correction"] else ", no shape correction")
            + ("" if result.get("regions", True) else ", no eye and mouth stage")
            + (", mirrored)" if result["mirror"] else ")"),
            f"missed      {result['missed']} (detector found no face; counted as failures)",
            f"NME mean    {100 * result['nme_mean']:.2f} %  (of outer-eye-corner distance)",
            f"NME median  {100 * result['nme_median']:.2f} %",
            f"failures    {100 * result['failure_rate']:.2f} %  (NME > 10 % or missed)",
            f"AUC@10%     {result['auc_10']:.4f}",
            f"confidence  Spearman {result['conf_nme_spearman']:+.3f} with NME; NME "
            f"{_share(result['nme_conf_above'], result['n_conf_above'])} at >= "
            f"{result['conf_cut']}, {_share(result['nme_conf_below'], result['n_conf_below'])} "
            f"below; the pipeline's raw score: Spearman {result['raw_conf_nme_spearman']:+.3f}",
        ]
    )


def _share(nme_mean: float, n: int) -> str:
    """A group of faces' mean NME and size, for the report ("no faces" when empty)."""
    return f"{100 * nme_mean:.2f} % ({n} faces)" if n else "no faces"
