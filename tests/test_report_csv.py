"""The report reading a CSV as people hand it over: from a spreadsheet, with gaps, or empty."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import SAMPLE, one_error, run_cli
from vidkeys.errors import EXIT_ERROR, VidkeysError
from vidkeys.jobs import SourceOptions, export_file
from vidkeys.outputs.report import default_report_path, find_video, make_report, read_csv


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    video = tmp_path / "talk.day2.mp4"
    shutil.copy(SAMPLE, video)
    shutil.copy(SAMPLE, tmp_path / "talk.day1.mp4")
    csv = tmp_path / "talk.day2.keypoints.csv"
    export_file(video, csv, quiet=True)
    return csv


def _edit(csv: Path, row: int, column: str, value: str, bom: bool = False) -> None:
    lines = csv.read_text().splitlines()
    names = lines[0].split(",")
    cells = lines[row].split(",")
    cells[names.index(column)] = value
    lines[row] = ",".join(cells)
    csv.write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")


def test_the_video_and_report_name_come_from_the_whole_name(exported: Path) -> None:
    assert find_video(exported).name == "talk.day2.mp4"
    assert default_report_path(exported).name == "talk.day2.report.html"


def test_a_spreadsheet_bom_and_blank_cells_are_read(exported: Path) -> None:
    _edit(exported, 3, "confidence", "", bom=True)  # a blank: that row is left out
    _edit(exported, 4, "x_10", "nan")
    _, rows = read_csv(exported)
    assert rows == 118
    page = make_report(exported).output.read_text()
    assert "nan" not in page.lower().replace("nano", "")


@pytest.mark.parametrize(
    ("column", "value"), [("face_id", ""), ("frame", "nan"), ("timestamp", "x")]
)
def test_a_row_without_its_frame_id_or_time_is_one_line(exported: Path, column, value) -> None:
    _edit(exported, 5, column, value)  # the file's 6th line, a spreadsheet's row 6
    with pytest.raises(VidkeysError, match=f"row 6, column {column}"):
        read_csv(exported)
    proc = run_cli(["report", exported, "-o", exported.with_name("r.html")])
    assert proc.returncode == EXIT_ERROR
    one_error(proc.stderr, "row 6", column)
    assert not exported.with_name("r.html").exists()


def test_a_header_only_csv_makes_a_page_without_faces(exported: Path) -> None:
    exported.write_text(exported.read_text().splitlines()[0] + "\n")
    faces, rows = read_csv(exported)
    assert faces == {} and rows == 0
    assert make_report(exported).faces == 0


def test_start_and_end_keep_the_window(exported: Path) -> None:
    faces, rows = read_csv(exported, 1.0, 2.0)
    times = next(iter(faces.values())).time
    assert rows == len(times) and times.min() >= 1.0 and times.max() < 2.0
    summary = make_report(exported, inputs=SourceOptions(start=1.0, end=2.0))
    assert summary.faces == 1
