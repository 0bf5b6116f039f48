"""Values that cannot work are refused before any work; frames the API can convert are taken."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import vidkeys
from tests.helpers import PHOTO, run_cli
from vidkeys.errors import EXIT_USAGE, VidkeysError


@pytest.mark.parametrize(
    "option",
    [
        ["--scale-factor", "1e9"],
        ["--detect-every", "0"],
        ["--detect-width", "1000000"],
        ["--batch-size", "1000000"],
        ["--min-score", "nan"],
        ["--min-size", "100000"],
        ["--start", "1e308"],
        ["--fps", "1e308"],
    ],
)
def test_an_option_out_of_its_range_is_a_usage_error(tmp_path: Path, option: list[str]) -> None:
    out = tmp_path / "x.csv"
    proc = run_cli(["export-csv", PHOTO, "-o", out, *option])
    assert proc.returncode == EXIT_USAGE, proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


def _photo() -> np.ndarray:
    return cv2.imread(str(PHOTO))


@pytest.mark.parametrize(
    "convert",
    [
        lambda im: im.astype(np.float32) / 255.0,  # floats in [0, 1]
        lambda im: im.astype(np.uint16) * 257,  # 16 bits
        lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2GRAY)[:, :, None],  # (h, w, 1)
        lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2BGRA),  # with alpha
    ],
    ids=["float", "uint16", "hw1", "bgra"],
)
def test_frames_the_api_can_convert_find_the_face(convert) -> None:
    faces = next(iter(vidkeys.process([convert(_photo())]))).faces
    assert len(faces) == 1


@pytest.mark.parametrize(
    ("frame", "words"),
    [
        (np.zeros((0, 0), np.uint8), "not an image"),
        (np.zeros((4, 4, 2, 2), np.uint8), "not an image"),
        (np.array([[object()]]), "not an image"),
        (np.full((8, 8), np.nan), "NaN"),
    ],
)
def test_frames_that_are_not_images_are_refused_by_number(frame, words: str) -> None:
    good = _photo()
    with pytest.raises(VidkeysError, match=f"frame 1: .*{words}"):
        list(vidkeys.process([good, frame]))


def test_frames_of_changing_size_keep_their_faces() -> None:
    big, small = cv2.resize(_photo(), (800, 600)), cv2.resize(_photo(), (320, 320))
    found = [len(r.faces) for r in vidkeys.process([small, big] * 3)]
    assert found == [1] * 6
