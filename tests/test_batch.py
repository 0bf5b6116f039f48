"""`vidkeys batch`: a folder of inputs, failures, resuming, forcing, kills, and Ray."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from vidkeys.batch_engines import run_task
from vidkeys.batch_inputs import collect_inputs
from vidkeys.batch_manifest import MANIFEST, read_manifest
from vidkeys.cli import app
from vidkeys.pipeline import PipelineConfig

REPO = Path(__file__).resolve().parent.parent
PHOTO = REPO / "samples" / "astronaut.png"
runner = CliRunner()


def _clip(path: Path, frames: int, shift: int = 0) -> None:
    """A 320x240 clip of the astronaut drifting sideways."""
    photo = cv2.resize(cv2.imread(str(PHOTO)), (240, 240))
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 320, 240, "yuv420p"
        for i in range(frames):
            img = np.full((240, 320, 3), 50, np.uint8)
            x = 20 + shift + i
            img[:, x : x + 240] = photo[:, : min(240, 320 - x)]
            out.mux(s.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
        out.mux(s.encode())


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """Two videos (one in a sub-folder), one image, one corrupt 'video', one text file."""
    root = tmp_path / "in"
    (root / "day2").mkdir(parents=True)
    _clip(root / "a.mp4", 8)
    _clip(root / "day2" / "b.mp4", 8, shift=10)
    cv2.imwrite(str(root / "still.png"), cv2.resize(cv2.imread(str(PHOTO)), (256, 256)))
    (root / "broken.mp4").write_bytes(b"\x00\x01garbage" * 100)
    (root / "notes.txt").write_text("not an input")
    return root


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / MANIFEST).read_text().splitlines()]


def test_folder_failure_rerun_and_force(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["batch", str(inputs), "-o", str(out), "--workers", "2"])
    assert result.exit_code == 1  # one input failed
    assert "broken.mp4" in result.stderr and "not a video or image file" in result.stderr
    assert (out / "a.keypoints.mp4").is_file() and (out / "a.keypoints.csv").is_file()
    assert (out / "day2" / "b.keypoints.csv").is_file()  # relative paths kept
    assert (out / "still.keypoints.png").is_file()
    assert not (out / "broken.keypoints.csv").exists()
    first = {Path(r["input"]).name: r for r in _records(out)}
    assert set(first) == {"a.mp4", "b.mp4", "still.png", "broken.mp4"}
    assert first["broken.mp4"]["status"] == "failed"
    assert "not a video or image file" in first["broken.mp4"]["error"]
    assert first["a.mp4"]["status"] == "done" and first["a.mp4"]["frames"] == 8
    rows = (out / "a.keypoints.csv").read_text().splitlines()
    assert len(rows) == 1 + 8  # header + one face in each of 8 frames

    # Rerun: done inputs are skipped, the failed one is tried again.
    stamp = (out / "a.keypoints.csv").stat().st_mtime_ns
    again = runner.invoke(app, ["batch", str(inputs), "-o", str(out), "--csv-only"])
    assert again.exit_code == 1
    latest = read_manifest(out)
    assert latest[str(inputs / "broken.mp4")].status == "failed"
    assert latest[str(inputs / "a.mp4")].status in ("skipped", "done")

    # --csv-only needs only the CSV, which is there: skipped, file untouched.
    assert latest[str(inputs / "a.mp4")].status == "skipped"
    assert (out / "a.keypoints.csv").stat().st_mtime_ns == stamp

    forced = runner.invoke(app, ["batch", str(inputs / "a.mp4"), "-o", str(out), "--force"])
    assert forced.exit_code == 0
    assert read_manifest(out)[str(inputs / "a.mp4")].status == "done"
    assert (out / "a.keypoints.csv").stat().st_mtime_ns != stamp


def test_globs_and_missing_inputs(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["batch", str(inputs / "**" / "*.mp4"), "-o", str(out), "--csv-only", "-q"]
    )
    assert result.exit_code == 1  # broken.mp4 matches too
    assert (out / "day2" / "b.keypoints.csv").is_file()
    missing = runner.invoke(app, ["batch", str(tmp_path / "nothing"), "-o", str(out)])
    assert missing.exit_code == 1 and "input not found" in missing.stderr


def test_killed_run_resumes_without_redoing_work(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for k in range(6):
        _clip(src / f"v{k}.mp4", 60, shift=k)
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "vidkeys.cli",
        "batch",
        str(src),
        "-o",
        str(out),
        "--csv-only",
        "--workers",
        "1",
        "-q",
    ]
    proc = subprocess.Popen(cmd, start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if (out / MANIFEST).is_file() and (out / MANIFEST).read_text().count("\n") >= 1:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {r.input for r in read_manifest(out).values() if r.status == "done"}
    assert done_before  # at least one finished before the kill
    for csv in out.glob("*.keypoints.csv"):  # every file that looks finished is finished
        assert str(src / csv.name.replace(".keypoints.csv", ".mp4")) in done_before
        assert len(csv.read_text().splitlines()) == 61
    subprocess.run(cmd, check=True, timeout=600)
    latest = read_manifest(out)
    assert len(latest) == 6
    for name, record in latest.items():
        expected = "skipped" if name in done_before else "done"
        assert record.status == expected  # nothing done twice
    assert sorted(p.name for p in out.glob("*.csv")) == [f"v{k}.keypoints.csv" for k in range(6)]
    assert not list(out.glob(".*.part"))


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")
def test_ray_engine_matches_local(inputs: Path, tmp_path: Path) -> None:
    (inputs / "broken.mp4").unlink()
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert (
        runner.invoke(app, ["batch", str(inputs), "-o", str(local), "--csv-only", "-q"]).exit_code
        == 0
    )
    result = runner.invoke(
        app,
        [
            "batch",
            str(inputs),
            "-o",
            str(remote),
            "--csv-only",
            "-q",
            "--engine",
            "ray",
            "--workers",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    for csv in local.rglob("*.csv"):
        assert (remote / csv.relative_to(local)).read_text() == csv.read_text()


def test_features_reach_the_batch_csv(tmp_path: Path) -> None:
    photo = Path(__file__).resolve().parent.parent / "samples" / "astronaut.png"
    task = collect_inputs([str(photo)], tmp_path / "out", csv_only=True, features=True)[0]
    record = run_task(task, PipelineConfig(device="cpu"))
    assert record.status == "done", record.error
    header = task.csv.read_text().splitlines()[0].split(",")
    assert header[-4:] == ["ear_right", "ear_left", "mar", "iod"]
