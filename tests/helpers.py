"""Paths, reference values and input makers shared by several test modules (test
modules import this, never each other; pytest fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import csv
import functools
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from vidkeys.io.prefetch import THREAD_NAME

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "samples" / "astronaut.mp4"
PHOTO = REPO / "samples" / "astronaut.png"

# Hand-placed on samples/astronaut.png (512 x 512) from a 5x zoom with a
# 10 px grid: iBUG index -> (x, y). Outer and inner eye corners, nose tip,
# mouth corners, chin.
ASTRONAUT_REFERENCE = {
    36: (192.6, 101.6),
    39: (210.0, 102.4),
    42: (240.0, 102.4),
    45: (257.0, 101.0),
    30: (224.0, 126.0),
    48: (202.4, 140.0),
    54: (245.0, 141.0),
    8: (220.0, 179.0),
}


def camera_path() -> np.ndarray:
    """The sample's true photo -> frame affine per frame, ``(n, 2, 3)``."""
    with (REPO / "samples" / "astronaut_path.csv").open() as f:
        rows = list(csv.DictReader(f))
    keys = ["a11", "a12", "a13", "a21", "a22", "a23"]
    return np.array([[float(r[k]) for k in keys] for r in rows]).reshape(-1, 2, 3)


@functools.cache
def _small_photo() -> np.ndarray:
    return cv2.resize(cv2.imread(str(PHOTO)), (240, 240))


def drifting_frame(i: int) -> np.ndarray:
    """Frame ``i`` (BGR, 320x240) of the astronaut drifting sideways, every 60 frames over."""
    img = np.full((240, 320, 3), 50, np.uint8)
    x = 20 + i % 60
    img[:, x : x + 240] = _small_photo()[:, : min(240, 320 - x)]
    return img


def clip(
    path: Path,
    frames: int = 30,
    codec: str = "libx264",
    fmt: str | None = None,
    options: dict[str, str] | None = None,
    times: list[float] | None = None,
    rotate: int = 0,
    shift: int = 0,
) -> Path:
    """A 320x240 clip of the astronaut drifting (:func:`drifting_frame` from ``shift``);
    ``times``: each frame's time (VFR); ``rotate``: stored turned clockwise, with a
    display rotation that turns it back."""
    with av.open(str(path), "w", format=fmt, options=options or {}) as out:
        s = out.add_stream(codec, rate=30)
        w, h = (240, 320) if rotate in (90, 270) else (320, 240)
        s.width, s.height = w, h
        s.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        s.gop_size = 10  # key frames often: a cut file still holds decodable frames
        if rotate:
            s.set_display_rotation(rotate)
        tb = Fraction(1, 1000)
        if times is not None:
            s.codec_context.time_base = tb
        for i in range(frames):
            img = drifting_frame(i + shift)
            if rotate == 90:
                img = cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE)
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            if times is not None:
                frame.pts, frame.time_base = round(times[i] * 1000), tb
            out.mux(s.encode(frame))
        out.mux(s.encode())
    return path


def template_points() -> np.ndarray:
    """A cartoon 68-point face in iBUG order, in a unit box around (0, 0)."""
    t = np.linspace(0, np.pi, 17)
    jaw = np.stack([-0.9 * np.cos(t), -0.2 + 1.1 * np.sin(t)], 1)
    brow_l = np.stack([np.linspace(-0.75, -0.2, 5), [-0.45, -0.55, -0.58, -0.55, -0.5]], 1)
    brow_r = brow_l[::-1] * [-1, 1]
    bridge = np.stack([np.zeros(4), np.linspace(-0.3, 0.15, 4)], 1)
    nostrils = np.stack([np.linspace(-0.18, 0.18, 5), [0.25, 0.28, 0.3, 0.28, 0.25]], 1)

    def eye(cx: float) -> np.ndarray:
        a = np.array([0, 1, 2, 3, 4, 5]) * np.pi / 3
        return np.stack([cx - 0.15 * np.cos(a), -0.3 - 0.06 * np.sin(a)], 1)

    eye_l, eye_r = eye(-0.4), eye(0.4)
    a = np.linspace(0, 2 * np.pi, 13)[:12]
    outer = np.stack([-0.4 * np.cos(a), 0.55 - 0.15 * np.sin(a)], 1)
    b = np.linspace(0, 2 * np.pi, 9)[:8]
    inner = np.stack([-0.25 * np.cos(b), 0.55 - 0.05 * np.sin(b)], 1)
    pts = np.concatenate([jaw, brow_l, brow_r, bridge, nostrils, eye_l, eye_r, outer, inner])
    assert pts.shape == (68, 2)
    return pts


def draw_face(points: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A grey image with a bright blob per keypoint: learnable, with known truth."""
    img = rng.normal(60, 10, (size, size)).clip(0, 255).astype(np.uint8)
    for x, y in points:
        cv2.circle(img, (round(x), round(y)), 2, 220, -1)
    return img


def decoder_threads() -> set[threading.Thread]:
    """The live background decoding threads (:func:`vidkeys.io.prefetch.prefetch`'s workers)."""
    return {t for t in threading.enumerate() if t.name == THREAD_NAME and t.is_alive()}


def run_cli(
    args: list[str], timeout: float = 300, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """The real command, in its own process (exit codes, stderr, tracebacks as a user sees)."""
    return subprocess.run(
        [sys.executable, "-m", "vidkeys.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,  # type: ignore[arg-type]
    )


def one_error(stderr: str, *words: str) -> str:
    """Exactly one ``error:`` line, no traceback; returns the line."""
    assert "Traceback" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def writing_into(folder: Path) -> bool:
    """True while some process holds an output file open under ``folder``: an
    unnamed one (``/proc/PID/fd`` shows ``FOLDER/#INODE (deleted)``) or a part file."""
    prefix = str(folder.resolve())
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(prefix) and (target.endswith("(deleted)") or ".part" in target):
            return True
    return False


def rolled_photo(degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """The sample photo turned in its plane about the face, and the reference points moved."""
    image = cv2.imread(str(PHOTO))
    m = cv2.getRotationMatrix2D((224, 130), degrees, 1.0)
    turned = cv2.warpAffine(image, m, (512, 512), borderMode=cv2.BORDER_REPLICATE)
    ref = np.array(list(ASTRONAUT_REFERENCE.values()), np.float64)
    return turned, ref @ m[:, :2].T + m[:, 2]


@contextlib.contextmanager
def full_disk(folder: Path, free: int = 0) -> Iterator[Path]:
    """A tmpfs mounted at ``folder`` with ``free`` bytes left (needs root)."""
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a full disk needs root (mount a small tmpfs)")
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)])
    if ok.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        with contextlib.suppress(OSError), (folder / "filler").open("wb") as f:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
        if free:
            (folder / "filler").write_bytes(b"\0" * max(0, 256 * 1024 - free - 8192))
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)])


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """``folder`` made unwritable: a read-only bind mount as root, else no write permission."""
    folder.mkdir(exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
        return
    if subprocess.run(["mount", "--bind", str(folder), str(folder)]).returncode != 0:
        pytest.skip("cannot bind-mount here")
    try:
        if subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)]).returncode != 0:
            pytest.skip("cannot remount read-only here")
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)])
