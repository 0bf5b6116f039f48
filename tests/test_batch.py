"""`vidkeys batch`: a folder of inputs, failures, resuming, forcing, kills, and Ray."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import pytest
from typer.testing import CliRunner

from tests.helpers import PHOTO, clip
from vidkeys.batch.engines import run_task
from vidkeys.batch.inputs import collect_inputs
from vidkeys.batch.manifest import MANIFEST, read_manifest
from vidkeys.cli import app
from vidkeys.config import PipelineConfig
from vidkeys.io.naming import media_suffix, output_path
from vidkeys.jobs import default_output

runner = CliRunner()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two videos (one in a sub-folder), one image, one corrupt 'video', one text file.

    Made once for the module: tests read them and write elsewhere.
    """
    root = tmp_path_factory.mktemp("batch") / "in"
    (root / "day2").mkdir(parents=True)
    clip(root / "a.mp4", 8)
    clip(root / "day2" / "b.mp4", 8, shift=10)
    cv2.imwrite(str(root / "still.png"), cv2.resize(cv2.imread(str(PHOTO)), (256, 256)))
    (root / "broken.mp4").write_bytes(b"\x00\x01garbage" * 100)
    (root / "notes.txt").write_text("not an input")
    return root


@pytest.fixture(scope="module")
def first_run(inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """The folder through two workers, once for the module: ``(OUTDIR, CLI result)``."""
    out = tmp_path_factory.mktemp("first") / "out"
    result = runner.invoke(app, ["batch", str(inputs), "-o", str(out), "--workers", "2"])
    return out, result


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / MANIFEST).read_text().splitlines()]


def test_folder_of_inputs_with_a_failure(first_run: tuple[Path, Any]) -> None:
    out, result = first_run
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


def test_rerun_skips_done_retries_failed_and_force_redoes(
    inputs: Path, first_run: tuple[Path, Any]
) -> None:
    out, _ = first_run
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


def test_batch_and_single_file_jobs_name_outputs_alike(inputs: Path, tmp_path: Path) -> None:
    tasks = {t.source.name: t for t in collect_inputs([str(inputs)], tmp_path, csv_only=False)}
    for name, sub in (("a.mp4", ""), ("b.mp4", "day2"), ("still.png", "")):
        task, source = tasks[name], inputs / sub / name
        assert task.csv == tmp_path / sub / default_output(source, ".csv").name
        media = default_output(source, media_suffix(source))
        assert task.media == tmp_path / sub / media.name
    assert tasks["a.mp4"].csv.name == "a.keypoints.csv"
    assert tasks["a.mp4"].media.name == "a.keypoints.mp4"
    assert tasks["still.png"].media.name == "still.keypoints.png"
    assert output_path(Path("x/Shot.JPG"), media_suffix(Path("x/Shot.JPG"))) == Path(
        "x/Shot.keypoints.jpg"
    )


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
        clip(src / f"v{k}.mp4", 60, shift=k)
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
    clean = tmp_path / "in"
    shutil.copytree(inputs, clean, ignore=shutil.ignore_patterns("broken.mp4"))
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert (
        runner.invoke(app, ["batch", str(clean), "-o", str(local), "--csv-only", "-q"]).exit_code
        == 0
    )
    result = runner.invoke(
        app,
        [
            "batch",
            str(clean),
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
    task = collect_inputs([str(PHOTO)], tmp_path / "out", csv_only=True, features=True)[0]
    record = run_task(task, PipelineConfig(device="cpu"))
    assert record.status == "done", record.error
    header = task.csv.read_text().splitlines()[0].split(",")
    assert header[-4:] == ["ear_right", "ear_left", "mar", "iod"]


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_a_folder_takes_camera_formats_and_names_what_it_leaves_out(tmp_path: Path) -> None:
    """AVCHD (.MTS, .m2ts) and GIF files, made by the real ffmpeg, are a folder run's
    inputs as they are a single file's; a text file is named as left out; a macOS
    ``._`` resource fork is skipped without a word."""
    folder = tmp_path / "in"
    folder.mkdir()
    sample = Path(__file__).resolve().parents[1] / "samples" / "astronaut.mp4"
    for name, args in (
        ("cam.MTS", ["-c:v", "libx264", "-bf", "0", "-f", "mpegts"]),
        ("cam2.m2ts", ["-c:v", "libx264", "-bf", "0", "-f", "mpegts", "-mpegts_m2ts_mode", "1"]),
        ("anim.gif", ["-vf", "scale=160:-2", "-f", "gif"]),
    ):
        cmd = ["ffmpeg", "-v", "error", "-i", str(sample), "-t", "0.4", *args, str(folder / name)]
        subprocess.run(cmd, check=True)
    (folder / "notes.txt").write_text("not a video")
    (folder / "._cam.MTS").write_bytes(b"\x00\x05\x16\x07 resource fork")
    result = CliRunner().invoke(
        app, ["batch", str(folder), "-o", str(tmp_path / "out"), "--csv-only"]
    )
    assert result.exit_code == 0, result.output
    done = sorted(p.name for p in (tmp_path / "out").iterdir() if p.suffix == ".csv")
    assert done == ["anim.keypoints.csv", "cam.keypoints.csv", "cam2.keypoints.csv"]
    notes = [line for line in result.output.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "notes.txt" in notes[0] and "._cam" not in notes[0]


def test_a_glob_that_climbs_writes_only_inside_the_output_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``*/../../outside/*.png`` matches files above the current folder: their outputs
    still land below ``-o``, nothing beside the inputs or elsewhere."""
    (tmp_path / "work" / "a").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(PHOTO, outside / "face.png")
    monkeypatch.chdir(tmp_path / "work")
    result = CliRunner().invoke(app, ["batch", "*/../../outside/*.png", "-o", "o", "--csv-only"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in outside.iterdir()) == ["face.png"]
    written = [p for p in (tmp_path / "work" / "o").rglob("*") if p.suffix == ".csv"]
    assert [p.name for p in written] == ["face.keypoints.csv"]
    assert {p.name for p in tmp_path.iterdir()} == {"work", "outside"}


def test_a_rerun_redoes_what_other_models_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A result records the model files that made it: the keypoint graph replaced in
    place (weights named by ``VIDKEYS_MODEL``) makes a rerun redo the input."""
    pytest.importorskip("torch")
    from vidkeys.keypoints.network import rewrite_graph
    from vidkeys.keypoints.weights import DEFAULT_WEIGHTS, onnx_path

    weights = tmp_path / "w" / "vidkeys68.pt"
    weights.parent.mkdir()
    shutil.copy(DEFAULT_WEIGHTS, weights)
    shutil.copy(onnx_path(DEFAULT_WEIGHTS), onnx_path(weights))
    monkeypatch.setenv("VIDKEYS_MODEL", str(weights))
    args = ["batch", str(PHOTO), "-o", str(tmp_path / "out"), "--csv-only"]

    def skipped() -> bool:
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        return "1 skipped" in result.output

    assert not skipped()
    assert skipped()
    rewrite_graph(weights)  # the 32-bit graph of the same weights: other answers
    assert not skipped()
    assert skipped()
