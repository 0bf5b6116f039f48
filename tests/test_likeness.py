"""A face's look: the same face alike frame to frame, another person not."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import vidkeys
from tests.helpers import PHOTO
from vidkeys.config import TrackerConfig
from vidkeys.faces.likeness import likeness, looks
from vidkeys.training.data import load_images, read_keypoints_csv, split_people


def test_the_same_face_with_fresh_noise_looks_alike() -> None:
    gray = cv2.cvtColor(cv2.imread(str(PHOTO)), cv2.COLOR_BGR2GRAY)
    points = next(iter(vidkeys.process([gray]))).faces.points
    rng = np.random.default_rng(0)
    noisy = np.clip(gray + rng.normal(0, 6, gray.shape), 0, 255).astype(np.uint8)
    a, b = looks(gray, points)[0], looks(noisy, points + 0.5)[0]
    assert likeness(a, a) == pytest.approx(1.0, abs=1e-5)
    assert likeness(a, b) > 0.95
    elsewhere = looks(gray, points + np.array([0.0, 150.0]))[0]  # the suit below the face
    assert likeness(a, elsewhere) < TrackerConfig.min_likeness


def test_two_people_at_one_place_are_told_apart(real_data) -> None:
    """Two held-out people on one black canvas, one after the other: two ids."""
    samples = read_keypoints_csv(real_data / "training_frames_keypoints.csv")
    _, val = split_people(samples)
    people: dict[str, int] = {}
    for i in val:  # the first image of the first two held-out people
        people.setdefault(samples[i].name.rsplit("_", 1)[0], i)
    first, second = list(people.values())[:2]
    images = load_images([samples[first], samples[second]], real_data / "training")
    h = max(im.shape[0] for im in images)
    w = max(im.shape[1] for im in images)
    frames = []
    for im in images:
        canvas = np.zeros((2 * h, 2 * w), np.uint8)
        canvas[h // 2 : h // 2 + im.shape[0], w // 2 : w // 2 + im.shape[1]] = im
        frames += [canvas] * 5
    ids = [set(r.faces.face_id.tolist()) for r in vidkeys.process(frames)]
    assert ids[0] and ids[5], ids
    assert not ids[4] & ids[5], ids  # nobody's id carried to the other person
