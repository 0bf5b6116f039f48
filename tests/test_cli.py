"""The command line: outputs, streaming to stdout, and one clear line for bad input."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import av
import pytest
from typer.testing import CliRunner

from tests.helpers import SAMPLE
from vidkeys.cli import app
from vidkeys.outputs.export import COLUMNS

runner = CliRunner()


def _fails_cleanly(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    err = result.stderr
    assert "Traceback" not in result.output + err
    assert message in err, err
    assert len([ln for ln in err.splitlines() if ln.startswith("error:")]) == 1


def test_export_csv_streams_to_stdout() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vidkeys.cli", "export-csv", str(SAMPLE), "-o", "-", "--quiet"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    lines = proc.stdout.splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert len(lines) == 121
    assert proc.stderr == ""


def test_default_output_names_and_summary(tmp_path: Path) -> None:
    src = tmp_path / "clip.mp4"
    shutil.copy(SAMPLE, src)
    result = runner.invoke(app, ["export-csv", str(src), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "clip.keypoints.jsonl"
    assert len(out.read_text().splitlines()) == 120
    assert "120 frames, 120 faces" in result.stderr and str(out) in result.stderr
    assert not list(tmp_path.glob(".*.part"))


def test_missing_input() -> None:
    _fails_cleanly(["export-csv", "/no/such/video.mp4"], "input not found")


def test_not_a_video(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("hello, this is not a video\n" * 20)
    _fails_cleanly(["annotate", str(fake)], "not a video or image file")
    assert list(tmp_path.iterdir()) == [fake]  # nothing written


def test_truncated_video(tmp_path: Path) -> None:
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(SAMPLE.read_bytes()[: SAMPLE.stat().st_size // 2])
    _fails_cleanly(["export-csv", str(cut)], "cut.mp4")
    assert list(tmp_path.iterdir()) == [cut]


def test_zero_frame_video(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    with av.open(str(empty), "w") as out:
        s = out.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        out.start_encoding()  # header and trailer, no frame
        out.mux(s.encode())
    assert empty.stat().st_size > 0
    _fails_cleanly(["annotate", str(empty), "--csv", str(tmp_path / "e.csv")], "empty.mp4")
    assert list(tmp_path.iterdir()) == [empty]  # no output that looks complete


def test_unwritable_output(tmp_path: Path) -> None:
    _fails_cleanly(
        ["export-csv", str(SAMPLE), "-o", str(tmp_path / "missing" / "x.csv")],
        "output folder does not exist",
    )


def test_output_may_not_overwrite_input(tmp_path: Path) -> None:
    src = tmp_path / "clip.mp4"
    shutil.copy(SAMPLE, src)
    _fails_cleanly(["annotate", str(src), "-o", str(src)], "would overwrite the input")
    assert src.read_bytes() == SAMPLE.read_bytes()


@pytest.mark.parametrize(
    ("args", "choices"),
    [
        (["--format", "xml"], ["csv", "jsonl"]),
        (["--device", "tpu"], ["auto", "cpu", "cuda"]),
    ],
)
def test_unknown_option_values(args: list[str], choices: list[str], tmp_path: Path) -> None:
    """A value outside an option's choices is a usage error (exit 2) that lists them."""
    out = tmp_path / "x.csv"
    result = runner.invoke(app, ["export-csv", str(SAMPLE), "-o", str(out), *args])
    assert result.exit_code == 2
    assert "Traceback" not in result.output + result.stderr
    assert all(f"'{c}'" in result.stderr for c in choices), result.stderr
    assert not out.exists()


def test_bad_training_csv_names_file_and_row(tmp_path: Path) -> None:
    bad = tmp_path / "k.csv"
    bad.write_text("," + ",".join(map(str, range(136))) + "\na_00.jpg,1,2\n")
    _fails_cleanly(
        ["eval", "--csv", str(bad), "--images", str(tmp_path)],
        "k.csv:2: expected a file name and 136 numbers",
    )


def test_corrupt_weights(tmp_path: Path) -> None:
    bad = tmp_path / "w.pt"
    bad.write_bytes(b"\x00" * 64)
    _fails_cleanly(["export-csv", str(SAMPLE), "--model", str(bad)], "cannot read weights file")
