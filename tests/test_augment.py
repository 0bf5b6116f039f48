"""Horizontal flip with the 68-point label swap, and the training crops: the run-time
rule, rolled faces, box noise and real video's conditions."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tests.helpers import draw_face, template_points
from vidkeys.faces.crop import (
    ROLL_KEPT,
    apply_matrix,
    crop_box_from_points,
    cut_faces,
    roll_degrees,
)
from vidkeys.keypoints.mirror import FLIP_INDEX, LABEL_SHIFT, flip_points
from vidkeys.training.augment import AugmentConfig, cover, rotation_about, training_crop


def test_flip_twice_is_identity() -> None:
    pts = np.random.default_rng(1).uniform(0, 100, (68, 2))
    np.testing.assert_allclose(flip_points(flip_points(pts, 100), 100), pts)
    assert sorted(FLIP_INDEX.tolist()) == list(range(68))


def test_flip_moves_left_eye_to_right_eye() -> None:
    pts = template_points() * 30 + 50  # image-left eye is 36-41, image-right 42-47
    flipped = flip_points(pts, 100)
    # After mirroring, the new outer left corner (36) is where the old right one (45) mirrored to.
    np.testing.assert_allclose(flipped[36], [99 - pts[45, 0], pts[45, 1]])
    np.testing.assert_allclose(flipped[48], [99 - pts[54, 0], pts[54, 1]])  # mouth corners
    assert flipped[36, 0] < flipped[45, 0]  # labels stay left-to-right in the image
    assert flipped[0, 0] < flipped[16, 0]


def test_flip_keeps_the_labels_lean() -> None:
    """Labels that lean right of a symmetric face lean right after mirroring too.

    LABEL_SHIFT is the gap between the labels and their mirror image mapped
    back, twice the lean from the symmetric face.
    """
    pts = template_points() * 30 + 50
    symmetric = (pts + flip_points(pts, 100)) / 2
    np.testing.assert_allclose(flip_points(symmetric, 100), symmetric, atol=1e-9)
    eye = np.linalg.norm(symmetric[45] - symmetric[36])
    lean = np.array([LABEL_SHIFT * eye / 2, 0.0])
    np.testing.assert_allclose(flip_points(symmetric + lean, 100, LABEL_SHIFT), symmetric + lean)
    # Without the shift, the mirrored labels lean the other way.
    np.testing.assert_allclose(flip_points(symmetric + lean, 100), symmetric - lean)
    twice = flip_points(flip_points(pts, 100, LABEL_SHIFT), 100, LABEL_SHIFT)
    np.testing.assert_allclose(twice, pts, atol=1e-9)


#: No perturbation at all: the crop the run-time rule cuts, nothing else.
EXACT = AugmentConfig(
    max_roll=0.0,
    detector_noise=(0.0, 0.0, 0.0, 0.0),
    followed_prob=1.0,
    flip=False,
    brightness=0,
    contrast=(1.0, 1.0),
    blur_prob=0,
    noise_max=0,
    negative_prob=0,
    small_prob=0,
    motion_prob=0,
    cover_prob=0,
    dark_prob=0,
    jpeg_prob=0,
)


def _face(degrees: float = 0.0, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A drawn face turned ``degrees`` in the image plane, and its points."""
    pts = template_points() @ rotation_about(degrees, np.zeros(2))[:2, :2].T * 35 + 64
    return draw_face(pts, 128, np.random.default_rng(seed)), pts


def test_training_and_run_time_cut_the_same_crop_for_the_same_points() -> None:
    for degrees in (0.0, 35.0, -50.0):
        image, pts = _face(degrees)
        patch, crop_pts, label = training_crop(image, pts, np.random.default_rng(0), EXACT, 112)
        crops, mats = cut_faces([image], [crop_box_from_points(pts)], 112)
        assert label == 1.0
        np.testing.assert_array_equal(patch, crops[0])
        np.testing.assert_allclose(crop_pts, apply_matrix(mats[0], pts), atol=1e-4)


def test_training_crops_are_upright_whatever_the_roll() -> None:
    """A followed face's crop, from its points, keeps at most ROLL_KEPT of a roll up
    to 60 degrees; a new face's keeps what its five points do not see."""
    cfg = replace(EXACT, max_roll=60.0)
    rng = np.random.default_rng(1)
    image, pts = _face(0.0)
    tilts = [roll_degrees(training_crop(image, pts, rng, cfg, 112)[1]) for _ in range(40)]
    assert max(np.abs(tilts)) <= ROLL_KEPT + 1e-3  # float32 points
    assert np.ptp(tilts) > ROLL_KEPT  # some turned one way, some the other
    new = replace(cfg, followed_prob=0.0)
    tilts = [roll_degrees(training_crop(image, pts, rng, new, 112)[1]) for _ in range(40)]
    assert ROLL_KEPT + 15 < max(np.abs(tilts)) <= 60.0


def test_training_crop_points_follow_the_pixels() -> None:
    """Each point of the augmented crop sits on its bright blob (labels taken as unbiased),
    with the roll, box noise and mirroring of training."""
    cfg = replace(EXACT, max_roll=60.0, detector_noise=AugmentConfig().detector_noise, flip=True)
    cfg = replace(cfg, flip_shift=0.0)
    rng = np.random.default_rng(3)
    image, pts = _face(20.0)
    for _ in range(8):
        patch, crop_pts, _ = training_crop(image, pts, rng, cfg)
        inside = np.all((crop_pts >= 2) & (crop_pts <= 93), axis=1)
        values = patch[
            crop_pts[inside, 1].round().astype(int), crop_pts[inside, 0].round().astype(int)
        ]
        assert np.mean(values > 150) > 0.9


def test_each_condition_changes_the_pixels_and_keeps_the_points() -> None:
    image, pts = _face(0.0)
    plain, plain_pts, _ = training_crop(image, pts, np.random.default_rng(7), EXACT, 112)
    for name in ("small_prob", "motion_prob", "cover_prob", "dark_prob", "jpeg_prob"):
        cfg = replace(EXACT, **{name: 1.0})
        patch, crop_pts, _ = training_crop(image, pts, np.random.default_rng(7), cfg, 112)
        np.testing.assert_allclose(crop_pts, plain_pts)
        assert np.abs(patch.astype(int) - plain.astype(int)).mean() > 2, name


def test_a_cover_lies_over_mouth_or_eyes() -> None:
    image, pts = _face(0.0)
    _, crop_pts, _ = training_crop(image, pts, np.random.default_rng(0), EXACT, 112)
    plain, _, _ = training_crop(image, pts, np.random.default_rng(0), EXACT, 112)
    rng = np.random.default_rng(2)
    for _ in range(10):
        covered = cover(plain, crop_pts, rng)
        changed = np.abs(covered.astype(int) - plain.astype(int)) > 30
        ys, _ = np.nonzero(changed)
        mouth = crop_pts[48:68, 1].mean()
        eyes = crop_pts[36:48, 1].mean()
        centre = ys.mean()
        assert min(abs(centre - mouth), abs(centre - eyes)) < abs(mouth - eyes) / 2 + 12


def test_occlusion_covers_part_of_the_crop_and_keeps_the_points() -> None:
    image, pts = _face(0.0, seed=5)
    covered = replace(EXACT, occlude_prob=1.0)
    a, pa, _ = training_crop(image, pts, np.random.default_rng(7), EXACT)
    b, pb, _ = training_crop(image, pts, np.random.default_rng(7), covered)
    np.testing.assert_allclose(pa, pb)
    changed = np.abs(a.astype(int) - b.astype(int)) > 40
    assert 0.005 < changed.mean() < 0.3  # one rectangle, 10-40 % of the side each way
