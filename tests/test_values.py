"""Values that cannot work are refused before any work; frames the API can convert are taken."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import vidkeys
from tests.helpers import PHOTO, SAMPLE, run_cli
from vidkeys.errors import EXIT_USAGE, VidkeysError


@pytest.mark.parametrize(
    "option",
    [
        ["--scale-factor", "1e9"],
        ["--detect-every", "0"],
        ["--detect-width", "1000000"],
        ["--batch-size", "1000000"],
        ["--min-score", "nan"],
        ["--min-size", "100000"],
        ["--start", "1e308"],
        ["--fps", "1e308"],
    ],
)
def test_an_option_out_of_its_range_is_a_usage_error(tmp_path: Path, option: list[str]) -> None:
    out = tmp_path / "x.csv"
    proc = run_cli(["export-csv", PHOTO, "-o", out, *option])
    assert proc.returncode == EXIT_USAGE, proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


def _photo() -> np.ndarray:
    return cv2.imread(str(PHOTO))


@pytest.mark.parametrize(
    "convert",
    [
        lambda im: im.astype(np.float32) / 255.0,  # floats in [0, 1]
        lambda im: im.astype(np.uint16) * 257,  # 16 bits
        lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2GRAY)[:, :, None],  # (h, w, 1)
        lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2BGRA),  # with alpha
    ],
    ids=["float", "uint16", "hw1", "bgra"],
)
def test_frames_the_api_can_convert_find_the_face(convert) -> None:
    faces = next(iter(vidkeys.process([convert(_photo())]))).faces
    assert len(faces) == 1


@pytest.mark.parametrize(
    ("frame", "words"),
    [
        (np.zeros((0, 0), np.uint8), "not an image"),
        (np.zeros((4, 4, 2, 2), np.uint8), "not an image"),
        (np.array([[object()]]), "not an image"),
        (np.full((8, 8), np.nan), "NaN"),
    ],
)
def test_frames_that_are_not_images_are_refused_by_number(frame, words: str) -> None:
    good = _photo()
    with pytest.raises(VidkeysError, match=f"frame 1: .*{words}"):
        list(vidkeys.process([good, frame]))


def test_frames_of_changing_size_keep_their_faces() -> None:
    big, small = cv2.resize(_photo(), (800, 600)), cv2.resize(_photo(), (320, 320))
    found = [len(r.faces) for r in vidkeys.process([small, big] * 3)]
    assert found == [1] * 6


def test_a_raw_h264_stream_keeps_its_own_frame_rate(tmp_path: Path) -> None:
    """No container times: the stream's own rate (30), not FFmpeg's guess (25)."""
    import av

    raw = tmp_path / "clip.h264"
    with av.open(str(raw), "w", format="h264") as out:
        stream = out.add_stream("libx264", rate=30)
        src = av.open(str(SAMPLE))
        stream.width, stream.height = src.streams.video[0].width, src.streams.video[0].height
        stream.pix_fmt = "yuv420p"
        for frame in src.decode(video=0):
            frame.pts = None
            out.mux(stream.encode(frame.reformat(format="yuv420p")))
        out.mux(stream.encode())
        src.close()
    csv = tmp_path / "clip.csv"
    proc = run_cli(["export-csv", raw, "-o", csv, "-q"])
    assert proc.returncode == 0, proc.stderr
    row = next(ln for ln in csv.read_text().splitlines() if ln.startswith("119,"))
    assert float(row.split(",")[2]) == pytest.approx(119 / 30, abs=0.002)


def test_an_mkv_whose_times_start_late_is_complete(tmp_path: Path) -> None:
    """Times from 30 s on: 120 frames of 120, not a partial result of 1,020."""
    from fractions import Fraction

    import av

    late = tmp_path / "late.mkv"
    with av.open(str(late), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        with av.open(str(SAMPLE)) as src:
            for i, frame in enumerate(src.decode(video=0)):
                small = frame.reformat(width=320, height=240, format="yuv420p")
                small.pts, small.time_base = 30_000 + round(i * 1000 / 30), Fraction(1, 1000)
                out.mux(stream.encode(small))
        out.mux(stream.encode())
    proc = run_cli(["export-csv", late, "-o", tmp_path / "late.csv", "-q"])
    assert proc.returncode == 0, proc.stderr
    assert "partial" not in proc.stderr


def test_a_window_past_the_end_is_an_error_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "past.mp4"
    proc = run_cli(["annotate", SAMPLE, "--start", "100", "-o", out, "-q"])
    assert proc.returncode == 1 and "no frame from 100 s" in proc.stderr, proc.stderr
    assert not out.exists()


def test_start_on_an_image_says_images_have_no_time(tmp_path: Path) -> None:
    proc = run_cli(["annotate", PHOTO, "--start", "1", "-o", tmp_path / "x.png", "-q"])
    assert proc.returncode == 1 and "an image has no time" in proc.stderr, proc.stderr


def test_a_window_keeps_only_its_own_audio(tmp_path: Path) -> None:
    import av

    out = tmp_path / "window.mp4"
    proc = run_cli(["annotate", SAMPLE, "--start", "1", "--end", "2", "-o", out, "-q"])
    assert proc.returncode == 0, proc.stderr
    with av.open(str(out)) as container:
        times = [float(p.pts * p.time_base) for p in container.demux(audio=0) if p.pts is not None]
    assert times and min(times) >= 0.99 and max(times) < 2.0


def _turned(image: np.ndarray, degrees: float) -> np.ndarray:
    m = cv2.getRotationMatrix2D((image.shape[1] / 2, image.shape[0] / 2), degrees, 1.0)
    return cv2.warpAffine(image, m, (image.shape[1], image.shape[0]))


def test_an_animated_webp_is_read_frame_by_frame(tmp_path: Path) -> None:
    animation = cv2.Animation()
    animation.frames = [_turned(_photo(), 2 * i) for i in range(12)]
    animation.durations = [100] * 12
    webp = tmp_path / "wave.webp"
    assert cv2.imwriteanimation(str(webp), animation)
    csv = tmp_path / "wave.csv"
    proc = run_cli(["export-csv", webp, "-o", csv, "-q"])
    assert proc.returncode == 0, proc.stderr
    rows = [ln.split(",") for ln in csv.read_text().splitlines()[1:]]
    assert [int(r[0]) for r in rows] == list(range(12))
    assert float(rows[-1][2]) == pytest.approx(1.1)
    proc = run_cli(["annotate", webp, "-q"], cwd=tmp_path)
    assert proc.returncode == 0 and (tmp_path / "wave.keypoints.mp4").is_file(), proc.stderr


def test_a_folder_of_mixed_sizes_is_neither_stretched_nor_cut(tmp_path: Path) -> None:
    import av

    folder = tmp_path / "shots"
    folder.mkdir()
    for i, size in enumerate([(640, 480), (320, 320), (640, 480)]):
        canvas = np.zeros((size[1], size[0], 3), np.uint8)
        face = cv2.resize(_photo(), (min(size), min(size)))
        canvas[: face.shape[0], : face.shape[1]] = face
        cv2.imwrite(str(folder / f"{i}.png"), canvas)
    out = tmp_path / "shots.mp4"
    proc = run_cli(["annotate", folder, "-o", out, "--csv", tmp_path / "s.csv", "-q"])
    assert proc.returncode == 0, proc.stderr
    assert len((tmp_path / "s.csv").read_text().splitlines()) == 4  # a face in each frame
    with av.open(str(out)) as video:
        frames = [f.to_ndarray(format="gray") for f in video.decode(video=0)]
    small = frames[1]  # 320x320 in a 640x480 video: scaled to fit, black both sides
    assert small.shape == (480, 640)
    assert small[:, :60].max() < 30 and small[:, -60:].max() < 30 and small[:, 200:440].mean() > 40


@pytest.fixture(scope="module")
def gop_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 s of the sample at 30 fps, H.264 with B-frames and a keyframe a second."""
    from fractions import Fraction

    import av

    path = tmp_path_factory.mktemp("gop") / "long.mp4"
    with av.open(str(SAMPLE)) as src:
        frames = [f.to_ndarray(format="rgb24") for f in src.decode(video=0)]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt, stream.options = "yuv420p", {"g": "30", "bf": "2"}
        for i in range(360):
            frame = av.VideoFrame.from_ndarray(frames[i % len(frames)], format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 30)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


@pytest.mark.parametrize("at", [0.4, 1.3, 3.7, 7.9])
def test_an_mp4_cut_with_an_edit_list_is_complete(
    gop_clip: Path, tmp_path: Path, at: float
) -> None:
    """Cut 2 s at ``at`` by stream copy (as ``ffmpeg -ss AT -c copy -t 2`` does): the
    packets from the keyframe before ``at`` are in the file, its edit list hides them."""
    import av

    cut = tmp_path / "cut.mp4"
    with av.open(str(gop_clip)) as src, av.open(str(cut), "w") as out:
        stream = src.streams.video[0]
        copy = out.add_stream_from_template(stream)
        start, end = int(at / stream.time_base), int((at + 2) / stream.time_base)
        src.seek(start, stream=stream, backward=True)
        for packet in src.demux(stream):
            if packet.dts is None or (packet.pts is not None and packet.pts >= end):
                continue  # the end-of-stream marker, frames after the cut
            packet.pts, packet.dts = packet.pts - start, packet.dts - start
            packet.stream = copy
            out.mux(packet)
    with av.open(str(cut)) as check:
        assert check.streams.video[0].frames > 60  # the file holds more than it shows
    csv = tmp_path / "cut.csv"
    proc = run_cli(["export-csv", cut, "-o", csv, "-q"])
    assert proc.returncode == 0 and "partial" not in proc.stderr, proc.stderr
    assert len(csv.read_text().splitlines()) == 61  # 2 s at 30 fps, one face each
