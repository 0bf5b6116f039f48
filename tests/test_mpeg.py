"""MPEG-TS and MPEG-PS files (.ts, .mts, .m2ts, .mpg, .vob), made by the real ffmpeg.

Their times are the stream's own: a seek on them can land past the key frame
before the wanted time, a cut by stream copy skips a time slot, recordings
joined end to end restart their clock. A window ``--start A --end B`` must
give exactly the frames of the whole file whose times are in [A, B), and a
valid file must never be called partial; a damaged one still is.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import SAMPLE, run_cli
from vidkeys.errors import EXIT_PARTIAL
from vidkeys.io.sources import FrameSource
from vidkeys.outputs.report import make_report

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")

FPS = 30
#: Windows (start, end) in seconds; those past a file's length are left out.
WINDOWS = [(0.5, 1.5), (0.2, 0.6), (1.7, 2.9), (2.5, None), (7.0, 8.0), (11.5, None)]


def ffmpeg(*args: object) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True)


@pytest.fixture(scope="module")
def mpeg(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """12 s of the sample (three times over) as MPEG-TS and MPEG-PS, with cuts and a join."""
    d = tmp_path_factory.mktemp("mpeg")
    small = ["-stream_loop", "2", "-i", SAMPLE, "-vf", "scale=320:-2", "-an", "-g", "50"]
    ffmpeg(*small, "-c:v", "libx264", "-f", "mpegts", d / "long.ts")
    ffmpeg(*small, "-c:v", "mpeg2video", "-q:v", "5", "-f", "mpeg", d / "long.mpg")
    m2ts = ["-mpegts_m2ts_mode", "1", "-f", "mpegts"]
    ffmpeg("-i", d / "long.ts", "-c", "copy", *m2ts, d / "a.m2ts")
    ffmpeg("-i", d / "long.mpg", "-c", "copy", "-f", "vob", d / "a.vob")
    ffmpeg("-ss", 1, "-i", d / "long.ts", "-c", "copy", "-t", 1, d / "cut.ts")
    ffmpeg("-ss", 1, "-i", d / "long.mpg", "-c", "copy", "-t", 1, d / "cut.mpg")
    ffmpeg("-i", d / "long.ts", "-t", 0.4, "-c", "copy", "-f", "mpegts", d / "cut.MTS")
    (d / "joined.ts").write_bytes((d / "long.ts").read_bytes() * 2)  # cat a.ts a.ts
    return {p.name: p for p in d.iterdir()}


def frames(path: Path, start: float | None = None, end: float | None = None) -> tuple:
    """``([(index, timestamp)], skipped)`` of the frames read from ``path``."""
    with FrameSource(path, gray=True, start=start, end=end) as source:
        got = [(f.index, f.timestamp) for f in source]
        return got, source.skipped


@pytest.mark.parametrize(
    "name", ["long.ts", "a.m2ts", "long.mpg", "a.vob", "cut.ts", "cut.mpg", "cut.MTS", "joined.ts"]
)
def test_a_window_holds_every_frame_of_its_time(mpeg: dict[str, Path], name: str) -> None:
    whole, skipped = frames(mpeg[name])
    assert skipped == 0, f"{name}: a valid file called partial"
    t0 = whole[0][1]
    length = whole[-1][1] - t0
    half = 0.5 / FPS
    tried = 0
    for start, end in [*WINDOWS, (length / 3, 2 * length / 3)]:
        if start >= length:
            continue
        want = [f for f in whole if start - half <= f[1] - t0 < (end or 1e9) - half]
        got, skipped = frames(mpeg[name], start, end)
        assert got == want, (name, start, end, got[:2], want[:2], len(got), len(want))
        assert skipped == 0, (name, start, end)
        tried += 1
    assert tried >= 2


def test_joined_recordings_follow_each_other(mpeg: dict[str, Path]) -> None:
    """``cat a.ts a.ts``: the second recording's clock restarts; its frames follow the
    first's, so the annotated video and the CSV times never run backwards."""
    one, _ = frames(mpeg["long.ts"])
    both, skipped = frames(mpeg["joined.ts"])
    assert skipped == 0 and len(both) == 2 * len(one) == 720
    assert [i for i, _ in both] == list(range(720))
    times = np.array([t for _, t in both])
    assert np.allclose(np.diff(times), 1 / FPS, atol=1e-3)


def test_a_stream_copy_cut_is_complete(mpeg: dict[str, Path], tmp_path: Path) -> None:
    """``ffmpeg -i IN -t 0.4 -c copy OUT.MTS``: the B-frames shown just before the last
    frame are cut off with the packets after it; the file holds 14 frames, all there."""
    csv = tmp_path / "cut.csv"
    proc = run_cli(["export-csv", mpeg["cut.MTS"], "-o", csv, "-q"])
    assert proc.returncode == 0 and "partial" not in proc.stderr, proc.stderr
    assert len({line.split(",")[0] for line in csv.read_text().splitlines()[1:]}) == 14


def test_a_late_window_of_a_vob(mpeg: dict[str, Path], tmp_path: Path) -> None:
    csv = tmp_path / "late.csv"
    proc = run_cli(["export-csv", mpeg["a.vob"], "--start", 7, "--end", 8, "-o", csv, "-q"])
    assert proc.returncode == 0 and "partial" not in proc.stderr, proc.stderr
    indices = sorted({int(line.split(",")[0]) for line in csv.read_text().splitlines()[1:]})
    assert indices == list(range(210, 240))


@pytest.mark.parametrize("name", ["long.ts", "long.mpg"])
def test_a_damaged_file_is_still_partial(mpeg: dict[str, Path], tmp_path: Path, name: str) -> None:
    """8000 random bytes at the middle: the frames lost there leave a gap in the times."""
    data = bytearray(mpeg[name].read_bytes())
    mid = len(data) // 2
    data[mid : mid + 8000] = np.random.default_rng(0).integers(0, 256, 8000, np.uint8).tobytes()
    bad = tmp_path / f"bad{mpeg[name].suffix}"
    bad.write_bytes(bytes(data))
    got, skipped = frames(bad)
    assert skipped > 0 and len(got) + skipped == 360
    _, skipped = frames(bad, 1.0, 2.0)  # far from the damage
    assert skipped == 0
    csv = tmp_path / "bad.csv"
    proc = run_cli(["export-csv", bad, "-o", csv, "-q"])
    assert proc.returncode == EXIT_PARTIAL, proc.stderr
    assert f"{len(got)} of 360 frames" in proc.stderr


def test_report_of_a_ts_file(tmp_path: Path) -> None:
    """The report's thumbnails are read again by time: from an MPEG-TS file too."""
    ts = tmp_path / "astronaut.ts"
    ffmpeg("-i", SAMPLE, "-c:v", "libx264", "-g", "50", "-f", "mpegts", ts)
    summary = make_report(ts, tmp_path / "astronaut.report.html")
    assert summary.faces == 1
    assert summary.output.read_text().count("data:image/jpeg;base64,") == 1


def _spans(video: Path) -> dict[str, tuple[float, float]]:
    """(first, last) packet time in seconds of the video and the audio stream."""
    import av

    spans = {}
    with av.open(str(video)) as container:
        for kind in ("video", "audio"):
            stream = getattr(container.streams, kind)[0]
            packets = container.demux(stream)
            times = [float(p.pts * p.time_base) for p in packets if p.pts is not None]
            container.seek(0)
            spans[kind] = (min(times), max(times))
    return spans


@pytest.mark.parametrize(
    ("name", "audio"), [("talk.vob", ["-c:a", "mp2"]), ("talk.ts", ["-c:a", "copy"])]
)
def test_annotate_a_window_keeps_its_sound_in_step(
    tmp_path: Path, name: str, audio: list[str]
) -> None:
    """MPEG-PS with MP2 sound (re-encoded to AAC) and MPEG-TS with AAC (copied): the
    clock starts near 0.5 or 1.4 s, and the sound of the window is the frames' own."""
    src = tmp_path / name
    ffmpeg("-i", SAMPLE, "-c:v", "libx264" if name.endswith(".ts") else "mpeg2video", *audio, src)
    out = tmp_path / "window.mp4"
    proc = run_cli(["annotate", src, "--start", 2, "--end", 3, "-o", out, "-q"])
    assert proc.returncode == 0, proc.stderr
    spans = _spans(out)
    (v0, v1), (a0, a1) = spans["video"], spans["audio"]
    assert abs(a0 - v0) < 0.05 and abs(a1 - v1) < 0.1, spans


def test_annotate_joined_recordings_with_sound(tmp_path: Path) -> None:
    """``cat a.ts a.ts`` with AAC sound (copied as it is): both recordings, each
    following the one before, the sound too."""
    one = tmp_path / "one.ts"
    ffmpeg("-i", SAMPLE, "-c:v", "libx264", "-c:a", "copy", one)
    joined = tmp_path / "joined.ts"
    joined.write_bytes(one.read_bytes() * 2)
    out = tmp_path / "joined.mp4"
    proc = run_cli(["annotate", joined, "-o", out, "-q"])
    assert proc.returncode == 0, proc.stderr
    spans = _spans(out)
    (v0, v1), (a0, a1) = spans["video"], spans["audio"]
    assert 7.9 < v1 - v0 < 8.0 and abs(a0 - v0) < 0.05 and abs(a1 - v1) < 0.1, spans
