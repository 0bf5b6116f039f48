"""Inputs that are not files say what they are; logs get plain lines, never carriage returns."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import one_error, run_cli
from vidkeys.errors import EXIT_ERROR


@pytest.mark.parametrize("command", ["export-csv", "batch"])
def test_a_loop_of_links_a_dangling_link_and_a_pipe_are_named(tmp_path: Path, command) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    (tmp_path / "gone").symlink_to(tmp_path / "nothing-here.mp4")
    os.mkfifo(tmp_path / "pipe")
    for name, words in [
        ("a", "loop of symbolic links"),
        ("gone", "which does not exist"),
        ("pipe", "named pipe"),
    ]:
        extra = ["-o", str(tmp_path / "out")] if command == "batch" else []
        proc = run_cli([command, tmp_path / name, *extra, "-q"], timeout=60)
        assert proc.returncode == EXIT_ERROR, proc.stderr
        assert "input not found" not in one_error(proc.stderr, name, words)


def test_eval_and_train_write_plain_lines_to_a_log(tiny_dataset, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    csv, images, _ = tiny_dataset
    data = ["--csv", csv, "--images", images]
    for args in (
        ["eval", *data],
        ["train", *data, "--out", tmp_path / "w.pt", "--epochs", "1", "--batch-size", "4"],
    ):
        proc = run_cli(args)  # stderr is a pipe here, as a log file is
        assert proc.returncode == 0, proc.stderr
        assert "\r" not in proc.stderr and "Traceback" not in proc.stderr
