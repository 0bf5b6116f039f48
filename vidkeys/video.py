"""Frames in, frames out: streaming decode (videos, images, image folders) and H.264 output.

Decoding is a stream: one frame is held at a time, so memory does not grow
with the video's length. Frames that fail to decode mid-stream are skipped
and counted rather than ending the run.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import itertools
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from vidkeys.errors import VidkeysError

IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_EXTS = frozenset(
    {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts"}
)
#: Audio codecs MP4 takes as they are; anything else is re-encoded to AAC.
_MP4_AUDIO = frozenset({"aac", "mp3", "alac"})
#: H.264 encoder threads (0: x264 picks, about 1.5 per core). Batch workers set
#: their share of the cores, so N workers do not oversubscribe them.
ENCODER_THREADS = 0


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its index in the source, time in seconds, pixels.

    ``index`` is the frame's place in the source (from its time stamp and the
    stream's rate and start time, so frames that could not be decoded leave a
    gap). ``gray`` is always there and made one way for a given source: the
    decoder's luma plane for a video, ``cv2.cvtColor`` for images and arrays.
    ``image`` is BGR ``(h, w, 3)``, or None from a source opened with
    ``gray=True`` (no colour conversion when no video is written). Both are
    upright: a phone video's display rotation is applied.
    """

    index: int
    timestamp: float
    gray: np.ndarray
    image: np.ndarray | None = None


@dataclass(frozen=True)
class SourceInfo:
    """What the source is: ``kind`` is ``video``, ``image``, ``folder`` or ``frames``
    (arrays handed in by the caller); ``frames`` is None when unknown.
    ``width`` and ``height`` are those of the upright frames; ``rotation`` the
    display rotation applied (degrees counter-clockwise, 0, 90, 180 or 270)."""

    path: Path
    kind: str
    width: int
    height: int
    fps: float
    frames: int | None
    has_audio: bool
    rotation: int = 0


def is_image(path: Path) -> bool:
    """True for still-image file names (by extension)."""
    return path.suffix.lower() in IMAGE_EXTS


_ROTATE = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}


def _upright(image: np.ndarray, rotation: int) -> np.ndarray:
    code = _ROTATE.get(rotation)
    return image if code is None else cv2.rotate(image, code)


class FrameSource:
    """Iterate the frames of a video file, a still image or a folder of images.

    A still image is a one-frame video; a folder is its images in name order,
    one frame each at the given ``fps``. After iterating, ``decoded`` counts
    the frames yielded, ``expected`` the frames the source holds (as its
    container declares them, or as the time stamps show), and ``skipped``
    the difference: frames lost to decoding errors or to a file cut short.
    """

    def __init__(self, path: Path | str, gray: bool = False, folder_fps: float = 30.0) -> None:
        self.path = Path(path)
        self.gray = gray
        self.decoded = 0
        self.expected: int | None = None
        self._failed = 0  # packets or images that could not be decoded
        self._discarded = 0  # packets the container's edit list drops
        self._container: av.container.InputContainer | None = None
        self._lock = threading.Lock()
        if not self.path.exists():
            raise VidkeysError(f"input not found: {self.path}")
        if self.path.is_dir():
            self._images = sorted(p for p in self.path.iterdir() if is_image(p))
            if not self._images:
                raise VidkeysError(f"{self.path}: folder holds no images")
            first = self._read_image(self._images[0])
            h, w = first.shape[:2]
            self.info = SourceInfo(self.path, "folder", w, h, folder_fps, len(self._images), False)
        elif is_image(self.path):
            self._images = [self.path]
            h, w = self._read_image(self.path).shape[:2]
            self.info = SourceInfo(self.path, "image", w, h, 0.0, 1, False)
        else:
            self._images = []
            self.info = self._open_video()

    @property
    def skipped(self) -> int:
        """Frames of the source that were not yielded (known once iteration ends)."""
        if self.expected is None:
            return self._failed
        return max(0, self.expected - self.decoded)

    def _open_video(self) -> SourceInfo:
        try:
            self._container = av.open(str(self.path))
        except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
            raise VidkeysError(f"{self.path}: {_open_error(self.path, exc)}") from exc
        if not self._container.streams.video:
            self.close()
            raise VidkeysError(f"{self.path}: no video stream in the file")
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"  # frame threads: decoding keeps up at 1080p
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        self._rate = Fraction(rate)
        w, h = stream.codec_context.width, stream.codec_context.height
        if not w or not h:
            self.close()
            raise VidkeysError(f"{self.path}: video stream has no frame size")
        self._exact = bool(stream.frames)
        declared = stream.frames or None
        if declared is None:
            seconds = None
            if stream.duration and stream.time_base:
                seconds = float(stream.duration * stream.time_base)
            elif self._container.duration:
                seconds = self._container.duration / av.time_base
            if seconds:
                declared = round(seconds * float(rate)) or None
        self._declared = declared
        # Decode the first frame now: its display matrix gives the rotation
        # (and a file with no decodable frame fails before any output exists).
        self._av_frames = self._decode()
        self._first = next(self._av_frames, None)
        if self._first is None:
            self.close()
            raise VidkeysError(f"{self.path}: no frame could be decoded")
        rotation = round(self._first.rotation or 0) % 360
        rotation = rotation if rotation in _ROTATE else 0
        if rotation in (90, 270):
            w, h = h, w
        has_audio = bool(self._container.streams.audio)
        return SourceInfo(self.path, "video", w, h, float(rate), declared, has_audio, rotation)

    def _decode(self) -> Iterator[av.VideoFrame]:
        """The decoder's frames; undecodable packets are counted, a broken container ends it."""
        assert self._container is not None
        packets = self._container.demux(self._container.streams.video[0])
        while True:
            # The lock lets close() run from another thread (an error in the
            # consumer while the decode thread is mid-packet) without a crash.
            with self._lock:
                if self._container is None:
                    return
                try:
                    packet = next(packets)
                except StopIteration:
                    return
                except (av.FFmpegError, OSError):  # a broken container: stop, keep what we have
                    return
                if packet.is_discard:  # dropped by the container's edit list
                    self._discarded += 1
                try:
                    frames = packet.decode()
                except (av.FFmpegError, OSError):
                    self._failed += 1
                    continue
            yield from frames

    def _read_image(self, path: Path) -> np.ndarray:
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE if self.gray else cv2.IMREAD_COLOR)
        if image is None:
            raise VidkeysError(f"cannot read image {path}: not a supported image file")
        return image

    def __iter__(self) -> Iterator[Frame]:
        if self._container is None:
            yield from self._iter_images()
        else:
            yield from self._iter_video()

    def _iter_images(self) -> Iterator[Frame]:
        fps = self.info.fps or 1.0
        self.expected = len(self._images)
        for i, path in enumerate(self._images):
            try:
                image = self._read_image(path)
            except VidkeysError:
                self._failed += 1
                continue
            self.decoded += 1
            t = i / fps if self.info.kind == "folder" else 0.0
            if image.ndim == 2:
                yield Frame(i, t, image)
            else:
                yield Frame(i, t, cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), image)

    def _iter_video(self) -> Iterator[Frame]:
        assert self._container is not None
        stream = self._container.streams.video[0]
        tb, rate, rotation = stream.time_base, self._rate, self.info.rotation
        start = stream.start_time
        prev, on_grid = -1, True
        frames = self._av_frames
        first, self._first = self._first, None
        if first is not None:
            frames = itertools.chain([first], frames)
        for frame in frames:
            failed_before = self._failed
            if frame.pts is None or tb is None:
                index = prev + 1
                t = index / float(rate)
            else:
                if start is None:
                    start = frame.pts
                t = float(frame.pts * tb)
                # The index on the stream's frame grid; a variable-rate stream
                # (off the grid, or two frames on one slot) is counted instead.
                slot = (frame.pts - start) * tb * rate
                index = round(slot)
                if on_grid and (abs(slot - index) > 0.25 or index <= prev):
                    on_grid = False
                if not on_grid:
                    index = prev + 1 + (self._failed - failed_before)
            prev = index
            gray = _upright(frame.to_ndarray(format="gray"), rotation)
            image = None if self.gray else _upright(frame.to_ndarray(format="bgr24"), rotation)
            self.decoded += 1
            yield Frame(index, t, gray, image)
        self.expected = self._expected(prev + 1, on_grid)

    def _expected(self, last: int, on_grid: bool) -> int:
        """Frames the source holds: declared by the container, or seen in its time stamps.

        A count from the container's index (MP4, AVI) is the truth, less the
        packets its edit list drops; one estimated from the duration (MKV,
        WebM) is trusted only when clearly more than was seen. On a
        constant-rate stream, gaps in the time stamps are frames lost too.
        """
        seen = max(last if on_grid else 0, self.decoded + self._failed)
        declared = self._declared
        if declared is None:
            return seen
        if self._exact:
            return max(declared - self._discarded, seen)
        return declared if declared - seen > max(1, declared // 50) else seen

    def close(self) -> None:
        """Release the decoder (safe while another thread is decoding)."""
        with self._lock:
            if self._container is not None:
                with contextlib.suppress(av.FFmpegError, OSError):
                    self._container.close()
                self._container = None

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ArraySource:
    """Frames the caller already holds (an iterable of BGR or gray arrays) as a source.

    Lets Python users feed frames from their own capture code, and tests feed
    exact pixels without a lossy codec in between.
    """

    def __init__(self, frames: Iterable[np.ndarray], gray: bool = False, fps: float = 30.0) -> None:
        self.gray = gray
        self.skipped = 0
        self._frames = iter(frames)
        first = next(self._frames, None)
        if first is None:
            raise VidkeysError("no frames given")
        self._first: np.ndarray | None = first
        h, w = first.shape[:2]
        self.info = SourceInfo(Path("<frames>"), "frames", w, h, fps, None, False)

    def _frame(self, index: int, timestamp: float, image: np.ndarray) -> Frame:
        image = np.asarray(image, dtype=np.uint8)
        if image.ndim == 2:
            colour = None if self.gray else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            return Frame(index, timestamp, image, colour)
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        return Frame(index, timestamp, gray, None if self.gray else image)

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        if self._first is not None:
            yield self._frame(0, 0.0, self._first)
            self._first = None
            index = 1
        for image in self._frames:
            yield self._frame(index, index / self.info.fps, image)
            index += 1

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> ArraySource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(
    source: Path | str | Iterable[np.ndarray], gray: bool = False
) -> FrameSource | ArraySource:
    """A :class:`FrameSource` for a path, an :class:`ArraySource` for in-memory frames."""
    if isinstance(source, (str, Path)):
        return FrameSource(source, gray=gray)
    return ArraySource(source, gray=gray)


def _first_line(exc: BaseException) -> str:
    text = (getattr(exc, "strerror", None) or str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _open_error(path: Path, exc: BaseException) -> str:
    """Why a file could not be opened as a video, in words (no errno numbers)."""
    if isinstance(exc, (av.FFmpegError, UnicodeDecodeError)) or getattr(exc, "errno", None) in (
        None,
        errno.EINVAL,
    ):
        head = b""
        with contextlib.suppress(OSError), open(path, "rb") as f:
            head = f.read(12)
        if head[4:8] == b"ftyp":
            return (
                "the file is cut short or damaged: its index (the MP4 'moov' box) is missing, "
                "so no frame can be read"
            )
        return f"not a video or image file ({_first_line(exc)})"
    return f"cannot read the file ({_first_line(exc)})"


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


class VideoWriter:
    """H.264/MP4 writer that copies the source's audio alongside the frames.

    Writes exactly ``path`` (callers pass a temporary name from
    :class:`vidkeys.atomic.AtomicOutputs`). Frames keep their source times in
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
        audio_source: Path | None = None,
        crf: int = 23,
        name: Path | None = None,
    ) -> None:
        self.path = Path(path)
        self.name = Path(name or path)  # for messages: the final name
        _fill_fresh_memory()
        try:
            self._out = av.open(str(self.path), "w", format="mp4")
        except (av.FFmpegError, OSError) as exc:
            raise VidkeysError(f"cannot write {self.name}: {_first_line(exc)}") from exc
        rate = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(30)
        self._video = self._out.add_stream("libx264", rate=rate)
        self._video.width, self._video.height = width - width % 2, height - height % 2
        self._video.pix_fmt = "yuv420p"
        self._video.codec_context.time_base = self.TIME_BASE
        self._video.time_base = self.TIME_BASE
        self._video.options = {"crf": str(crf), "preset": "veryfast"}
        self._video.thread_type = "AUTO"
        if ENCODER_THREADS > 0:
            self._video.codec_context.thread_count = ENCODER_THREADS
        self._last_pts = -1
        self._audio_in = None
        self._audio = None
        if audio_source is not None:
            self._open_audio(audio_source)

    def _open_audio(self, source: Path) -> None:
        src = av.open(str(source))
        if not src.streams.audio:
            src.close()
            return
        in_stream = src.streams.audio[0]
        self._audio_in = src
        self._audio_packets = src.demux(in_stream)
        self._audio_time_base = in_stream.time_base
        if in_stream.codec_context.name in _MP4_AUDIO:
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
            if (
                t is not None
                and packet.pts is not None
                and float(packet.pts * self._audio_time_base) > t
            ):
                self._pending = packet
                break
            if self._transcode:
                try:
                    for frame in packet.decode():
                        frame.pts = None
                        self._out.mux(self._audio.encode(frame))
                except av.FFmpegError:
                    continue
            else:
                packet.stream = self._audio
                self._out.mux(packet)

    def write(self, image: np.ndarray, timestamp: float) -> None:
        """Encode one BGR frame shown at ``timestamp`` seconds."""
        h, w = self._video.height, self._video.width
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
        if self._audio_in is not None:
            with contextlib.suppress(av.FFmpegError, OSError):
                self._audio_in.close()
            self._audio_in = None

    def abort(self) -> None:
        """Close without finishing (the caller removes the file); never raises."""
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
