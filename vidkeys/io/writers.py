"""Frames out: annotated video (H.264 in MP4, MOV or MKV, the source's audio kept) and images.

(Reading is :mod:`vidkeys.io.sources`.)
"""

from __future__ import annotations

import contextlib
import ctypes
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from vidkeys.errors import VidkeysError
from vidkeys.io.sources import Timeline, clock_restarts

#: Video containers by output extension; anything else is refused.
CONTAINERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}
#: Audio codecs each container takes as they are; anything else is re-encoded to AAC.
_COPY_AUDIO = {
    "mp4": frozenset({"aac", "mp3", "alac"}),
    "mov": frozenset({"aac", "mp3", "alac", "pcm_s16le", "pcm_s24le"}),
    "matroska": frozenset(
        {"aac", "mp3", "alac", "opus", "vorbis", "flac", "ac3", "eac3", "pcm_s16le", "pcm_s24le"}
    ),
}
#: H.264 encoder threads (0: x264 picks, about 1.5 per core). Batch workers set
#: their share of the cores, so N workers do not oversubscribe them.
ENCODER_THREADS = 0


def container_for(name: Path | str) -> str:
    """The container an output name asks for (by its extension), or one error line."""
    ext = Path(name).suffix.lower()
    if ext not in CONTAINERS:
        raise VidkeysError(
            f"{name}: a video output must end in .mp4, .mov or .mkv (got {ext or 'no extension'})"
        )
    return CONTAINERS[ext]


def _first_line(exc: BaseException) -> str:
    text = (getattr(exc, "strerror", None) or str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_HEAP_FILLED = False


def _fill_fresh_memory() -> None:
    """Have glibc fill memory it hands out and takes back with a fixed byte.

    libx264's assembly reads some memory it has not written: what is there
    depends on what the process did before, so the same frames gave other
    H.264 bytes from one run (or one batch worker's earlier videos) to the
    next. With a fixed fill (``M_PERTURB``, as ``MALLOC_PERTURB_`` sets it)
    the output is the same bytes every time; the cost was not measurable.
    """
    global _HEAP_FILLED
    if _HEAP_FILLED:
        return
    _HEAP_FILLED = True
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(-6, 0xA5)  # M_PERTURB; glibc only


def letterbox(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` scaled to fit ``width x height`` whole, centred on black: a frame of
    another size than the video's is neither stretched nor cut."""
    h, w = image.shape[:2]
    k = min(width / w, height / h)
    size = (max(1, round(w * k)), max(1, round(h * k)))
    shrink = cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR
    small = cv2.resize(image, size, interpolation=shrink)
    out = np.zeros((height, width, 3), np.uint8)
    x0, y0 = (width - size[0]) // 2, (height - size[1]) // 2
    out[y0 : y0 + size[1], x0 : x0 + size[0]] = small
    return out


class VideoWriter:
    """H.264 writer (MP4, MOV or MKV, by ``name``'s extension) that copies the source's audio.

    Writes exactly ``path`` (callers pass a temporary name from
    :class:`vidkeys.io.atomic.AtomicOutputs`). Frames keep their source times in
    a fine time base (1/90000 s), so a variable-frame-rate source keeps its
    timing. Audio packets are copied from the source in step with the video
    (a second reader on the input), keeping memory constant.
    """

    TIME_BASE = Fraction(1, 90000)

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: float,
        audio_source: Path | str | None = None,
        crf: int = 23,
        name: Path | None = None,
        audio_window: tuple[float | None, float | None] = (None, None),
    ) -> None:
        import av

        self.path = Path(path)
        self.name = Path(name or path)  # for messages: the final name
        self.format = container_for(self.name)
        _fill_fresh_memory()
        try:
            self._out = av.open(str(self.path), "w", format=self.format)
        except (av.FFmpegError, OSError) as exc:
            raise VidkeysError(f"cannot write {self.name}: {_first_line(exc)}") from exc
        rate = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(30)
        self._video = self._out.add_stream("libx264", rate=rate)
        # H.264 in 4:2:0 takes even sides; a 1-pixel-wide frame is letterboxed into 2.
        self._video.width = max(2, width - width % 2)
        self._video.height = max(2, height - height % 2)
        self._video.pix_fmt = "yuv420p"
        self._video.codec_context.time_base = self.TIME_BASE
        self._video.time_base = self.TIME_BASE
        self._video.options = {"crf": str(crf), "preset": "veryfast"}
        self._video.thread_type = "AUTO"
        if ENCODER_THREADS > 0:
            self._video.codec_context.thread_count = ENCODER_THREADS
        self._last_pts = -1
        # The source's audio from --start to --end only (source times, as the video's).
        self._audio_start, self._audio_end = audio_window
        self._audio_in = None
        self._audio = None
        if audio_source is not None:
            self._open_audio(audio_source)

    def _open_audio(self, source: Path | str) -> None:
        import av

        src = av.open(str(source))
        if not src.streams.audio:
            src.close()
            return
        in_stream = src.streams.audio[0]
        self._audio_in = src
        self._audio_packets = src.demux(in_stream)
        self._audio_time_base = in_stream.time_base
        # Joined MPEG-TS recordings: the audio runs on as the frames do.
        self._audio_times = Timeline(clock_restarts(src), 1, in_stream.time_base)
        if in_stream.codec_context.name in _COPY_AUDIO[self.format]:
            self._audio = self._out.add_stream_from_template(in_stream)
            self._transcode = False
        else:
            self._audio = self._out.add_stream(
                "aac", rate=in_stream.codec_context.sample_rate or 48000
            )
            self._transcode = True
        self._pending = None

    def _mux_audio_until(self, t: float | None) -> None:
        """Copy source audio packets whose time is before ``t`` (all when None)."""
        import av

        if self._audio is None:
            return
        while True:
            packet = self._pending
            self._pending = None
            if packet is None:
                try:
                    packet = next(self._audio_packets)
                except (StopIteration, av.FFmpegError):
                    self._audio_packets = iter(())  # source audio exhausted (or broken)
                    break
                if packet.dts is None:  # the demuxer's end-of-stream marker
                    continue
                # Times made continuous (joined MPEG-TS recordings), once a packet.
                packet.pts, packet.dts = self._audio_times.packet(packet)
            when = None if packet.pts is None else float(packet.pts * self._audio_time_base)
            if when is not None and self._audio_end is not None and when >= self._audio_end:
                self._audio_packets = iter(())  # past --end: the rest is not wanted
                break
            if when is not None and t is not None and when > t:
                self._pending = packet
                break
            if when is not None and self._audio_start is not None and when < self._audio_start:
                continue  # before --start
            if self._transcode:
                try:
                    for frame in packet.decode():  # keeps its time: in step with the frames
                        self._out.mux(self._audio.encode(frame))
                except av.FFmpegError:
                    continue
            else:
                packet.stream = self._audio
                self._out.mux(packet)

    def write(self, image: np.ndarray, timestamp: float) -> None:
        """Encode one BGR frame shown at ``timestamp`` seconds."""
        import av

        h, w = self._video.height, self._video.width
        if image.shape[0] not in (h, h + 1) or image.shape[1] not in (w, w + 1):
            image = letterbox(image, w, h)  # a frame of another size (an image folder)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[:h, :w]), format="bgr24")
        pts = max(self._last_pts + 1, round(timestamp / self.TIME_BASE))
        frame.pts = pts
        frame.time_base = self.TIME_BASE
        self._last_pts = pts
        self._out.mux(self._video.encode(frame))
        self._mux_audio_until(timestamp + 0.5)

    def close(self) -> Path:
        """Flush and close the file."""
        self._out.mux(self._video.encode())
        self._mux_audio_until(None)
        if self._audio is not None and self._transcode:
            self._out.mux(self._audio.encode())
        self._out.close()
        self._close_audio()
        return self.path

    def _close_audio(self) -> None:
        import av

        if self._audio_in is not None:
            with contextlib.suppress(av.FFmpegError, OSError):
                self._audio_in.close()
            self._audio_in = None

    def abort(self) -> None:
        """Close without finishing (the caller removes the file); never raises."""
        import av

        with contextlib.suppress(av.FFmpegError, OSError, ValueError):
            self._out.close()
        self._close_audio()


def write_image(path: Path, image: np.ndarray, ext: str) -> Path:
    """Write an image in the format of ``ext`` (``.png``, ``.jpg``) to exactly ``path``."""
    ok, data = cv2.imencode(ext, image)
    if not ok:
        raise VidkeysError(f"cannot encode an image as {ext}")
    path.write_bytes(data.tobytes())
    return path
