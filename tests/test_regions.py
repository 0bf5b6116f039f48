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
    EYE_CORNERS,
    EYE_SIZE,
    cut_regions,
    openings,
    patch_points,
    place_regions,
    region_matrices,
    shared_refiner,
)
from vidkeys.training.closures import close_eye, close_mouth, open_mouth, shift_gaze
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


def test_the_stage_moves_lids_across_the_eye_and_corners_anywhere() -> None:
    """Lid points keep the face network's place along the eye and take the network's
    opening; the corners, which the opening is measured against, are the network's."""
    rng = np.random.default_rng(2)
    init, placed = rng.uniform(0, EYE_SIZE, (2, 4, 6, 2))
    out = openings(init, placed, EYE_CORNERS)
    lids = [1, 2, 4, 5]
    assert np.array_equal(out[:, lids, 0], init[:, lids, 0])
    assert np.array_equal(out[:, lids, 1], placed[:, lids, 1])
    assert np.array_equal(out[:, EYE_CORNERS], placed[:, EYE_CORNERS])


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


def drawn_eye() -> tuple[np.ndarray, np.ndarray]:
    """A bright eye between two lid curves with a dark iris in its middle, and its six
    points as a right eye (outer corner, upper lid, inner corner, lower lid)."""
    patch = np.full((EYE_SIZE, EYE_SIZE), 150, np.uint8)
    pts = np.array([[10, 24], [19, 19], [29, 19], [38, 24], [29, 29], [19, 29]], float)
    cv2.fillPoly(patch, [pts.astype(np.int32)], 230)
    cv2.circle(patch, (24, 24), 5, 30, -1)
    return patch, pts


def test_an_eye_looks_aside_and_keeps_its_lids() -> None:
    patch, pts = drawn_eye()
    width = pts[3, 0] - pts[0, 0]
    for amount in (-1.0, 0.6):
        out, moved = shift_gaze(patch, pts, amount)
        cols = np.flatnonzero(out[24] < 80)  # the iris on the middle row
        nominal = 0.25 * width * amount  # at the middle; less toward the corner
        assert 0.7 < (cols.mean() - 24) / nominal < 1.05
        assert np.array_equal(moved, pts)  # the lids stay
        assert np.array_equal(out[:18], patch[:18])  # the skin above does not move
    assert np.array_equal(shift_gaze(patch, pts, 0.0)[0], patch)


def test_opening_a_mouth_wider_moves_the_lower_lip_down() -> None:
    rng = np.random.default_rng(1)
    patch = rng.integers(0, 255, (64, 64)).astype(np.uint8)
    outer_x = [12, 18, 24, 32, 40, 46, 52, 46, 40, 32, 24, 18]
    outer_y = [28, 24, 22, 23, 22, 24, 28, 33, 35, 36, 35, 33]
    inner_x, inner_y = [20, 26, 32, 38, 44, 38, 32, 26], [28, 26, 25, 26, 28, 30, 31, 30]
    lips = np.c_[outer_x + inner_x, outer_y + inner_y].astype(float)
    gap = lambda p: p[[19, 18, 17], 1] - p[[13, 14, 15], 1]  # noqa: E731
    _, moved = open_mouth(patch, lips, 1.0)
    assert np.allclose(gap(moved), 2 * gap(lips), atol=0.5)
    assert np.array_equal(moved[:7], lips[:7])  # the upper lip and corners stay
    assert (moved[8:11, 1] > lips[8:11, 1]).all()  # the outer lower lip goes down too
    shut = lips.copy()
    shut[17:, 1] = shut[[15, 14, 13], 1]
    assert np.array_equal(open_mouth(patch, shut, 2.0)[1], shut)  # a shut mouth stays shut


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
