"""Horizontal flip with the 68-point label swap, and the augmented crops."""

from __future__ import annotations

import numpy as np

from tests.helpers import draw_face, template_points
from vidkeys.faces.crop import box_from_points
from vidkeys.keypoints.mirror import FLIP_INDEX, LABEL_SHIFT, flip_points
from vidkeys.training.augment import AugmentConfig, training_crop


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


def test_training_crop_points_follow_the_pixels() -> None:
    """Each point of the augmented crop sits on its bright blob (labels taken as unbiased)."""
    rng = np.random.default_rng(3)
    pts = template_points() * 35 + 64
    image = draw_face(pts, 128, rng)
    cfg = AugmentConfig(
        negative_prob=0.0,
        brightness=0,
        noise_max=0,
        blur_prob=0,
        contrast=(1.0, 1.0),
        flip_shift=0.0,
    )
    for _ in range(5):
        patch, crop_pts, label = training_crop(image, pts, box_from_points(pts), rng, cfg)
        assert label == 1.0
        inside = np.all((crop_pts >= 2) & (crop_pts <= 93), axis=1)
        values = patch[
            crop_pts[inside, 1].round().astype(int), crop_pts[inside, 0].round().astype(int)
        ]
        assert np.mean(values > 150) > 0.9


def test_occlusion_covers_part_of_the_crop_and_keeps_the_points() -> None:
    rng = np.random.default_rng(5)
    pts = template_points() * 35 + 64
    image = draw_face(pts, 128, rng)
    still = {"brightness": 0, "noise_max": 0, "blur_prob": 0, "contrast": (1.0, 1.0)}
    plain = AugmentConfig(negative_prob=0.0, flip=False, occlude_prob=0.0, **still)
    covered = AugmentConfig(negative_prob=0.0, flip=False, occlude_prob=1.0, **still)
    a, pa, _ = training_crop(image, pts, box_from_points(pts), np.random.default_rng(7), plain)
    b, pb, _ = training_crop(image, pts, box_from_points(pts), np.random.default_rng(7), covered)
    np.testing.assert_allclose(pa, pb)
    changed = np.abs(a.astype(int) - b.astype(int)) > 40
    assert 0.005 < changed.mean() < 0.3  # one rectangle, 10-40 % of the side each way
