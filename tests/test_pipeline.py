"""End to end on the shipped sample: video, CSV, tracks, smoothing, audio, images."""

from __future__ import annotations

import csv
import io
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

import vidkeys
from tests.helpers import ASTRONAUT_REFERENCE, PHOTO, SAMPLE, camera_path
from vidkeys.config import PipelineConfig, TrackerConfig
from vidkeys.jobs import annotate_file, export_file
from vidkeys.keypoints.confidence import SUCCESS_THRESHOLD, landmark_confidence
from vidkeys.outputs.export import COLUMNS, KeypointSink
from vidkeys.results import Faces, FrameResult


def read_video(path: Path) -> tuple[int, int, int, Fraction, list[str]]:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        n = sum(1 for _ in c.decode(video=0))
        kinds = [s.type for s in c.streams]
        return n, v.codec_context.width, v.codec_context.height, v.average_rate, kinds


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("sample")
    video, table = out / "a.mp4", out / "a.csv"
    summary = annotate_file(SAMPLE, video, table, quiet=True)
    assert summary.outputs == [video, table]
    assert summary.frames == 120 and summary.skipped == 0
    return video, table


def test_annotated_video_keeps_frames_size_fps_and_audio(sample_run) -> None:
    video, _ = sample_run
    n, w, h, rate, kinds = read_video(video)
    n0, w0, h0, rate0, _ = read_video(SAMPLE)
    assert (n, w, h, rate) == (n0, w0, h0, rate0) == (120, 640, 360, 30)
    assert kinds == ["video", "audio"]
    with av.open(str(video)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert c.streams.audio[0].codec_context.name == "aac"


def test_csv_columns_and_one_row_per_face_per_frame(sample_run) -> None:
    _, table = sample_run
    with table.open() as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    assert header == COLUMNS
    assert header[:5] == ["frame", "face_id", "timestamp", "confidence", "success"]
    assert header[5:11] == ["pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz"]
    assert header[11] == "x_0" and header[79] == "y_0" and len(header) == 5 + 6 + 136 + 4
    assert [int(r[0]) for r in rows] == list(range(120))  # one face, every frame
    assert {r[1] for r in rows} == {"0"}  # one face keeps one id throughout
    assert float(rows[30][2]) == pytest.approx(1.0, abs=1e-3)  # frame 30 at 30 fps


def test_points_follow_the_known_camera_motion() -> None:
    """Tracked points sit where the camera path puts the hand-placed photo points."""
    path = camera_path()
    idx = list(ASTRONAUT_REFERENCE)
    ref = np.array([ASTRONAUT_REFERENCE[i] for i in idx])
    errors = []
    for result in vidkeys.process(SAMPLE, device="cpu"):
        assert len(result.faces) == 1
        m = path[result.index]
        truth = ref @ m[:, :2].T + m[:, 2]
        iod = np.linalg.norm(truth[0] - truth[3])
        got = result.faces.points[0][idx]
        errors.append(np.linalg.norm(got - truth, axis=1).mean() / iod)
    errors = np.array(errors)
    # Tolerance as a fraction of the eye-corner distance (about 45-70 px here).
    assert np.median(errors) < 0.08, errors.round(3)
    assert errors.max() < 0.15, errors.round(3)


def _still_clip(n: int = 100, sigma: float = 3.0) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    photo = cv2.imread(str(PHOTO)).astype(np.float32)
    return [
        np.clip(photo + rng.normal(0, sigma, photo.shape), 0, 255).astype(np.uint8)
        for _ in range(n)
    ]


def _jitter(frames: list[np.ndarray], smooth: bool) -> tuple[float, float]:
    cfg = PipelineConfig(device="cpu", tracker=TrackerConfig(smooth=smooth))
    pts = np.stack([r.faces.points[0] for r in vidkeys.process(frames, cfg)])
    iod = np.linalg.norm(pts[:, 36] - pts[:, 45], axis=1).mean()
    # Per-point standard deviation over time, after the filter has settled.
    return float(np.linalg.norm(pts[20:].std(axis=0), axis=1).mean()), float(iod)


def test_smoothing_lowers_jitter_on_a_still_face() -> None:
    frames = _still_clip()
    raw, iod = _jitter(frames, smooth=False)
    smoothed, _ = _jitter(frames, smooth=True)
    assert smoothed <= raw / 3
    assert smoothed / iod < 0.002


def test_image_input_annotates_and_exports(tmp_path: Path) -> None:
    out = tmp_path / "face.png"
    summary = annotate_file(PHOTO, out, quiet=True)
    assert summary.frames == 1 and summary.faces == 1
    drawn = cv2.imread(str(out))
    assert drawn.shape == (512, 512, 3)
    assert np.any(drawn != cv2.imread(str(PHOTO)))  # points were drawn
    table = tmp_path / "face.csv"
    export_file(PHOTO, table, quiet=True)
    assert len(table.read_text().splitlines()) == 2


def test_audio_is_reencoded_when_mp4_cannot_hold_it(tmp_path: Path) -> None:
    """A source with PCM audio (as from a camera's .mov) gets AAC in the output."""
    src = tmp_path / "pcm.mov"
    _write_clip(src, 15, audio_codec="pcm_s16le")
    out = tmp_path / "out.mp4"
    annotate_file(src, out, quiet=True)
    with av.open(str(out)) as c:
        assert [s.type for s in c.streams] == ["video", "audio"]
        assert c.streams.audio[0].codec_context.name == "aac"
        assert sum(1 for _ in c.decode(audio=0)) > 0


def test_video_without_faces_gives_header_only_and_unchanged_frames(tmp_path: Path) -> None:
    src = tmp_path / "empty.mp4"
    _write_clip(src, 12, audio_codec=None, face=False)
    table = tmp_path / "empty.csv"
    summary = export_file(src, table, quiet=True)
    assert summary.frames == 12 and summary.faces == 0
    assert table.read_text().splitlines() == [",".join(COLUMNS)]
    out = tmp_path / "empty.keypoints.mp4"
    annotate_file(src, out, quiet=True)
    assert read_video(out)[:3] == (12, 160, 120)


def test_stdout_sink_flushes_every_frame() -> None:
    """`-o -` hands each frame's rows on at once, so a pipe reader sees them live."""

    class Recorder(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            Recorder.flushes += 1

    rec = Recorder()
    sink = KeypointSink("-")
    sink._file = rec  # stdout stand-in
    faces = Faces(
        np.array([3]),
        np.zeros((1, 4)),
        np.ones((1, 68, 2)),
        np.array([0.9]),
        np.zeros((1, 3)),
        np.zeros((1, 3)),
        np.ones((1, 68)),
    )
    for i in range(4):
        sink.write(FrameResult(i, i / 30, faces))
    assert Recorder.flushes == 4
    assert rec.getvalue().count("\n") == 4


def _write_clip(path: Path, n: int, audio_codec: str | None, face: bool = True) -> None:
    """A tiny test video: the photo (or flat grey) with an optional audio track."""
    photo = cv2.resize(cv2.imread(str(PHOTO)), (160, 120)) if face else None
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=30)
        v.width, v.height, v.pix_fmt = 160, 120, "yuv420p"
        a = None
        if audio_codec:
            a = out.add_stream(audio_codec, rate=16000)
            a.layout = "mono"
        for i in range(n):
            img = photo if photo is not None else np.full((120, 160, 3), 90 + i, np.uint8)
            out.mux(v.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
        out.mux(v.encode())
        if a is not None:
            samples = (np.sin(np.arange(16000 * n // 30) / 5) * 3000).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(samples[None], format="s16", layout="mono")
            frame.sample_rate = 16000
            out.mux(a.encode(frame))
            out.mux(a.encode())


def test_process_takes_the_cli_names_flat_and_leaves_the_callers_config_alone() -> None:
    cfg = PipelineConfig()
    run = vidkeys.process([np.zeros((64, 64), np.uint8)], cfg, smooth=False, detect_width=640)
    assert run.config.tracker.smooth is False and run.config.detector.detect_width == 640
    assert cfg.tracker.smooth is True and cfg.detector.detect_width is None
    run = vidkeys.process([np.zeros((64, 64), np.uint8)], detect_every=3, min_neighbors=5)
    assert run.config.detect_every == 3 and run.config.detector.min_neighbors == 5
    with pytest.raises(vidkeys.VidkeysError, match="unknown pipeline option 'bogus'"):
        vidkeys.process([np.zeros((64, 64), np.uint8)], bogus=1)


def test_the_api_and_the_csv_give_one_confidence(sample_run) -> None:
    """``Faces.confidence`` is what the CSV writes, and ``success`` follows from it."""
    _, table = sample_run
    with table.open() as f:
        rows = list(csv.DictReader(f))
    api = [r.faces for r in vidkeys.process(SAMPLE)]
    written = np.array([float(r["confidence"]) for r in rows])
    np.testing.assert_allclose(written, [f.confidence[0] for f in api], atol=1e-3)
    assert [r["success"] == "1" for r in rows] == [c >= SUCCESS_THRESHOLD for c in written]
    assert all(
        np.allclose(f.confidence, landmark_confidence(f.points, f.point_confidence)) for f in api
    )


def test_fast_skips_the_mirror_test_and_lands_near_the_same_points() -> None:
    """``mirror_test=False`` (the CLI's ``--fast``) gives other points, close to the default's."""
    photo = cv2.imread(str(PHOTO))
    full = next(iter(vidkeys.process([photo]))).faces
    fast = next(iter(vidkeys.process([photo], mirror_test=False))).faces
    assert len(full) == len(fast) == 1
    eye = np.linalg.norm(full.points[0, 45] - full.points[0, 36])
    gap = np.linalg.norm(full.points[0] - fast.points[0], axis=1).mean() / eye
    assert 0.001 < gap < 0.05
