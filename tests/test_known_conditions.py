"""Known conditions, not bugs: one line saying what to do, nothing half-written."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import PHOTO, one_error, run_cli
from vidkeys.batch.manifest import MANIFEST, Record, append_record, open_manifest, read_manifest
from vidkeys.cli import app
from vidkeys.errors import EXIT_ERROR
from vidkeys.training import data as training_data

runner = CliRunner()


PAGE = 4096


@contextlib.contextmanager
def one_page_free(disk: Path) -> Iterator[Path]:
    """A private tmpfs at ``disk`` (root) to be filled by the caller's ``setup``, then
    left with one free page; yields its filler, whose removal frees the disk."""
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a full disk needs root (mount a small tmpfs)")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield disk / "filler"
    finally:
        subprocess.run(["umount", "-l", str(disk)])


def fill(filler: Path, leave: int) -> None:
    """Fill the file system of ``filler`` but ``leave`` bytes (whole pages)."""
    reserve = filler.with_name("reserve")
    reserve.write_bytes(b"\0" * leave)
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    with contextlib.suppress(OSError):
        while True:
            os.write(fd, b"\0" * PAGE)
    os.close(fd)
    reserve.unlink()


def test_a_full_disk_while_the_manifest_is_written_says_what_to_do(tmp_path: Path) -> None:
    """The input's CSV takes the disk's last page; its manifest line, which runs into a
    new page, fails part-way: one error line, the manifest as it was (no half line),
    and a rerun once there is room records the input."""
    photo = tmp_path / "face.png"
    shutil.copy(PHOTO, photo)
    with one_page_free(tmp_path / "disk") as filler:
        out = filler.parent / "out"
        out.mkdir()
        (out / ".vidkeys.lock").write_text("0\n")
        earlier = json.dumps({"input": "earlier.png", "status": "done", "error": ""})
        pad = "x" * (PAGE - 100 - len(earlier) - 1)  # the next line starts 100 bytes before
        (out / MANIFEST).write_text(earlier.replace('""', f'"{pad}"') + "\n")
        before = (out / MANIFEST).read_bytes()
        fill(filler, PAGE)  # room for the CSV (under 4 KB), none for a new manifest page
        args = ["batch", photo, "-o", out, "--csv-only", "-q"]
        proc = run_cli(args)
        assert proc.returncode == EXIT_ERROR, proc.stderr
        one_error(proc.stderr, "cannot write the batch manifest", "No space left on device")
        assert (out / MANIFEST).read_bytes() == before
        assert str(photo) not in read_manifest(out)
        filler.unlink()
        proc = run_cli(args)
        assert proc.returncode == 0, proc.stderr
        assert read_manifest(out)[str(photo)].status == "done"
        lines = (out / MANIFEST).read_text().splitlines()
        assert len(lines) == 2 and all(json.loads(line) for line in lines)


def test_a_manifest_line_cut_short_does_not_swallow_the_next(tmp_path: Path) -> None:
    (tmp_path / MANIFEST).write_text('{"input": "a.mp4", "status": "do')  # torn by a full disk
    with open_manifest(tmp_path / MANIFEST) as manifest:
        append_record(manifest, Record("b.mp4", "done"))
    assert list(read_manifest(tmp_path)) == ["b.mp4"]


def test_no_home_and_no_cache_folder_only_costs_detection(monkeypatch) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("HOME", raising=False)

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert training_data.cache_folder() is None


def test_train_without_onnx_says_so_before_any_work(
    tiny_dataset, tmp_path: Path, monkeypatch
) -> None:
    pytest.importorskip("torch")
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx fails as where it is missing
    csv, images, _ = tiny_dataset
    out = tmp_path / "w.pt"
    args = ["train", "--csv", str(csv), "--images", str(images), "--out", str(out)]
    result = runner.invoke(app, [*args, "--epochs", "1", "--batch-size", "4", "--quiet"])
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "onnx" in lines[0], result.output
    assert not out.exists() and not out.with_name(out.name + ".ckpt").exists()
