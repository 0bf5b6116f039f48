"""Derived measures: hand-computed values, and the --features CSV columns."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.helpers import PHOTO
from vidkeys.cli import app
from vidkeys.keypoints.features import FEATURE_COLUMNS, face_features
from vidkeys.outputs.export import COLUMNS


def _face() -> np.ndarray:
    """Points whose eyes and mouth have round numbers, the rest anywhere."""
    p = np.zeros((68, 2))
    # right eye 36-41: corners 10 apart; lids 4 and 2 apart
    p[36:42] = [(0, 0), (3, -2), (7, -2), (10, 0), (7, 2), (3, 0)]
    # left eye 42-47: corners 12 apart; lids 1 and 1 apart (nearly shut)
    p[42:48] = [(30, 0), (34, -0.5), (38, -0.5), (42, 0), (38, 0.5), (34, 0.5)]
    # inner lips 60-67: width 20; openings 4, 6, 2
    p[60:68] = [(0, 30), (5, 28), (10, 27), (15, 29), (20, 30), (15, 31), (10, 33), (5, 32)]
    return p


def test_measures_match_hand_computed_values() -> None:
    ear_r, ear_l, mar, iod = face_features(_face()[None])[0]
    assert ear_r == pytest.approx((2 + 4) / (2 * 10))  # |37-41| = 2, |38-40| = 4
    assert ear_l == pytest.approx((1 + 1) / (2 * 12))
    assert mar == pytest.approx((4 + 6 + 2) / (3 * 20))
    assert iod == pytest.approx(42.0)  # 36 at x=0, 45 at x=42


def test_features_flag_adds_columns_that_match_the_points(tmp_path: Path) -> None:
    table = tmp_path / "f.csv"
    result = CliRunner().invoke(
        app, ["export-csv", str(PHOTO), "-o", str(table), "--features", "-q"]
    )
    assert result.exit_code == 0, result.output
    with table.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == COLUMNS + list(FEATURE_COLUMNS)
    row = rows[0]
    points = np.array([[float(row[f"x_{i}"]), float(row[f"y_{i}"])] for i in range(68)])
    expected = face_features(points[None])[0]
    got = [float(row[c]) for c in FEATURE_COLUMNS]
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)
    assert 0.1 < got[0] < 0.45 and 0.1 < got[1] < 0.45  # open eyes
    assert got[3] == pytest.approx(60, abs=10)  # the photo's eye corners are ~64 px apart


def test_jsonl_carries_pose_and_features(tmp_path: Path) -> None:
    table = tmp_path / "f.jsonl"
    result = CliRunner().invoke(
        app,
        ["export-csv", str(PHOTO), "-o", str(table), "--format", "jsonl", "--features", "-q"],
    )
    assert result.exit_code == 0, result.output
    face = json.loads(table.read_text().splitlines()[0])["faces"][0]
    assert len(face["pose_T"]) == 3 and len(face["pose_R"]) == 3
    assert set(FEATURE_COLUMNS) <= set(face)
