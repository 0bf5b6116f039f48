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


@pytest.mark.parametrize("option", ["--model", "--detector-model"])
def test_a_model_that_is_a_folder_a_pipe_or_a_device_is_named(tmp_path: Path, option) -> None:
    """``--model`` and ``--detector-model`` say what the path is, not "not found"."""
    os.mkfifo(tmp_path / "pipe.onnx")
    photo = Path(__file__).resolve().parents[1] / "samples" / "astronaut.png"
    for path, words in [
        (tmp_path, "is a folder"),
        (tmp_path / "pipe.onnx", "not a regular file"),
        (Path("/dev/null"), "not a regular file"),
    ]:
        proc = run_cli(["export-csv", photo, "-o", tmp_path / "o.csv", option, path], timeout=60)
        assert proc.returncode == EXIT_ERROR, proc.stderr
        assert "not found" not in one_error(proc.stderr, str(path), words)
        assert not (tmp_path / "o.csv").exists()


def test_an_empty_weights_file_without_its_graph_is_called_empty(tmp_path: Path) -> None:
    (tmp_path / "w.pt").write_bytes(b"")
    photo = Path(__file__).resolve().parents[1] / "samples" / "astronaut.png"
    proc = run_cli(["export-csv", photo, "-o", tmp_path / "o.csv", "--model", tmp_path / "w.pt"])
    assert proc.returncode == EXIT_ERROR, proc.stderr
    one_error(proc.stderr, "w.pt", "the file is empty")


def test_a_label_with_coinciding_eye_corners_is_named(tiny_dataset, tmp_path: Path) -> None:
    """One broken label row: eval and train name the row, instead of printing
    Infinity (eval) or blaming the learning rate (train)."""
    csv, images, _ = tiny_dataset
    lines = csv.read_text().splitlines()
    cells = lines[3].split(",")
    cells[1 + 2 * 45 : 1 + 2 * 45 + 2] = cells[1 + 2 * 36 : 1 + 2 * 36 + 2]
    lines[3] = ",".join(cells)
    broken = tmp_path / "broken.csv"
    broken.write_text("\n".join(lines) + "\n")
    for args in (
        ["eval", "--csv", broken, "--images", images],
        ["train", "--csv", broken, "--images", images, "--out", tmp_path / "w.pt", "--epochs", "1"],
    ):
        proc = run_cli(args)
        assert proc.returncode == EXIT_ERROR, proc.stderr
        one_error(proc.stderr, "broken.csv:4", cells[0], "eye corners")
        assert "--lr" not in proc.stderr and "Infinity" not in proc.stdout


def test_eval_json_is_json_without_nan(tiny_dataset) -> None:
    import json

    csv, images, _ = tiny_dataset
    proc = run_cli(["eval", "--csv", csv, "--images", images, "--json"])
    assert proc.returncode == 0, proc.stderr

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} is not JSON")

    result = json.loads(proc.stdout, parse_constant=refuse)
    assert result["n"] == 24


def test_the_input_is_never_overwritten_under_another_name(tmp_path: Path) -> None:
    """``-o`` naming the input as a ``file://`` URL, a symbolic link or a hard link to
    it: refused, the input unchanged."""
    import shutil

    sample = Path(__file__).resolve().parents[1] / "samples" / "astronaut.mp4"
    video = tmp_path / "in.mp4"
    shutil.copy(sample, video)
    before = video.read_bytes()
    (tmp_path / "soft.mp4").symlink_to(video)
    os.link(video, tmp_path / "hard.mp4")
    for source, output in [
        (video.as_uri(), video),
        (video, tmp_path / "soft.mp4"),
        (video, tmp_path / "hard.mp4"),
    ]:
        proc = run_cli(["annotate", source, "-o", output, "-q"], timeout=120)
        assert proc.returncode == EXIT_ERROR, proc.stderr
        one_error(proc.stderr, "would overwrite the input")
        assert video.read_bytes() == before


def test_names_too_long_are_one_line_not_a_bug(tmp_path: Path) -> None:
    """A default output name over 255 bytes, an input path over 4096: one line that
    says the name is too long, never "unexpected"."""
    import shutil

    photo = Path(__file__).resolve().parents[1] / "samples" / "astronaut.png"
    long_name = tmp_path / ("a" * 250 + ".png")
    shutil.copy(photo, long_name)
    deep = str(tmp_path) + "/b" * 2100 + "/x.png"
    for args in (["annotate", long_name], ["export-csv", deep]):
        proc = run_cli(args, timeout=60)
        assert proc.returncode == EXIT_ERROR, proc.stderr
        assert "unexpected" not in one_error(proc.stderr, "name is too long")
    assert sorted(p.name for p in tmp_path.iterdir()) == [long_name.name]


def test_report_of_a_file_named_in_latin1(tmp_path: Path) -> None:
    """A video whose name is Latin-1 bytes (not UTF-8): its CSV and report are written."""
    import shutil

    video = os.path.join(os.fsencode(tmp_path), b"caf\xe9.mp4")
    shutil.copy(Path(__file__).resolve().parents[1] / "samples" / "astronaut.mp4", video)
    name = os.fsdecode(video)
    assert run_cli(["export-csv", name, "-q"], timeout=120).returncode == 0
    csv = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"caf\xe9.keypoints.csv"))
    proc = run_cli(["report", csv, "-q"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    page = os.path.join(os.fsencode(tmp_path), b"caf\xe9.report.html")
    assert b"<html" in Path(os.fsdecode(page)).read_bytes()


def test_train_on_a_full_disk_leaves_no_part_files(tiny_dataset, tmp_path: Path) -> None:
    """``train`` into a private 1 MB tmpfs: one error line, and neither ``.part``
    files nor a ``.pt`` without its ``.onnx`` left behind."""
    pytest.importorskip("torch")
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        csv, images, _ = tiny_dataset
        args = ["train", "--csv", csv, "--images", images, "--out", disk / "w.pt"]
        proc = run_cli([*args, "--epochs", "2", "--batch-size", "4"])
        assert proc.returncode == EXIT_ERROR, proc.stderr
        one_error(proc.stderr, "cannot write")
        left = sorted(p.name for p in disk.iterdir())
        assert not [n for n in left if n.endswith(".part")], left
        assert ("w.pt" in left) == ("w.onnx" in left), left
    finally:
        subprocess.run(["umount", str(disk)])
