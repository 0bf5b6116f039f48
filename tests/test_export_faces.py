"""Aligned faces: `vidkeys.align`'s warp, `vidkeys export-faces`' images and index,
its bad input (size, unwritable or full folder), kills, and `batch --faces`."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import vidkeys
from tests.helpers import SAMPLE, clip, full_disk, one_error, read_only, run_cli
from vidkeys.batch.manifest import MANIFEST
from vidkeys.errors import EXIT_ERROR, EXIT_INTERRUPTED, VidkeysError
from vidkeys.faces.crop import apply_matrix
from vidkeys.jobs import export_faces_file
from vidkeys.outputs.align import EYE_CORNERS, similarity, template
from vidkeys.outputs.faces import INDEX, FaceImages, FaceImageSink

LEFT_EYE, RIGHT_EYE = slice(36, 42), slice(42, 48)


def _moved(points: np.ndarray, degrees: float, scale: float, shift: tuple) -> np.ndarray:
    """``points`` turned, scaled and shifted: a known similarity transform."""
    a = np.deg2rad(degrees)
    rot = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return points @ rot.T + np.array(shift)


def _eyes(points: np.ndarray) -> np.ndarray:
    return np.stack([points[LEFT_EYE].mean(axis=0), points[RIGHT_EYE].mean(axis=0)])


@pytest.mark.parametrize(
    ("degrees", "scale", "shift", "size"),
    [(0, 1.0, (0, 0), 112), (25, 3.1, (400, 250), 112), (-40, 0.6, (30, 90), 64)],
)
def test_moved_template_comes_back(degrees: float, scale: float, shift: tuple, size: int) -> None:
    tpl = template(size)
    face = _moved(template(112), degrees, scale, shift)
    frame = np.full((720, 960, 3), 40, np.uint8)
    for x, y in _eyes(face):  # a bright disc on each eye
        cv2.circle(frame, (round(x), round(y)), max(2, round(4 * scale)), (255, 255, 255), -1)
    aligned = vidkeys.align(frame, face, size)
    assert aligned.image.shape == (size, size, 3)
    assert np.abs(aligned.points - tpl).max() < 1e-6
    assert np.abs(apply_matrix(aligned.matrix, face) - aligned.points).max() < 1e-9
    # The warp itself: the discs are where the template's eyes are.
    bright = aligned.image[:, :, 0] > 128
    for half, eye in zip((slice(0, size // 2), slice(size // 2, size)), _eyes(tpl), strict=True):
        ys, xs = np.nonzero(bright[:, half])
        centre = np.array([xs.mean() + half.start, ys.mean()])
        assert np.linalg.norm(centre - eye) < 1.0, (centre, eye)


def test_eyes_hold_while_the_mouth_and_nose_move() -> None:
    """A smile, a dropped jaw and a nose off to one side move the eyes far less than 1 px."""
    face = template(112).copy()
    face[48:68] += [4.0, -6.0]  # mouth up and aside
    face[27:36, 0] += 5.0  # nose off to one side (a turned head)
    aligned = similarity(face)
    eyes = _eyes(apply_matrix(aligned, face))
    assert np.linalg.norm(eyes - _eyes(template(112)), axis=1).max() < 1.0
    corners = apply_matrix(aligned, face)[list(EYE_CORNERS)]
    assert np.abs(corners - template(112)[list(EYE_CORNERS)]).max() < 1.0


def test_grey_frame_and_bad_points() -> None:
    grey = np.zeros((200, 200), np.uint8)
    face = _moved(template(112), 0, 1.2, (20, 10))
    assert vidkeys.align(grey, face, 48).image.shape == (48, 48)
    with pytest.raises(VidkeysError, match="68 finite"):
        vidkeys.align(grey, face[:5])
    face[3] = np.nan
    with pytest.raises(VidkeysError, match="68 finite"):
        vidkeys.align(grey, face)
    with pytest.raises(VidkeysError, match="--size"):
        vidkeys.align(grey, template(112), 0)


def _index(folder: Path) -> tuple[list[str], list[dict[str, str]]]:
    with (folder / INDEX).open() as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def test_export_faces_writes_images_and_index(tmp_path: Path) -> None:
    out = tmp_path / "faces"
    summary = export_faces_file(SAMPLE, out, FaceImages(every=10), quiet=True)
    header, rows = _index(out)
    assert header == (
        ["frame", "face_id", "timestamp", "confidence", "success", "file"]
        + ["a11", "a12", "a13", "a21", "a22", "a23"]
        + [f"x_{i}" for i in range(68)]
        + [f"y_{i}" for i in range(68)]
    )
    assert [int(r["frame"]) for r in rows] == list(range(0, 120, 10))  # one face a frame
    assert summary.images == len(rows) == 12 and summary.frames == 120
    assert sorted(p.name for p in out.iterdir()) == sorted([INDEX] + [r["file"] for r in rows])
    for r in rows:
        assert r["file"] == f"frame_det_{int(r['face_id']):02d}_{int(r['frame']):06d}.png"
        assert r["success"] == "1"
        image = cv2.imread(str(out / r["file"]), cv2.IMREAD_UNCHANGED)
        assert image.shape == (112, 112, 3)
        pts = np.array([[float(r[f"x_{i}"]), float(r[f"y_{i}"])] for i in range(68)])
        assert np.linalg.norm(_eyes(pts) - _eyes(template(112)), axis=1).max() < 2.0
    # The transform maps the frame's points (export-csv's) to the index's.
    frames = {f.index: f for f in vidkeys.process(SAMPLE)}
    r = rows[3]
    matrix = np.array([float(r[k]) for k in ("a11", "a12", "a13", "a21", "a22", "a23")])
    frame_points = frames[int(r["frame"])].faces.points[0]
    index_points = np.array([[float(r[f"x_{i}"]), float(r[f"y_{i}"])] for i in range(68)])
    assert np.abs(apply_matrix(matrix.reshape(2, 3), frame_points) - index_points).max() < 0.02


def test_grey_jpeg_per_second_and_an_earlier_folder_replaced(tmp_path: Path) -> None:
    out = tmp_path / "faces"
    export_faces_file(SAMPLE, out, FaceImages(every=40), quiet=True)
    options = FaceImages(size=64, gray=True, image_format="jpg", per_second=2)
    export_faces_file(SAMPLE, out, options, quiet=True)
    _, rows = _index(out)
    assert [int(r["frame"]) for r in rows] == list(range(0, 120, 15))  # 30 fps, 2 a second
    assert sorted(p.suffix for p in out.iterdir()) == [".csv"] + [".jpg"] * 8  # none left over
    image = cv2.imread(str(out / rows[0]["file"]), cv2.IMREAD_UNCHANGED)
    assert image.shape == (64, 64)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(VidkeysError, match="holds other files"):
        export_faces_file(SAMPLE, tmp_path / "mine", quiet=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_cli_summary_and_bad_size(tmp_path: Path) -> None:
    proc = run_cli(["export-faces", SAMPLE, "-o", tmp_path / "f", "--every", "60"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("120 frames, 120 faces, 2 images")
    assert str(tmp_path / "f") in proc.stderr
    proc = run_cli(["export-faces", SAMPLE, "-o", tmp_path / "g", "--size", "0"])
    assert proc.returncode == EXIT_ERROR
    one_error(proc.stderr, "--size", "got 0")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_unwritable_folder(tmp_path: Path) -> None:
    with read_only(tmp_path / "ro") as ro:
        proc = run_cli(["export-faces", SAMPLE, "-o", ro / "faces", "-q"])
        assert proc.returncode == EXIT_ERROR
        one_error(proc.stderr, "cannot write", "faces")
        assert list(ro.iterdir()) == []


def test_disk_full_mid_run(tmp_path: Path) -> None:
    with full_disk(tmp_path / "full", free=80_000) as full:
        proc = run_cli(["export-faces", SAMPLE, "-o", full / "faces", "-q"])
        assert proc.returncode == EXIT_ERROR
        one_error(proc.stderr, "faces", "No space left on device")
        assert sorted(p.name for p in full.iterdir()) == ["filler"]  # no folder, no part


def _parts(folder: Path) -> list[Path]:
    return sorted(folder.glob(".vk-*.part"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_mid_run_leaves_no_folder(tmp_path: Path, sig: signal.Signals) -> None:
    src = clip(tmp_path / "long.mp4", 900)
    out = tmp_path / "out"
    out.mkdir()
    args = [sys.executable, "-m", "vidkeys.cli", "export-faces", src, "-o", out / "faces", "-q"]
    proc = subprocess.Popen(list(map(str, args)), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(len(list(p.glob("*.png"))) >= 20 for p in _parts(out)):
        assert proc.poll() is None and time.monotonic() < deadline, "no images came"
        time.sleep(0.05)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert not (out / "faces").exists()  # no image and no index under the output's name
    if sig == signal.SIGTERM:
        assert proc.returncode == EXIT_INTERRUPTED, stderr
        assert "Traceback" not in stderr
        assert list(out.iterdir()) == []
    else:
        assert [p.name.startswith(".") for p in out.iterdir()] == [True]  # hidden, named part
        # The next run beside it clears what the killed one left, and finishes.
        summary = export_faces_file(src, out / "faces", FaceImages(every=100), quiet=True)
        assert _parts(out) == [] and summary.images == 9
        _, rows = _index(out / "faces")
        assert all(cv2.imread(str(out / "faces" / r["file"])) is not None for r in rows)


def test_batch_faces(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    clip(tmp_path / "in" / "a.mp4", 20)
    out = tmp_path / "out"
    args = ["batch", tmp_path / "in", "-o", out, "--faces", "--every", "5", "--workers", "1"]
    proc = run_cli([*args, "-q"])
    assert proc.returncode == 0, proc.stderr
    _, rows = _index(out / "a.faces")
    assert [int(r["frame"]) for r in rows] == [0, 5, 10, 15]
    record = json.loads((out / MANIFEST).read_text().splitlines()[-1])
    assert record["status"] == "done" and record["outputs"] == [str(out / "a.faces")]
    again = run_cli(args)
    assert "1 skipped" in again.stderr
    proc = run_cli(["batch", tmp_path / "in", "-o", tmp_path / "o2", "--size", "64"])
    assert proc.returncode == EXIT_ERROR
    one_error(proc.stderr, "--faces")


def _two_faces(confidence: list[float]) -> vidkeys.FrameResult:
    """A frame with two faces at known places and these confidences."""
    points = np.stack(
        [_moved(template(112), 10, 1.5, (40, 30)), _moved(template(112), 0, 1, (300, 60))]
    )
    n = len(points)
    faces = vidkeys.Faces(
        np.array([3, 7]),
        np.zeros((n, 4)),
        points,
        np.array(confidence),
        np.zeros((n, 3)),
        np.zeros((n, 3)),
        np.ones((n, 68)),
    )
    return vidkeys.FrameResult(4, 0.133, faces, np.full((240, 480, 3), 90, np.uint8))


@pytest.mark.parametrize("all_faces", [False, True])
def test_success_0_faces_only_with_all(tmp_path: Path, all_faces: bool) -> None:
    sink = FaceImageSink(tmp_path, FaceImages(all_faces=all_faces))
    sink.write(_two_faces([0.9, 0.2]))
    sink.close()
    _, rows = _index(tmp_path)
    expected = [("3", "1", "frame_det_03_000004.png")] + (
        [("7", "0", "frame_det_07_000004.png")] if all_faces else []
    )
    assert [(r["face_id"], r["success"], r["file"]) for r in rows] == expected
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [e[2] for e in expected]
    assert sink.images == len(expected)
