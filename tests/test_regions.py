"""The eye and mouth stage: patch geometry, the closure warps, and shut eyes and lips
read shut on real faces (held-out labelled people, real clips)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

import vidkeys
from vidkeys.keypoints.features import eye_opening as ear
from vidkeys.keypoints.features import lip_gap
from vidkeys.keypoints.predictor import KeypointPredictor
from vidkeys.keypoints.regions import (
    EYE_SIZE,
    cut_regions,
    patch_points,
    place_regions,
    region_matrices,
    shared_refiner,
)
from vidkeys.training.closures import close_eye, close_mouth
from vidkeys.training.data import held_out_people
from vidkeys.training.evaluate import face_boxes, place_points

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def astronaut() -> tuple[np.ndarray, np.ndarray]:
    """The sample photo (grey) and vidkeys' points on its face."""
    image = cv2.imread(str(SAMPLES / "astronaut.png"), cv2.IMREAD_GRAYSCALE)
    frame = next(iter(vidkeys.process([image], regions=False)))
    return image, frame.faces.points


def test_patch_points_map_back_to_the_image() -> None:
    _, points = astronaut()
    eyes, mouths, eye_m, mouth_m = cut_regions(astronaut()[0], points)
    assert eyes.shape == (2, EYE_SIZE, EYE_SIZE) and len(mouths) == 1
    eye_pts, mouth_pts = patch_points(points)
    back = place_regions(points, eye_pts, mouth_pts, eye_m, mouth_m)
    np.testing.assert_allclose(back, points, atol=1e-6)


def test_left_eye_patch_is_mirrored_onto_a_right_eye() -> None:
    _, points = astronaut()
    eye_pts, _ = patch_points(points)
    # Both eyes' outer corner lands on the patch's left, the inner corner on its right.
    assert (eye_pts[:, 0, 0] < eye_pts[:, 3, 0]).all()
    right, left = region_matrices(points)[0]
    assert np.linalg.det(right[:, :2]) > 0 > np.linalg.det(left[:, :2])


def test_refined_points_stay_on_the_face() -> None:
    image, points = astronaut()
    refined = shared_refiner()(image, points)
    iod = np.linalg.norm(points[0, 36] - points[0, 45])
    moved = np.linalg.norm(refined - points, axis=-1)[0]
    assert moved[:36].max() == 0  # only eyes and mouth are placed again
    assert moved[36:].max() < 0.15 * iod


def test_closing_an_eye_brings_its_lids_together() -> None:
    image, points = astronaut()
    eyes, _, _, _ = cut_regions(image, points)
    eye_pts, _ = patch_points(points)
    shut, moved = close_eye(eyes[0], eye_pts[0], 1.0)
    opening = lambda p: (p[5, 1] - p[1, 1] + p[4, 1] - p[2, 1]) / 2  # noqa: E731
    assert opening(moved) < 0.2 * opening(eye_pts[0])
    assert np.abs(shut.astype(int) - eyes[0]).mean() > 1.0  # the pixels changed with it
    _, moved_half = close_eye(eyes[0], eye_pts[0], 0.5)
    assert opening(moved) < opening(moved_half) < opening(eye_pts[0])


def test_closing_a_mouth_brings_the_inner_lips_together() -> None:
    rng = np.random.default_rng(0)
    patch = rng.integers(0, 255, (64, 64)).astype(np.uint8)
    lips = np.zeros((20, 2))
    lips[:12] = np.c_[np.linspace(12, 52, 12), 32 + 10 * np.sin(np.linspace(0, 2 * np.pi, 12))]
    lips[12:17] = np.c_[np.linspace(18, 46, 5), [32, 28, 27, 28, 32]]
    lips[17:] = np.c_[[40, 32, 24], [37, 38, 37]]
    _, moved = close_mouth(patch, lips, 1.0)
    assert np.abs(moved[[13, 14, 15], 1] - moved[[19, 18, 17], 1]).max() < 0.5
    assert np.abs(lips[[13, 14, 15], 1] - lips[[19, 18, 17], 1]).min() > 8


def test_held_out_shut_eyes_and_lips_read_shut(real_data: Path) -> None:
    """People no training step saw, labelled with shut eyes or shut lips: the eye and
    mouth stage reads them far more shut than the face network alone does."""
    samples, images = held_out_people(real_data)
    labels = np.stack([s.points for s in samples]).astype(float)
    shut_eyes, shut_lips = ear(labels) < 0.15, lip_gap(labels) < 0.01
    keep = np.flatnonzero(shut_eyes | shut_lips)
    ims, subset = [images[i] for i in keep], [samples[i] for i in keep]
    boxes = face_boxes(ims, subset, "oracle")
    predictor = KeypointPredictor(device="cpu")
    plain = place_points(predictor, ims, boxes)[0]
    refined = place_points(predictor, ims, boxes, regions=shared_refiner())[0]
    eyes, lips = shut_eyes[keep], shut_lips[keep]
    assert eyes.sum() >= 3 and lips.sum() >= 30
    # The labels read 0.13; the face network alone 0.22, its eyes open.
    assert ear(refined[eyes]).mean() < 0.20 < ear(plain[eyes]).mean()
    assert ear(refined[eyes]).mean() < ear(plain[eyes]).mean() - 0.025
    # Labelled gap 0; the face network alone 0.026.
    assert np.median(lip_gap(refined[lips])) <= 0.021 < np.median(lip_gap(plain[lips]))


def test_a_blink_survives_smoothing() -> None:
    """A still, noisy face whose lids drop a little for three frames: the smoothed
    points keep most of the drop (the face's own filter kept 72 %), while the rest
    of the face stays as smooth as before."""
    from vidkeys.config import TrackerConfig
    from vidkeys.faces.track import Tracker

    _, points = astronaut()
    tracker = Tracker(TrackerConfig())
    track_filter = tracker._new_filter()
    iod = np.linalg.norm(points[0, 36] - points[0, 45])
    rng = np.random.default_rng(0)
    seen = []
    for i in range(40):
        pts = points[0] + rng.normal(0, 0.002 * iod, points[0].shape)
        if 30 <= i < 33:  # the upper lids come down by a quarter of the eye's opening
            pts[[37, 38, 43, 44], 1] += 0.03 * iod
        seen.append(track_filter(pts, i / 30, float(iod * 2)))
    seen = np.array(seen)
    dip = (seen[30:33, [37, 38, 43, 44], 1] - points[0, [37, 38, 43, 44], 1]).max() / iod
    assert dip > 0.85 * 0.03
    still = seen[10:30, :36].std(axis=0).mean() / iod
    assert still < 0.001


VIDEOS2 = os.environ.get("VIDKEYS_VIDEOS2")


@pytest.mark.skipif(not VIDEOS2, reason="VIDKEYS_VIDEOS2 is not set")
def test_blinks_on_a_real_clip_read_shut() -> None:
    """A real clip with blinks checked by eye and shut lips throughout: each blink's
    frames read far less open than the clip's median, the lips meet."""
    folder = Path(VIDEOS2 or "")
    truth = json.loads((folder / "truth" / "lp_d9.json").read_text())
    rows = []
    for frame in vidkeys.process(str(folder / truth["clip"]), end=8.0):
        pts = frame.faces.points
        rows.append(pts[0] if len(pts) else np.full((68, 2), np.nan))
    pts = np.array(rows)
    e, gap = ear(pts), lip_gap(pts)
    median = np.nanmedian(e)
    blinks = [b for b in truth["blinks"] if b[1] < len(pts)]
    assert len(blinks) >= 4
    for first, last in blinks:
        assert np.nanmin(e[first : last + 1]) < 0.6 * median, (first, last)
    closed = np.zeros(len(pts), bool)
    for first, last in truth["mouth_closed"]:
        closed[first : last + 1] = True
    assert np.nanmedian(gap[closed]) <= 0.02
