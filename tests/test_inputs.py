"""Inputs and output containers: --start/--end, stdin, URLs, --fps, .mp4/.mov/.mkv, progress."""

from __future__ import annotations

import functools
import http.server
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

import vidkeys
from tests.helpers import PHOTO, SAMPLE
from vidkeys.cli import app
from vidkeys.jobs import SourceOptions, export_file
from vidkeys.outputs import progress

runner = CliRunner()


def _rows(path: Path) -> list[list[str]]:
    return [line.split(",") for line in path.read_text().splitlines()[1:]]


@pytest.fixture(scope="module")
def sample_mkv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample remuxed into Matroska (a stream format: stdin and plain HTTP take it)."""
    out = tmp_path_factory.mktemp("mkv") / "astronaut.mkv"
    with av.open(str(SAMPLE)) as src, av.open(str(out), "w", format="matroska") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is None:
                continue
            packet.stream = stream
            dst.mux(packet)
    return out


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A local HTTP server on 127.0.0.1 serving a folder: (folder, base URL)."""
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_start_end_keep_source_index_and_time(tmp_path: Path) -> None:
    out = tmp_path / "w.csv"
    export_file(SAMPLE, out, quiet=True, inputs=SourceOptions(start=1.0, end=2.0))
    frames = [int(r[0]) for r in _rows(out)]
    times = [float(r[2]) for r in _rows(out)]
    assert frames == list(range(30, 60))  # the sample is 30 fps
    assert times[0] == pytest.approx(1.0, abs=1e-3)
    result = runner.invoke(app, ["export-csv", str(SAMPLE), "--start", "2", "--end", "1"])
    assert result.exit_code == 1 and "must come after" in result.stderr


def _export_from_stdin(video: Path, out: Path) -> subprocess.CompletedProcess:
    """``vidkeys export-csv - -o OUT`` with ``video``'s bytes piped in."""
    with video.open("rb") as f:
        return subprocess.run(
            [sys.executable, "-m", "vidkeys.cli", "export-csv", "-", "-o", str(out), "-q"],
            stdin=f,
            capture_output=True,
            text=True,
            timeout=300,
        )


def test_stdin(tmp_path: Path, sample_mkv: Path) -> None:
    out = tmp_path / "s.csv"
    proc = _export_from_stdin(sample_mkv, out)
    assert proc.returncode == 0, proc.stderr
    assert len(_rows(out)) == 120
    # MP4 with its index at the end cannot come through a pipe: one line says why.
    proc = _export_from_stdin(SAMPLE, out)
    assert proc.returncode == 1 and "stdin cannot seek" in proc.stderr


def test_url(
    http_root: tuple[Path, str], sample_mkv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, base = http_root
    (root / "clip.mkv").write_bytes(sample_mkv.read_bytes())
    here = root / "out"
    here.mkdir()
    monkeypatch.chdir(here)
    result = runner.invoke(app, ["export-csv", f"{base}/clip.mkv", "--end", "1", "-q"])
    assert result.exit_code == 0, result.stderr
    rows = _rows(here / "clip.keypoints.csv")  # named after the URL, in the current folder
    assert [int(r[0]) for r in rows] == list(range(30))
    result = runner.invoke(app, ["export-csv", f"{base}/missing.mkv", "-q"])
    assert result.exit_code == 1 and "404" in result.stderr


def test_fps_for_folders_and_frames(tmp_path: Path) -> None:
    folder = tmp_path / "shots"
    folder.mkdir()
    image = cv2.resize(cv2.imread(str(PHOTO)), (256, 256))
    for i in range(3):
        cv2.imwrite(str(folder / f"{i:03d}.png"), image)
    out = tmp_path / "f.csv"
    export_file(folder, out, quiet=True, inputs=SourceOptions(fps=10))
    assert [float(r[2]) for r in _rows(out)] == pytest.approx([0.0, 0.1, 0.2])
    times = [r.timestamp for r in vidkeys.process([image] * 3, fps=4)]
    assert times == pytest.approx([0.0, 0.25, 0.5])
    assert [r.index for r in vidkeys.process([image] * 4, fps=4, start=0.5)] == [2, 3]
    result = runner.invoke(app, ["export-csv", str(SAMPLE), "--fps", "10"])
    assert result.exit_code == 1 and "--fps is for image folders" in result.stderr


@pytest.mark.parametrize(("ext", "container"), [(".mov", "mov"), (".mkv", "matroska")])
def test_container_follows_extension(tmp_path: Path, ext: str, container: str) -> None:
    out = tmp_path / f"a{ext}"
    args = ["annotate", str(SAMPLE), "-o", str(out), "--end", "0.5", "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    with av.open(str(out)) as f:
        assert container in f.format.name
        assert sum(1 for _ in f.decode(video=0)) == 15


def test_other_outputs_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["annotate", str(SAMPLE), "-o", str(tmp_path / "a.avi")])
    assert result.exit_code == 1 and ".mp4, .mov or .mkv" in result.stderr
    result = runner.invoke(app, ["annotate", str(SAMPLE), "-o", "-"])
    assert result.exit_code == 1 and "stdout" in result.stderr
    assert not list(tmp_path.iterdir())


def test_progress_is_plain_lines_off_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(progress, "PROGRESS_EVERY", 0.0)
    export_file(SAMPLE, tmp_path / "p.csv", inputs=SourceOptions(end=0.2))
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert lines and all("frames" in line for line in lines)
    assert np.all(["astronaut.mp4: " in line for line in lines])


def test_batch_progress_is_plain_lines_off_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "PROGRESS_EVERY", 0.0)
    args = ["batch", str(PHOTO), "-o", str(tmp_path / "out"), "--csv-only", "--workers", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert "\r" not in result.stderr
    assert any(line.startswith("batch: 1 of 1 videos") for line in result.stderr.splitlines())


def test_a_refilled_buffer_keeps_each_frame_its_own_faces() -> None:
    """A generator that refills one array per frame (as capture loops do): the
    read-ahead must not see a later frame's pixels in an earlier frame."""
    photo = cv2.imread(str(Path(__file__).resolve().parents[1] / "samples" / "astronaut.png"))
    for image in (cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY), photo):
        buffer = np.empty_like(image)

        def frames(image=image, buffer=buffer):
            for i in range(12):
                buffer[:] = image if i < 6 else 0
                yield buffer

        results = list(vidkeys.process(frames(), keep_images=True))
        assert [len(r.faces) for r in results] == [1] * 6 + [0] * 6
        assert [int(r.image.max() > 0) for r in results] == [1] * 6 + [0] * 6


def test_a_frame_folder_skips_macos_resource_forks(tmp_path: Path) -> None:
    """A folder of frames copied from a Mac holds ``._NAME.png`` files that are no
    PNGs: they are not frames, and the folder reads as its real images."""
    photo = cv2.imread(str(PHOTO))
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"frame{i}.png"), photo)
    (tmp_path / "._frame0.png").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
    results = list(vidkeys.process(str(tmp_path)))
    assert [len(r.faces) for r in results] == [1, 1, 1]


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    """A 50-byte GIF that declares 16000 x 16000 frames: one error line naming the
    size, exit 1, nothing written (uncapped it took gigabytes and ended "partial")."""
    import struct

    side = struct.pack("<HH", 16000, 16000)
    gif = (
        b"GIF89a" + side + b"\x00\x00\x00"  # screen, no global colours
        + b"\x2c\x00\x00\x00\x00" + side + b"\x80"  # one image, 2 local colours
        + b"\x00\x00\x00\xff\xff\xff"
        + b"\x02\x01\x2c\x00"  # LZW: clear, end
        + b"\x3b"
    )  # fmt: skip
    bomb = tmp_path / "bomb.gif"
    bomb.write_bytes(gif)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vidkeys.cli",
            "export-csv",
            str(bomb),
            "-o",
            str(tmp_path / "o.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "16000x16000" in lines[0] and "megapixels" in lines[0], proc.stderr
    assert not (tmp_path / "o.csv").exists()


def test_frames_one_pixel_wide_or_high_annotate(tmp_path: Path) -> None:
    """1x1 and 1x64 frames (a folder starting with them, a video of them): an
    annotated video, not "unexpected ... (a bug)"."""
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "a.png"), np.zeros((1, 1, 3), np.uint8))
    cv2.imwrite(str(frames / "b.png"), np.zeros((1, 64, 3), np.uint8))
    cv2.imwrite(str(frames / "c.png"), np.zeros((64, 1, 3), np.uint8))
    out = tmp_path / "out.mp4"
    proc = subprocess.run(
        [sys.executable, "-m", "vidkeys.cli", "annotate", str(frames), "-o", str(out), "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    with av.open(str(out)) as video:
        assert sum(1 for _ in video.decode(video=0)) == 3


@pytest.fixture
def stalling_url(tmp_path: Path) -> Iterator[Callable[[int], str]]:
    """A server on 127.0.0.1 that sends the first N bytes of an MKV of the sample
    and then nothing, holding the connection open: ``url(n)``."""
    mkv = tmp_path / "a.mkv"
    with av.open(str(SAMPLE)) as src, av.open(str(mkv), "w") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    data = mkv.read_bytes()
    release = threading.Event()

    class Stall(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: int(self.path.strip("/").split(".")[0])])
            self.wfile.flush()
            release.wait(120)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stall)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield lambda n: f"http://127.0.0.1:{server.server_address[1]}/{n}.mkv"
    finally:
        release.set()
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("sent", [0, 60_000])
def test_a_stalled_url_stops_at_sigterm(stalling_url, tmp_path: Path, sent: int) -> None:
    """A server that stops sending, before the first frame or mid-stream: SIGTERM
    ends the command at once with exit 130 and nothing written."""
    import signal
    import time

    out = tmp_path / "o.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidkeys.cli", "export-csv", stalling_url(sent), "-o", str(out)],
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(4)
    assert proc.poll() is None
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert time.monotonic() - start < 8
    assert not out.exists()


def test_a_url_that_sends_nothing_times_out_naming_it(
    stalling_url, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDKEYS_NETWORK_TIMEOUT", "2")
    url = stalling_url(0)
    proc = subprocess.run(
        [sys.executable, "-m", "vidkeys.cli", "export-csv", url, "-o", "-"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and url in lines[0] and "sent nothing for 2 s" in lines[0], proc.stderr
