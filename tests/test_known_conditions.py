"""Known conditions, not bugs: one line saying what to do, nothing half-written."""

from __future__ import annotations

import errno
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vidkeys.batch.manifest import MANIFEST, Record, append_record, open_manifest, read_manifest
from vidkeys.cli import app
from vidkeys.errors import VidkeysError
from vidkeys.training import data as training_data

runner = CliRunner()


def test_a_full_disk_while_the_manifest_is_written_says_what_to_do(tmp_path: Path) -> None:
    class Full:
        name = str(tmp_path / MANIFEST)

        def write(self, text: str) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(VidkeysError, match="No space left on device; free some space and rerun"):
        append_record(Full(), Record("a.mp4", "done"))  # type: ignore[arg-type]


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
