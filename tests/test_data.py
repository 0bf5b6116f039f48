"""The data-set reader and the person-level validation split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidkeys.errors import VidkeysError
from vidkeys.training.data import (
    Sample,
    load_gray,
    read_keypoints_csv,
    some_people,
    split_people,
)

HEADER = "," + ",".join(str(i) for i in range(136)) + "\n"


def _row(name: str, start: float = 0.0) -> str:
    return name + "," + ",".join(str(start + i) for i in range(136)) + "\n"


def test_parser_reads_names_and_points_in_xy_order(tmp_path: Path) -> None:
    path = tmp_path / "k.csv"
    path.write_text(HEADER + _row("Ann_Lee_00.jpg") + _row("Bo_01.jpg", 1000))
    samples = read_keypoints_csv(path)
    assert [s.name for s in samples] == ["Ann_Lee_00.jpg", "Bo_01.jpg"]
    assert samples[0].points.shape == (68, 2)
    np.testing.assert_array_equal(samples[0].points[1], [2.0, 3.0])  # x1, y1
    np.testing.assert_array_equal(samples[1].points[67], [1134.0, 1135.0])
    assert samples[0].person == "Ann_Lee"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_row("a_00.jpg") + "b_00.jpg,1,2,3\n", "k.csv:3: expected a file name and 136 numbers"),
        (_row("a_00.jpg").replace(",5.0,", ",five,"), "k.csv:2: not a number"),
        ("", "no data rows"),
    ],
)
def test_parser_names_file_and_row_of_bad_data(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "k.csv"
    path.write_text(HEADER + body)
    with pytest.raises(VidkeysError, match=message):
        read_keypoints_csv(path)


def test_parser_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(VidkeysError, match="not found"):
        read_keypoints_csv(tmp_path / "nope.csv")
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 50)
    with pytest.raises(VidkeysError, match=r"b\.csv"):
        read_keypoints_csv(binary)


def test_unreadable_image_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(VidkeysError, match=r"x\.jpg"):
        load_gray(bad)


def test_split_holds_out_whole_people_deterministically() -> None:
    pts = np.zeros((68, 2))
    samples = [Sample(f"Person_{p:03d}_{k:02d}.jpg", pts) for p in range(200) for k in range(4)]
    train, val = split_people(samples)
    train_people = {samples[i].person for i in train}
    val_people = {samples[i].person for i in val}
    assert not train_people & val_people
    assert len(val_people) == 20  # 10 % of 200 people
    assert sorted(train + val) == list(range(len(samples)))
    # Row order does not change who is held out.
    shuffled = samples[::-1]
    _, val2 = split_people(shuffled)
    assert {shuffled[i].person for i in val2} == val_people


def test_a_share_of_the_training_people_nests_and_leaves_the_held_out_alone() -> None:
    pts = np.zeros((68, 2))
    samples = [Sample(f"Person_{p:03d}_{k:02d}.jpg", pts) for p in range(200) for k in range(3)]
    train, val = split_people(samples)
    quarter, half = some_people(samples, train, 0.25), some_people(samples, train, 0.5)
    people = [{samples[i].person for i in part} for part in (quarter, half)]
    assert [len(p) for p in people] == [45, 90]  # of the 180 training people
    assert people[0] < people[1]  # whole people, a smaller share inside a larger one
    assert all(i in train for i in half) and len(half) == 3 * 90
    assert not people[1] & {samples[i].person for i in val}
    assert len({samples[i].person for i in some_people(samples, train, 0.001)}) == 1
