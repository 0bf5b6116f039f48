"""Fault injection: each test makes a fault itself and checks what vidkeys gives.

Every fault must give either a true result or one clear error: the exit code
(README, "Faults"), exactly one ``error:`` line and no traceback on stderr,
and no file left behind that looks complete (and no ``.part`` litter).
Inputs are made here with PyAV; a full disk is a small tmpfs (root) or a
file-size limit; an unwritable folder is a read-only bind mount (root) or a
folder without write permission.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import resource
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

from tests.helpers import (
    PHOTO,
    SAMPLE,
    clip,
    decoder_threads,
    full_disk,
    one_error,
    read_only,
    run_cli,
    writing_into,
)
from vidkeys.batch.driver import LOCK
from vidkeys.batch.manifest import MANIFEST, read_manifest
from vidkeys.cli import app
from vidkeys.errors import EXIT_BROKEN_PIPE, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_PARTIAL
from vidkeys.keypoints.network import load_model
from vidkeys.keypoints.predictor import KeypointPredictor

runner = CliRunner()


def no_litter(*folders: Path) -> None:
    for folder in folders:
        assert not list(folder.rglob(".*.part")), list(folder.rglob("*"))


def rows(csv: Path) -> list[list[str]]:
    return [ln.split(",") for ln in csv.read_text().splitlines()[1:]]


# --- results that look complete and are not ---------------------------------


@pytest.mark.parametrize(
    ("name", "fmt", "options"),
    [("front.mp4", "mp4", {"movflags": "faststart"}), ("cut.mkv", "matroska", None)],
)
def test_cut_short_is_a_partial_result(tmp_path: Path, name: str, fmt: str, options: dict) -> None:
    full = clip(tmp_path / f"full-{name}", 60, fmt=fmt, options=options)
    cut = tmp_path / name
    cut.write_bytes(full.read_bytes()[: full.stat().st_size * 45 // 100])
    out = tmp_path / "cut.csv"
    proc = run_cli(["export-csv", cut, "-o", out, "-q"])
    assert proc.returncode == EXIT_PARTIAL, proc.stderr
    assert "Traceback" not in proc.stderr and "error:" not in proc.stderr
    (warning,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("warning:")]
    got = len({r[0] for r in rows(out)})
    assert f"{got} of 60 frames" in warning and 0 < got < 60
    no_litter(tmp_path)


def test_corrupt_mkv_mid_file_is_partial(tmp_path: Path) -> None:
    mkv = clip(tmp_path / "bad.mkv", 60, fmt="matroska")
    data = bytearray(mkv.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 8000] = np.random.default_rng(0).integers(0, 256, 8000, np.uint8).tobytes()
    mkv.write_bytes(bytes(data))
    proc = run_cli(["export-csv", mkv, "-o", tmp_path / "bad.csv", "-q"])
    assert proc.returncode == EXIT_PARTIAL, proc.stderr
    assert "52 of 6" in proc.stderr and "Traceback" not in proc.stderr  # 60, or 61 estimated


def test_frame_is_the_source_index_after_an_undecodable_frame(tmp_path: Path) -> None:
    avi = clip(tmp_path / "mj.avi", 20, codec="mjpeg")
    with av.open(str(avi)) as c:
        packets = [(p.pos, p.size) for p in c.demux(video=0) if p.size]
    data = bytearray(avi.read_bytes())
    pos, size = packets[10]
    data[pos : pos + size] = bytes(size)  # frame 10 can no longer be decoded
    avi.write_bytes(bytes(data))
    out = tmp_path / "mj.csv"
    proc = run_cli(["export-csv", avi, "-o", out, "-q"])
    assert proc.returncode == EXIT_PARTIAL and "19 of 20 frames" in proc.stderr, proc.stderr
    table = rows(out)
    frames = [int(r[0]) for r in table]
    assert 10 not in frames and frames[-1] == 19  # a gap, not a shift
    for r in table:  # each row's time is its own frame's
        assert abs(float(r[2]) - int(r[0]) / 30) < 0.002


def test_variable_frame_rate_keeps_source_times(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    times = np.cumsum(rng.uniform(0.02, 0.15, 40)).round(3).tolist()
    src = clip(tmp_path / "vfr.mp4", 40, times=times)
    out = tmp_path / "vfr.keypoints.mp4"
    result = runner.invoke(app, ["annotate", str(src), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    with av.open(str(src)) as c:
        source_times = [float(f.time) for f in c.decode(video=0)]
    with av.open(str(out)) as c:
        written = [float(f.time) for f in c.decode(video=0)]
    assert len(written) == len(source_times) == 40
    assert np.abs(np.array(written) - np.array(source_times)).max() < 0.002


def test_one_file_named_twice(tmp_path: Path) -> None:
    x = tmp_path / "X.mp4"
    proc = run_cli(["annotate", SAMPLE, "-o", x, "--csv", x, "-q"])
    assert proc.returncode == EXIT_ERROR
    one_error(proc.stderr, "same file", str(x))
    assert list(tmp_path.iterdir()) == []


def test_csv_failing_at_close_keeps_no_video(tmp_path: Path) -> None:
    src = clip(tmp_path / "one.mp4", 1)  # one row: the CSV is written at close
    full = tmp_path / "full"
    with full_disk(full):
        video = tmp_path / "one.keypoints.mp4"
        proc = run_cli(["annotate", src, "-o", video, "--csv", full / "one.csv", "-q"])
        assert proc.returncode == EXIT_ERROR
        one_error(proc.stderr, "one.csv", "No space left on device")
        assert not video.exists() and not (full / "one.csv").exists()
        no_litter(tmp_path, full)


def _file_size_limit(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.parametrize("command", ["export-csv", "annotate"])
def test_disk_full_while_writing(tmp_path: Path, command: str) -> None:
    src = clip(tmp_path / "c.mp4", 30)
    out = tmp_path / ("c.csv" if command == "export-csv" else "c.out.mp4")
    proc = run_cli([command, src, "-o", out, "-q"], preexec_fn=lambda: _file_size_limit(4096))
    assert proc.returncode == EXIT_ERROR
    one_error(proc.stderr, str(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4"]


@pytest.mark.parametrize("command", ["annotate", "filter"])
def test_unwritable_output_folder(tmp_path: Path, command: str) -> None:
    extra = ["--overlay", "sunglasses"] if command == "filter" else []
    with read_only(tmp_path / "ro") as ro:
        proc = run_cli([command, SAMPLE, "-o", ro / "x.mp4", *extra, "-q"])
        assert proc.returncode == EXIT_ERROR
        one_error(proc.stderr, "cannot write", "x.mp4")
        assert list(ro.iterdir()) == []


def test_mp4_cut_before_its_index(tmp_path: Path) -> None:
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(SAMPLE.read_bytes()[: SAMPLE.stat().st_size // 2])
    proc = run_cli(["export-csv", cut, "-q"])
    assert proc.returncode == EXIT_ERROR
    line = one_error(proc.stderr, "cut short or damaged")
    assert "Errno" not in line
    assert list(tmp_path.iterdir()) == [cut]


def test_folder_of_tiny_images(tmp_path: Path) -> None:
    folder = tmp_path / "tiny"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i}.png"), np.zeros((1, 1, 3), np.uint8))
    proc = run_cli(["export-csv", folder, "-o", tmp_path / "t.csv", "-q"])
    assert proc.returncode == 0, proc.stderr
    assert rows(tmp_path / "t.csv") == []


def test_broken_pipe_is_quiet(tmp_path: Path) -> None:
    proc = subprocess.run(
        f"{sys.executable} -m vidkeys.cli export-csv {SAMPLE} -o - -q | head -2 >/dev/null;"
        " echo ${PIPESTATUS[0]} >&2",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.stderr.strip() == str(EXIT_BROKEN_PIPE), proc.stderr


def test_unexpected_error_is_one_line_and_debug_shows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vidkeys.cli as cli
    import vidkeys.keypoints.pose

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("solver exploded")

    monkeypatch.setattr("vidkeys.pipeline.head_pose", broken)
    assert vidkeys.keypoints.pose.head_pose is not broken
    args = ["export-csv", str(SAMPLE), "-o", str(tmp_path / "x.csv"), "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == EXIT_ERROR and isinstance(result.exception, SystemExit)
    one_error(result.stderr, str(SAMPLE), "RuntimeError: solver exploded", "--debug")
    monkeypatch.setattr(cli, "_debug", False)
    result = runner.invoke(app, [*args, "--debug"])
    assert isinstance(result.exception, RuntimeError)  # the traceback is shown
    monkeypatch.setattr(cli, "_debug", False)
    assert list(tmp_path.iterdir()) == []


def test_an_error_mid_video_stops_the_decoder_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing video must not leave its decoder running (on a closed source) until the
    garbage collector frees the traceback: a batch over hundreds of videos would pile them up.
    """
    import vidkeys

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("solver exploded")

    monkeypatch.setattr("vidkeys.pipeline.head_pose", broken)
    before = decoder_threads()
    with pytest.raises(RuntimeError, match="solver exploded") as error:
        for _ in vidkeys.process(SAMPLE):
            pass
    # The traceback (held by ``error``) keeps the pipeline's frame alive here.
    assert error.traceback and decoder_threads() <= before


# --- the same source on every path ------------------------------------------


def _points(csv: Path) -> np.ndarray:
    return np.array([[float(v) for v in r[11 : 11 + 136]] for r in rows(csv)])


@pytest.mark.parametrize("kind", ["video", "image"])
def test_annotate_and_export_give_the_same_points(kind: str, tmp_path: Path) -> None:
    src = clip(tmp_path / "c.mp4", 20) if kind == "video" else PHOTO
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    out = tmp_path / f"a.keypoints{src.suffix}"
    args = ["annotate", str(src), "-o", str(out), "--csv", str(a), "-q"]
    assert runner.invoke(app, args).exit_code == 0
    assert runner.invoke(app, ["export-csv", str(src), "-o", str(b), "-q"]).exit_code == 0
    assert a.read_text() == b.read_text()


def test_phone_video_is_processed_upright(tmp_path: Path) -> None:
    upright = clip(tmp_path / "up.mp4", 20)
    turned = clip(tmp_path / "turned.mp4", 20, rotate=90)
    a, b = tmp_path / "up.csv", tmp_path / "turned.csv"
    assert runner.invoke(app, ["export-csv", str(upright), "-o", str(a), "-q"]).exit_code == 0
    out = tmp_path / "turned.keypoints.mp4"
    result = runner.invoke(app, ["annotate", str(turned), "-o", str(out), "--csv", str(b), "-q"])
    assert result.exit_code == 0, result.output
    pa, pb = _points(a), _points(b)
    assert len(pa) == len(pb) == 20
    assert np.abs(pa - pb).max() < 4.0  # pixels of the upright frame
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        assert (s.codec_context.width, s.codec_context.height) == (320, 240)


# --- batch under faults ------------------------------------------------------


@pytest.fixture
def videos(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for k in range(3):
        clip(folder / f"v{k}.mp4", 10)
    return folder


def _manifest(out: Path) -> dict[str, str]:
    return {Path(k).name: r.status for k, r in read_manifest(out).items()}


def test_batch_output_inside_its_inputs(videos: Path) -> None:
    first = run_cli(["batch", videos, "-o", videos, "--csv-only", "--workers", "1", "-q"])
    assert first.returncode == 0, first.stderr
    assert _manifest(videos) == {f"v{k}.mp4": "done" for k in range(3)}
    again = run_cli(["batch", videos, "-o", videos, "--csv-only", "--workers", "1", "-q"])
    assert again.returncode == 0
    assert _manifest(videos) == {f"v{k}.mp4": "skipped" for k in range(3)}  # no output as input


def test_batch_rerun_with_other_options_redoes(videos: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    base = ["batch", videos / "v0.mp4", "-o", out, "--csv-only", "-q"]
    assert run_cli(base).returncode == 0
    assert run_cli([*base, "--features"]).returncode == 0
    assert _manifest(out) == {"v0.mp4": "done"}
    assert (out / "v0.keypoints.csv").read_text().splitlines()[0].endswith(",iod")
    assert run_cli([*base, "--features"]).returncode == 0
    assert _manifest(out) == {"v0.mp4": "skipped"}


def test_one_batch_per_output_folder(videos: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    args = ["batch", videos / "v0.mp4", "-o", out, "--csv-only", "-q"]
    with (out / LOCK).open("w") as held:  # another batch is running
        fcntl.flock(held, fcntl.LOCK_EX)
        busy = run_cli(args)
        assert busy.returncode == EXIT_ERROR
        one_error(busy.stderr, "another vidkeys batch", str(out))
    assert run_cli(args).returncode == 0  # a lock whose holder is gone holds nothing


def test_garbled_manifest_and_read_only_outdir(videos: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST).write_bytes(b'\xff\xfe{"input": 1}\n\x80garbage\n')
    args = ["batch", videos / "v0.mp4", "-o", out, "--csv-only", "-q"]
    assert run_cli(args).returncode == 0
    with read_only(tmp_path / "ro") as ro:
        proc = run_cli(["batch", videos / "v0.mp4", "-o", ro, "--csv-only", "-q"])
        assert proc.returncode == EXIT_ERROR
        one_error(proc.stderr, str(ro))


def test_batch_lists_partial_and_failed_once(videos: Path, tmp_path: Path) -> None:
    full = clip(tmp_path / "full.mp4", 60, options={"movflags": "faststart"})
    (videos / "cut.mp4").write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    (videos / "junk.mp4").write_bytes(b"junk" * 100)
    out = tmp_path / "out"
    proc = run_cli(["batch", videos, "-o", out, "--csv-only", "--workers", "1", "-q"])
    assert proc.returncode == EXIT_ERROR, proc.stderr
    status = _manifest(out)
    assert status["cut.mp4"] == "partial" and status["junk.mp4"] == "failed"
    assert status["v0.mp4"] == "done"
    failed = [ln for ln in proc.stderr.splitlines() if ln.startswith("failed:")]
    assert len(failed) == 1 and failed[0].count("junk.mp4") == 1, proc.stderr
    assert any(
        ln.startswith("partial:") and "of 60 frames" in ln for ln in proc.stderr.splitlines()
    )
    (videos / "junk.mp4").unlink()
    assert run_cli(["batch", videos, "-o", out, "--csv-only", "-q"]).returncode == EXIT_PARTIAL


def test_batch_name_collision_names_both(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    clip(a / "x.mp4", 2), clip(b / "x.mp4", 2)
    proc = run_cli(["batch", a / "x.mp4", b / "x.mp4", "-o", tmp_path / "out", "-q"])
    assert proc.returncode == EXIT_ERROR
    one_error(proc.stderr, str(a / "x.mp4"), str(b / "x.mp4"))


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(entry.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _all_gone(pids: list[int], seconds: float = 20) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    return not any(_alive(p) for p in pids)


def _start_batch(videos: Path, out: Path, workers: int) -> tuple[subprocess.Popen, list[int]]:
    cmd = [sys.executable, "-m", "vidkeys.cli", "batch", str(videos), "-o", str(out)]
    cmd += ["--workers", str(workers), "-q"]
    proc = subprocess.Popen(
        cmd,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # Ctrl-C as at a terminal, also where these tests run in the background
        # (a shell starts background commands with SIGINT ignored, and so the
        # batch would be too).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    while time.time() < deadline and not writing_into(out):  # until a worker is writing
        time.sleep(0.05)
    return proc, _children(proc.pid)


@pytest.fixture(scope="module")
def long_videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three 5 s clips, made once: the tests read them and write elsewhere."""
    folder = tmp_path_factory.mktemp("long")
    for k in range(3):
        clip(folder / f"L{k}.mp4", 150)
    return folder


def test_workers_die_with_the_driver(long_videos: Path, tmp_path: Path) -> None:
    proc, kids = _start_batch(long_videos, tmp_path / "out", 2)
    try:
        assert kids
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert _all_gone(kids), "orphan workers"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def test_a_dead_worker_fails_only_its_input(long_videos: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc, kids = _start_batch(long_videos, out, 1)
    victim = [k for k in kids if _alive(k)]
    assert victim
    # the resource tracker of multiprocessing is a child too: kill the busiest one
    victim.sort(
        key=lambda p: -int(Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[11])
    )
    os.kill(victim[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == EXIT_ERROR, err
    status = _manifest(out)
    assert sorted(status.values()) == ["done", "done", "failed"], status
    assert "worker process died" in err and "Traceback" not in err
    no_litter(out)
    assert run_cli(["batch", long_videos, "-o", out, "-q"]).returncode == 0  # retried


def test_ctrl_c_stops_promptly(long_videos: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc, _ = _start_batch(long_videos, out, 1)
    t0 = time.time()
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
    _, err = proc.communicate(timeout=60)
    assert time.time() - t0 < 15
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert "Traceback" not in err
    no_litter(out)
    done = {Path(k).stem for k, r in read_manifest(out).items() if r.status == "done"}
    for media in out.glob("*.keypoints.*"):  # nothing written without its manifest line
        assert media.name.split(".")[0] in done


def test_plain_kill_of_the_driver(long_videos: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc, kids = _start_batch(long_videos, out, 1)
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_INTERRUPTED and "Traceback" not in err
    assert _all_gone(kids)
    no_litter(out)


def test_empty_weights_file(tmp_path: Path) -> None:
    empty = tmp_path / "w.pt"
    empty.write_bytes(b"")
    proc = run_cli(["export-csv", SAMPLE, "--model", empty, "-o", tmp_path / "x.csv", "-q"])
    assert proc.returncode == EXIT_ERROR
    one_error(proc.stderr, "w.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.pt"]


# --- vidkeys train -----------------------------------------------------------


def _train(data: tuple[Path, Path, np.ndarray], out: Path, *extra: str) -> object:
    csv, images, _ = data
    args = ["train", "--csv", str(csv), "--images", str(images), "--out", str(out)]
    return runner.invoke(app, [*args, "--epochs", "1", "--batch-size", "4", "--quiet", *extra])


def _one_error_result(result: object, *words: str) -> None:
    assert result.exit_code == EXIT_ERROR, result.output  # type: ignore[attr-defined]
    assert isinstance(result.exception, SystemExit)  # type: ignore[attr-defined]
    one_error(result.stderr, *words)  # type: ignore[attr-defined]


def test_train_that_diverges_writes_nothing(tiny_dataset: tuple, tmp_path: Path) -> None:
    out = tmp_path / "w.pt"
    _one_error_result(_train(tiny_dataset, out, "--lr", "1e12"), "diverged", "--lr")
    assert not out.exists()


def test_train_with_fewer_images_than_a_batch(tiny_dataset: tuple, tmp_path: Path) -> None:
    out = tmp_path / "w.pt"
    result = _train(tiny_dataset, out, "--batch-size", "64")
    _one_error_result(result, "fewer than one batch", "--batch-size")
    assert not out.exists()


def test_train_out_is_a_folder_or_unwritable(tiny_dataset: tuple, tmp_path: Path) -> None:
    _one_error_result(_train(tiny_dataset, tmp_path), "is a folder")
    with read_only(tmp_path / "ro") as ro:
        _one_error_result(_train(tiny_dataset, ro / "w.pt"), "cannot write", "w.pt")


def test_train_crop_size_must_fit_the_four_stages(tiny_dataset: tuple, tmp_path: Path) -> None:
    out = tmp_path / "w.pt"
    _one_error_result(_train(tiny_dataset, out, "--crop-size", "100"), "multiple of 16", "100")
    assert not out.exists()


def test_train_crop_size_and_widths_shape_the_new_network(
    tiny_dataset: tuple, tmp_path: Path
) -> None:
    out = tmp_path / "w.pt"
    result = _train(tiny_dataset, out, "--crop-size", "64", "--widths", "8,16,16,32")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    predictor = KeypointPredictor(out, "cpu")
    assert predictor.crop_size == 64
    points = predictor(np.zeros((2, 64, 64), np.uint8))[0]
    assert points.shape == (2, 68, 2)


def test_train_decoder_and_up_levels_shape_a_teacher(tiny_dataset: tuple, tmp_path: Path) -> None:
    out = tmp_path / "w.pt"
    shape = ["--widths", "8,16,16,32", "--decoder", "12", "--up-levels", "2"]
    result = _train(tiny_dataset, out, "--crop-size", "32", *shape)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    model = load_model(out)[0]
    assert (model.config.decoder, model.config.up_levels) == (12, 2)
    points = KeypointPredictor(out, "cpu")(np.zeros((2, 32, 32), np.uint8))[0]
    assert points.shape == (2, 68, 2)
    _one_error_result(_train(tiny_dataset, out, "--up-levels", "3"), "--up-levels", "3")


def test_train_resume_from_a_corrupt_checkpoint(tiny_dataset: tuple, tmp_path: Path) -> None:
    out = tmp_path / "w.pt"
    (tmp_path / "w.pt.ckpt").write_bytes(b"\x00garbage" * 50)
    _one_error_result(_train(tiny_dataset, out, "--resume"), "cannot resume", "w.pt.ckpt")


def test_corrupt_haar_cache_is_rebuilt(tiny_dataset: tuple) -> None:
    csv, images, _ = tiny_dataset
    args = ["eval", "--csv", str(csv), "--images", str(images), "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    cache = list(Path(os.environ["XDG_CACHE_HOME"]).rglob("haar-*.npy"))
    assert cache
    for path in cache:
        path.write_bytes(b"\x93NUMPY garbage")
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert again.stdout == first.stdout


def test_collapsed_points_give_nan_pose_not_an_assertion() -> None:
    from vidkeys.keypoints.pose import head_pose

    collapsed = np.stack([np.zeros((68, 2)), np.full((68, 2), np.nan), np.full((68, 2), 50.0)])
    rotation, translation = head_pose(collapsed, 320, 240)
    assert np.isnan(rotation).all() and np.isnan(translation).all()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "the file is empty"),
        (b"\x8a\x0b random bytes " * 300, "not a vidkeys weights file"),
        (None, "no 'config' entry"),
    ],
)
def test_bad_weights_files_are_named_clearly(
    tiny_dataset: tuple, tmp_path: Path, content: bytes | None, words: str
) -> None:
    bad = tmp_path / "bad.pt"
    if content is None:
        torch = pytest.importorskip("torch")
        torch.save({"state": {}}, bad)
    else:
        bad.write_bytes(content)
    result = _train(tiny_dataset, tmp_path / "w.pt", "--init", str(bad))
    _one_error_result(result, "bad.pt", words)
    assert "weights_only" not in result.stderr


def test_annotated_video_is_the_same_bytes_whatever_ran_before(tmp_path: Path) -> None:
    a, b = clip(tmp_path / "a.mp4", 12), clip(tmp_path / "b.mp4", 20)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from vidkeys.jobs import annotate_file\n"
        "for src, out in zip(sys.argv[1::2], sys.argv[2::2]):\n"
        "    annotate_file(Path(src), Path(out), quiet=True)\n"
    )
    fresh, after = tmp_path / "fresh.mp4", tmp_path / "after.mp4"
    for args in ([a, fresh], [b, tmp_path / "b.out.mp4", a, after]):
        subprocess.run([sys.executable, "-c", code, *map(str, args)], check=True, timeout=300)
    assert fresh.read_bytes() == after.read_bytes()
