"""Outputs that are not vidkeys' to replace, part files nobody else sees, signals.

Special files are private copies (a FIFO and a null device node made in a
temporary folder), never the machine's own ``/dev``.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import PHOTO, SAMPLE, clip, run_cli, writing_into
from vidkeys.errors import EXIT_INTERRUPTED
from vidkeys.io.atomic import AtomicOutputs, stale_parts


def test_a_named_pipe_as_output_is_written_to_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    proc = run_cli(["export-csv", PHOTO, "-o", fifo, "-q"])
    reader.join(timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still the pipe
    lines = got[0].decode().splitlines()
    assert lines[0].startswith("frame") and len(lines) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.csv"]


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_a_null_device_as_output_stays_a_device(tmp_path: Path) -> None:
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a private copy of /dev/null
    proc = run_cli(["export-csv", PHOTO, "-o", null, "-q"])
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISCHR(os.stat(null).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]


def test_a_long_legal_output_name_works(tmp_path: Path) -> None:
    out = tmp_path / ("n" * 246 + ".csv")  # 250 characters, the limit is 255
    proc = run_cli(["export-csv", PHOTO, "-o", out, "-q"])
    assert proc.returncode == 0, proc.stderr
    assert len(out.read_text().splitlines()) == 2


def test_two_writers_of_one_output_do_not_mix(tmp_path: Path) -> None:
    src = clip(tmp_path / "a.mp4", 60)
    out = tmp_path / "same.csv"
    cmd = [sys.executable, "-m", "vidkeys.cli", "export-csv", str(src), "-o", str(out), "-q"]
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    lines = out.read_text().splitlines()
    assert len(lines) == 61 and len({len(ln.split(",")) for ln in lines}) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "same.csv"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, signal.SIGHUP])
def test_a_killed_or_hung_up_run_leaves_nothing(tmp_path: Path, sig: signal.Signals) -> None:
    src = clip(tmp_path / "long.mp4", 300)
    out = tmp_path / "long.keypoints.mp4"
    cmd = [sys.executable, "-m", "vidkeys.cli", "annotate", str(src), "-o", str(out), "-q"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not writing_into(tmp_path):
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if sig != signal.SIGKILL:  # `kill` or a closed terminal: cleaned up as Ctrl-C
        assert proc.returncode == EXIT_INTERRUPTED and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4"]


def test_batch_keeps_other_peoples_part_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    mine = out / ".draft.part"
    mine.write_text("a user's own file")
    alive = out / f".vk-{os.getpid()}-0123abcd.part"  # a live writer's fallback part file
    alive.write_text("")
    dead = out / ".vk-999999999-0123abcd.part"  # a writer that is gone
    dead.write_text("")
    assert stale_parts(out) == [dead]
    proc = run_cli(["batch", SAMPLE, "-o", out, "--csv-only", "-q"])
    assert proc.returncode == 0, proc.stderr
    assert mine.exists() and alive.exists() and not dead.exists()


def test_an_aborted_group_leaves_nothing_and_a_committed_one_everything(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    with AtomicOutputs() as outs:
        for path in (a, b):
            Path(outs.add(path)).write_text(path.name)
    assert list(tmp_path.iterdir()) == []
    with AtomicOutputs() as outs:
        for path in (a, b):
            Path(outs.add(path)).write_text(path.name)
        assert outs.commit() == [a, b]
    assert a.read_text() == "a.txt" and b.read_text() == "b.txt"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_a_failed_commit_leaves_every_earlier_file_as_it_was(tmp_path: Path) -> None:
    """``annotate -o out.mp4 --csv dir/o.csv`` whose folder vanished mid-run: the
    earlier ``out.mp4`` is kept as it was, not deleted by the rollback."""
    from vidkeys.errors import VidkeysError

    old = tmp_path / "out.mp4"
    old.write_text("the earlier result")
    folder = tmp_path / "dir"
    folder.mkdir()
    with AtomicOutputs() as outs:
        Path(outs.add(old)).write_text("new video")
        Path(outs.add(folder / "o.csv")).write_text("new csv")
        folder.rmdir()
        with pytest.raises(VidkeysError, match=r"o\.csv"):
            outs.commit()
    assert old.read_text() == "the earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]
