"""`vidkeys report`: one self-contained HTML page, rendered by headless Chromium.

The Chromium test is skipped only where the ``chromium`` command is missing
(Debian: ``apt-get install chromium``; ``.ci/run`` installs it). With
``VIDKEYS_REPORT_SCREENSHOT=PATH`` it also copies its screenshot there (the
README's ``docs/report.png`` is made so, from ``samples/astronaut.mp4``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from tests.helpers import SAMPLE
from vidkeys.cli import app
from vidkeys.jobs import export_file
from vidkeys.outputs.report import make_report, read_csv

runner = CliRunner()
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "astronaut.report.html"
    summary = make_report(SAMPLE, out)
    assert summary.faces == 1 and summary.output == out
    return out


def test_page_is_self_contained(report: Path) -> None:
    page = report.read_text()
    assert page.count("data:image/jpeg;base64,") == 1  # one thumbnail, inline
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["'](?!data:)""", page)  # nothing fetched
    assert page.count("<svg") == 3  # timeline, pose, eyes and mouth
    assert "blinks 0" in page and "face 0" in page
    assert report.stat().st_size < 5_000_000


def test_report_from_csv_and_its_video(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    shutil.copy(SAMPLE, video)
    csv = tmp_path / "clip.keypoints.csv"
    export_file(video, csv, quiet=True, openface=True)
    faces, rows = read_csv(csv)
    assert rows == 120 and list(faces) == [0]
    assert faces[0].index[0] == 0  # --openface's frame 1 is index 0
    result = runner.invoke(app, ["report", str(csv), "-q"])  # the video found by name
    assert result.exit_code == 0, result.stderr
    page = (tmp_path / "clip.report.html").read_text()
    assert "data:image/jpeg;base64," in page
    (tmp_path / "alone.csv").write_text(csv.read_text())
    result = runner.invoke(app, ["report", str(tmp_path / "alone.csv")])
    assert result.exit_code == 1 and "give --video" in result.stderr


def _chromium(page: Path, png: Path, tmp_path: Path) -> str:
    """Render ``page`` to ``png``; returns Chromium's log (console messages included)."""
    assert CHROMIUM is not None
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--hide-scrollbars",
            "--window-size=1000,700",
            f"--screenshot={png}",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout + proc.stderr


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_chromium_renders_it_without_console_errors(report: Path, tmp_path: Path) -> None:
    # The check itself works: a page with errors shows them in the log.
    bad = tmp_path / "bad.html"
    bad.write_text('<p>x</p><script>console.error("marker-42")</script>')
    assert "marker-42" in _chromium(bad, tmp_path / "bad.png", tmp_path)

    png = tmp_path / "report.png"
    log = _chromium(report, png, tmp_path)
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    assert not console, console
    image = cv2.imread(str(png))
    assert image is not None and image.shape[:2] == (700, 1000)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    assert (grey < 200).mean() > 0.02 and grey.std() > 20  # text, charts, a face: not blank
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 100  # the thumbnail's colours
    target = os.environ.get("VIDKEYS_REPORT_SCREENSHOT")
    if target:
        shutil.copy(png, target)
