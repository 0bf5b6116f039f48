"""Frames in: streaming decode of videos, images, image folders, stdin, URLs and arrays.

Decoding is a stream: one frame is held at a time, so memory does not grow
with the video's length. Frames that fail to decode mid-stream are skipped
and counted rather than ending the run. A source can be cut to a window of
its time (``start``/``end`` in seconds); frames keep their index and time in
the whole source. (Writing is :mod:`vidkeys.io.writers`.)
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import math
import os
import re
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlparse

import cv2
import numpy as np

from vidkeys.errors import VidkeysError, ffmpeg_errors

if TYPE_CHECKING:
    import av

IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
#: Video file names a folder run takes: what cameras, phones and editors write. A
#: single file is opened by FFmpeg whatever its name.
VIDEO_EXTS = frozenset(
    {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts"}
    | {".mts", ".m2ts", ".gif", ".3gp", ".3g2", ".ogv", ".vob", ".mxf", ".dv", ".asf", ".f4v"}
)
#: The largest video frame vidkeys decodes, 225 megapixels (15000 x 15000; a
#: 200-megapixel phone photo is 16320 x 12240): past it a frame takes gigabytes,
#: and a file of a few bytes can declare one (a GIF of 16000 x 16000 frames).
MAX_FRAME_PIXELS = 15000 * 15000
T = TypeVar("T")
#: Seconds a URL may send nothing (opening, or mid-stream) before it is given up;
#: ``VIDKEYS_NETWORK_TIMEOUT`` sets another.
NETWORK_TIMEOUT = 30.0
#: Seconds a stop waits for a decode thread to let go of the decoder.
CLOSE_WAIT = 1.0
#: What an input argument is read from: ``-`` is stdin.
STDIN = "-"
#: Image folders and frame iterables without a rate of their own.
DEFAULT_FPS = 30.0
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
#: In MPEG-TS and MPEG-PS, a jump of the decode times back by more than
#: JOIN_BACK seconds, or forward by more than JOIN_FORWARD, is where two
#: recordings were joined (the thresholds the ffmpeg tool uses).
JOIN_BACK, JOIN_FORWARD = 0.1, 10.0
#: The most bytes of packets held, undecoded, on the way to ``--start``: past
#: it (a stream with no key frames) decoding goes on from the held packets.
HELD_BYTES = 64 * 1024 * 1024


def network_timeout() -> float:
    """:data:`NETWORK_TIMEOUT`, or ``$VIDKEYS_NETWORK_TIMEOUT`` seconds when set to a number > 0."""
    with contextlib.suppress(ValueError):
        value = float(os.environ.get("VIDKEYS_NETWORK_TIMEOUT", ""))
        if value > 0 and math.isfinite(value):
            return value
    return NETWORK_TIMEOUT


def interruptible(call: Callable[[], T]) -> T:
    """``call()`` in a helper thread, waited for in short steps: a wait inside FFmpeg
    (opening a URL, reading stdin) cannot hold off Ctrl-C or SIGTERM, whose
    handler runs between the steps. A call left behind ends with the process."""
    result: list = []

    def run() -> None:
        try:
            result.append((call(), None))
        except BaseException as exc:  # handed to the caller
            result.append((None, exc))

    helper = threading.Thread(target=run, name="vidkeys-open", daemon=True)
    helper.start()
    while helper.is_alive():
        helper.join(0.1)
    value, exc = result[0]
    if exc is not None:
        raise exc
    return value


def is_url(source: object) -> bool:
    """True for ``scheme://...`` inputs (http, https, rtsp, ...), which FFmpeg opens."""
    return isinstance(source, str) and bool(_URL.match(source))


def is_stream(source: object) -> bool:
    """True for inputs that are not local files: a URL or stdin (``-``)."""
    return is_url(source) or str(source) == STDIN


def source_stem(source: str | Path) -> str:
    """The name an input's outputs are named after: a file's stem, a URL's last part."""
    if is_url(str(source)):
        return Path(urlparse(str(source)).path).stem or "stream"
    if str(source) == STDIN:
        return "stdin"
    path = Path(source)
    return path.name if path.is_dir() else path.stem


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
    """What the source is: ``kind`` is ``video``, ``image``, ``animation``, ``folder`` or ``frames``
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
    #: What to open again to read the audio (a path or URL; "" for stdin and arrays).
    location: str = ""
    #: The stream's own time (s) that ``--start 0`` means: frame timestamps are this
    #: plus the time from the start (an MPEG-TS file's clock starts near 1.4 s).
    start: float = 0.0


def is_image(path: Path) -> bool:
    """True for still-image file names (by extension)."""
    return path.suffix.lower() in IMAGE_EXTS


def is_hidden(path: Path) -> bool:
    """Hidden files, macOS's ``._NAME`` resource forks among them: never a folder's frames
    or a batch's inputs (a ``._frame0.png`` is not a PNG)."""
    return path.name.startswith(".")


_ROTATE = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}


def _upright(image: np.ndarray, rotation: int) -> np.ndarray:
    code = _ROTATE.get(rotation)
    return image if code is None else cv2.rotate(image, code)


def check_window(start: float | None, end: float | None) -> None:
    """A usable ``start``/``end`` pair (seconds), or one error line."""
    if start is not None and (start < 0 or not math.isfinite(start)):
        raise VidkeysError(f"--start must be a time in seconds >= 0, got {start}")
    if end is not None and (end <= 0 or not math.isfinite(end)):
        raise VidkeysError(f"--end must be a time in seconds > 0, got {end}")
    if start is not None and end is not None and end <= start:
        raise VidkeysError(f"--end ({end} s) must come after --start ({start} s)")


class _Window:
    """Which frame times of a source are wanted (``start <= t < end``, seconds from its start)."""

    def __init__(self, start: float | None, end: float | None, fps: float) -> None:
        check_window(start, end)
        self.start, self.end = start, end
        # Half a frame of slack: a frame stamped 0.9999 s counts as the one at 1 s.
        self.slack = 0.5 / fps if fps > 0 else 1e-6

    @property
    def whole(self) -> bool:
        return self.start is None and self.end is None

    def before(self, t: float) -> bool:
        return self.start is not None and t < self.start - self.slack

    def after(self, t: float) -> bool:
        return self.end is not None and t >= self.end - self.slack


def clock_restarts(container: av.container.InputContainer) -> bool:
    """True for MPEG-TS and MPEG-PS (FFmpeg's "discontinuous times" formats), whose
    clock may restart mid-file where recordings were joined."""
    import av

    return bool(container.format.flags & av.format.Flags.ts_discont.value)


class Timeline:
    """A stream's times in time-base units, made continuous where recordings were joined.

    MPEG-TS and MPEG-PS files are often several recordings end to end (a
    camera's split files joined with ``cat``, a capture across a broadcast's
    clock reset): each part has its own clock. As players and the ffmpeg tool
    do, a part starts where the decode times jump (:data:`JOIN_BACK`,
    :data:`JOIN_FORWARD`) and is timed to follow the part before it (its
    last packet and that packet's duration; ``step`` where none is given).
    Packets are timed as they are demuxed; a frame takes its own packet's
    offset (by its time stamp), since the decoder hands frames out later.
    Other containers' times are taken as they are. ``latest`` is the latest
    decode time demuxed, ``end`` the latest presentation time.
    """

    _PENDING = 1024  # offsets kept for frames still inside the decoder

    def __init__(self, joins: bool, step: int, time_base: Fraction) -> None:
        self.joins = joins
        self._step = step  # the last packet's duration
        self._back = JOIN_BACK / time_base
        self._forward = JOIN_FORWARD / time_base
        self._offset = 0
        self._last: int | None = None  # the last decode time, continuous
        self._pending: dict[int, int] = {}  # a packet's own time -> its offset
        self.latest: int | None = None
        self.end: int | None = None

    def packet(self, packet: av.Packet) -> tuple[int | None, int | None]:
        """The packet's (presentation, decode) times on the continuous timeline."""
        pts, dts = packet.pts, packet.dts
        if self.joins and dts is not None:
            if self._last is not None:
                jump = dts + self._offset - self._last
                if jump < -self._back or jump > self._forward:
                    self._offset = self._last + self._step - dts
            self._last = dts + self._offset
            self._step = packet.duration or self._step
            if pts is not None:
                self._pending[pts] = self._offset
                if len(self._pending) > self._PENDING:  # frames that never came out
                    del self._pending[next(iter(self._pending))]
        if dts is not None:
            dts += self._offset
            self.latest = dts if self.latest is None else max(self.latest, dts)
        if pts is not None:
            pts += self._offset
            self.end = pts if self.end is None else max(self.end, pts)
        return pts, dts

    def frame(self, pts: int) -> int:
        """A decoded frame's time on the continuous timeline."""
        if not self.joins:
            return pts
        return pts + self._pending.pop(pts, self._offset)


class FrameSource:
    """Iterate the frames of a video file, a still image, a folder of images, stdin or a URL.

    A still image is a one-frame video; a folder is its images in name order,
    one frame each at ``fps`` (default 30). ``-`` reads a video from stdin
    (a stream format such as MKV, MPEG-TS or fragmented MP4: stdin cannot
    seek); a ``scheme://`` input is opened by FFmpeg (http, https, rtsp...).
    ``start``/``end`` (seconds from the source's start) keep only the frames
    in that window, chosen by their own time stamps (decoding starts at the
    last key frame before ``start``). After iterating, ``decoded`` counts the
    frames yielded, ``expected`` the frames the source holds (as its
    container declares them, or as the time stamps show: an MPEG-TS or
    MPEG-PS file, whose declared length is an estimate, by its stream alone),
    and ``skipped`` the difference: frames lost to decoding errors or to a
    file cut short.
    """

    def __init__(
        self,
        path: Path | str,
        gray: bool = False,
        fps: float | None = None,
        start: float | None = None,
        end: float | None = None,
    ) -> None:
        text = str(path)
        self.url = text if is_url(text) else None
        self.stdin = text == STDIN
        self.label = text if self.url or self.stdin else str(Path(path))
        self.path = Path(urlparse(text).path or "stream") if self.url else Path(path)
        self.gray = gray
        self.decoded = 0
        self.expected: int | None = None
        self._failed = 0  # packets or images that could not be decoded
        self._discarded = 0  # packets the container's edit list drops
        self._skip_to: int | None = None  # a window's start: packets before it are not decoded
        self._seeked = False  # the demuxer was moved by a seek (it may land past a key frame)
        self._eof = False  # the demuxer reached the end of the file
        self._container: av.container.InputContainer | None = None
        self._lock = threading.Lock()
        self._abandoned = False
        if fps is not None and (fps <= 0 or not math.isfinite(fps)):
            raise VidkeysError(f"--fps must be a rate > 0, got {fps}")
        check_window(start, end)
        self._start, self._end = start, end
        if self.url or self.stdin:
            self._images = []
            self.info = self._open_video(fps)
            return
        check_input(self.path)
        if self.path.is_dir():
            self._images = sorted(
                p for p in self.path.iterdir() if is_image(p) and not is_hidden(p)
            )
            if not self._images:
                raise VidkeysError(f"{self.path}: folder holds no images")
            first = self._read_image(self._images[0])
            h, w = first.shape[:2]
            rate = fps or DEFAULT_FPS
            self.info = SourceInfo(self.path, "folder", w, h, rate, len(self._images), False)
        elif is_image(self.path) and (animation := _read_animation(self.path)) is not None:
            # An animated WebP or PNG: its frames, at their own times.
            self._images = []
            self._animation = animation
            frames, times = animation
            h, w = frames[0].shape[:2]
            rate = (len(times) - 1) / times[-1] if times[-1] > 0 else DEFAULT_FPS
            self.info = SourceInfo(self.path, "animation", w, h, rate, len(frames), False)
        elif is_image(self.path):
            if start is not None or end is not None:
                raise VidkeysError(
                    f"{self.path}: an image has no time: --start and --end are for videos "
                    "and image folders"
                )
            self._images = [self.path]
            h, w = self._read_image(self.path).shape[:2]
            self.info = SourceInfo(self.path, "image", w, h, 0.0, 1, False)
        else:
            self._images = []
            self.info = self._open_video(fps)

    @property
    def skipped(self) -> int:
        """Frames of the source that were not yielded (known once iteration ends)."""
        if self.expected is None:
            return self._failed
        return max(0, self.expected - self.decoded)

    def _open_video(self, fps: float | None) -> SourceInfo:
        import av

        if fps is not None:
            raise VidkeysError(
                f"{self.label}: --fps is for image folders (and the API's frame iterables); "
                "a video has its own frame rate"
            )
        try:
            wait = network_timeout()
            if self.stdin:
                self._container = interruptible(lambda: av.open("pipe:0"))
            elif self.url:
                url = self.url
                self._container = interruptible(lambda: av.open(url, timeout=wait))
            else:
                self._container = av.open(str(self.path))
        except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
            if self.url or self.stdin:
                what = f"cannot open {'stdin' if self.stdin else 'the URL'} as a video"
                reason = _first_line(exc)
                if self.url and "Immediate exit requested" in reason:  # FFmpeg's timeout
                    reason = f"the server sent nothing for {wait:g} s"
                raise VidkeysError(f"{self.label}: {what} ({reason})") from exc
            raise VidkeysError(f"{self.path}: {_open_error(self.path, exc)}") from exc
        if not self._container.streams.video:
            self.close()
            raise VidkeysError(f"{self.label}: no video stream in the file")
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"  # frame threads: decoding keeps up at 1080p
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        self._rate = Fraction(rate)
        w, h = stream.codec_context.width, stream.codec_context.height
        if not w or not h:
            self.close()
            raise VidkeysError(f"{self.label}: video stream has no frame size")
        if w * h > MAX_FRAME_PIXELS:
            self.close()
            raise VidkeysError(
                f"{self.label}: frames of {w}x{h} are over the {MAX_FRAME_PIXELS / 1e6:.0f} "
                "megapixels vidkeys reads (a damaged file, or a decompression bomb)"
            )
        # MPEG-TS and MPEG-PS times may restart where recordings were joined.
        joins = clock_restarts(self._container)
        tb = stream.time_base or Fraction(1, 90000)
        self._timeline = Timeline(joins, max(1, round(1 / (self._rate * tb))), tb)
        self._exact = bool(stream.frames)
        declared = stream.frames or None
        if declared is None:
            seconds = None
            if stream.duration and stream.time_base:
                seconds = float(stream.duration * stream.time_base)
            elif self._container.duration:
                seconds = self._container.duration / av.time_base
                # Matroska's duration is where its last frame ends, counted
                # from time 0: a file whose times start later (cut from a
                # longer recording at 30 s) holds only the span from its start.
                begin = self._container.start_time or 0
                if "matroska" in self._container.format.name and begin > 0:
                    seconds -= begin / av.time_base
            if seconds:
                declared = round(seconds * float(rate)) or None
        # An MPEG-TS or MPEG-PS duration is read off the file's own first and
        # last times: it cannot say that frames are missing (and is wrong for
        # joined recordings), so only the stream itself counts them.
        self._declared = None if joins else declared
        # Decode the first frame now: its display matrix gives the rotation
        # (and a file with no decodable frame fails before any output exists).
        self._av_frames = self._decode()
        frames = self._av_frames
        self._first = (
            interruptible(lambda: next(frames, None))
            if self.url or self.stdin
            else next(frames, None)
        )
        if self._first is None:
            self.close()
            hint = ""
            if self.stdin:
                hint = (
                    " (stdin cannot seek: send a stream format such as MKV, MPEG-TS or "
                    "fragmented MP4, e.g. ffmpeg ... -f matroska -)"
                )
            raise VidkeysError(f"{self.label}: no frame could be decoded{hint}")
        if self._first.pts is None:
            # A raw stream (an .h264 file) has no container times: FFmpeg's
            # average rate is then a guess (25); the codec's own rate (the
            # H.264 timing info) is what the stream was made at.
            own = stream.codec_context.framerate or stream.guessed_rate
            if own:
                self._rate = Fraction(own)
        rotation = round(self._first.rotation or 0) % 360
        rotation = rotation if rotation in _ROTATE else 0
        if rotation in (90, 270):
            w, h = h, w
        # Audio is read again from the source by the writer: not possible from stdin.
        has_audio = bool(self._container.streams.audio) and not self.stdin
        location = "" if self.stdin else (self.url or str(self.path))
        origin = stream.start_time if stream.start_time is not None else self._first.pts
        start = float(origin * stream.time_base) if origin is not None and stream.time_base else 0.0
        return SourceInfo(
            self.path, "video", w, h, float(rate), declared, has_audio, rotation, location, start
        )

    def _decode(self) -> Iterator[av.VideoFrame]:
        """The decoder's frames; undecodable packets are counted, a broken container ends it."""
        import av

        assert self._container is not None
        packets = self._packets()
        while True:
            # The lock lets close() run from another thread (an error in the
            # consumer while the decode thread is mid-packet) without a crash.
            with self._lock:
                if self._container is None:
                    return
                if self._abandoned:  # closed while this thread was reading
                    with contextlib.suppress(*ffmpeg_errors(), OSError):
                        self._container.close()
                    self._container = None
                    return
                packet = next(packets, None)
                if packet is None:
                    return
                try:
                    frames = packet.decode()
                except (av.FFmpegError, OSError):
                    self._failed += 1
                    continue
            yield from frames

    def _packets(self) -> Iterator[av.Packet]:
        """The video packets to decode, in order (taken under the lock).

        While ``_skip_to`` is set (a window's start), packets are held, not
        decoded, from each key frame at or before it on; once the stream
        reaches it, decoding starts at the last such key frame, so every
        frame from there on comes out whole and frames before the window are
        never decoded. After a seek that did not land on such a key frame (an
        MPEG or Ogg seek can land past it), the demuxer goes back to the
        stream's start.
        """
        import av

        assert self._container is not None
        stream = self._container.streams.video[0]
        packets = self._container.demux(stream)
        held: list[av.Packet] = []
        size = 0
        anchored = not self._seeked  # held packets start where decoding can start
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                self._eof = True
                yield from held
                return
            except (av.FFmpegError, OSError):  # a broken container: stop, keep what we have
                yield from held
                return
            if packet.is_discard:  # dropped by the container's edit list
                self._discarded += 1
            pts, dts = self._timeline.packet(packet)
            skip = self._skip_to
            if skip is None:
                yield packet
                continue
            if packet.is_keyframe and pts is not None and pts <= skip:
                held, size, anchored = [packet], packet.size, True
                continue
            when = dts if dts is not None else pts
            if packet.size and (when is None or when < skip) and size + packet.size <= HELD_BYTES:
                held.append(packet)
                size += packet.size
                continue
            if not anchored and self._rewind():
                packets = self._container.demux(stream)
                held, size, anchored = [], 0, True
                continue
            self._skip_to = None
            yield from held
            yield packet
            held = []

    def _rewind(self) -> bool:
        """Send the demuxer back to the stream's start (under the lock); True if done."""
        import av

        assert self._container is not None
        try:
            self._container.seek(0)
        except (av.FFmpegError, OSError):
            return False
        self._container.streams.video[0].codec_context.flush_buffers()
        self._seeked = False
        return True

    def _read_image(self, path: Path) -> np.ndarray:
        # Always in colour: OpenCV's IMREAD_GRAYSCALE converts differently from
        # cvtColor, and the grey the detector and CNN see must not depend on
        # whether a video is being written (annotate and export-csv agree).
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
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
        window = _Window(self._start, self._end, fps)
        self.expected = 0
        if self.info.kind == "animation":
            for i, (image, t) in enumerate(zip(*self._animation, strict=True)):
                if window.before(t):
                    continue
                if window.after(t):
                    break
                self.expected += 1
                self.decoded += 1
                gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
                yield Frame(i, t, gray, None if self.gray else image)
            return
        for i, path in enumerate(self._images):
            t = i / fps if self.info.kind == "folder" else 0.0
            if window.before(t):
                continue
            if window.after(t):
                break
            self.expected += 1
            try:
                image = self._read_image(path)
            except VidkeysError:
                self._failed += 1
                continue
            self.decoded += 1
            gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            yield Frame(i, t, gray, None if self.gray else image)

    def _iter_video(self) -> Iterator[Frame]:
        assert self._container is not None
        stream = self._container.streams.video[0]
        tb, rate, rotation = stream.time_base, self._rate, self.info.rotation
        start = stream.start_time
        prev, on_grid = -1, True
        gaps: list[tuple[int, int]] = []  # (first slot, slots) of the grid without a frame
        window = _Window(self._start, self._end, float(rate))
        first_index: int | None = None  # the first frame in the window
        frames = self._av_frames
        first, self._first = self._first, None
        if first is not None:
            if start is None and first.pts is not None:
                start = first.pts
            if self._skip(window, stream, start):
                first = None  # the decoder now starts at the keyframe before --start
                frames = self._av_frames
        if first is not None:
            frames = itertools.chain([first], frames)
        for frame in frames:
            failed_before = self._failed
            if frame.pts is None or tb is None:
                index = prev + 1
                t = index / float(rate)
                rel = t
            else:
                pts = self._timeline.frame(frame.pts)
                if start is None:
                    start = pts
                t = float(pts * tb)
                rel = float((pts - start) * tb)
                if window.before(rel):  # decoded on the way from the keyframe
                    continue
                # The index on the stream's frame grid; a variable-rate stream
                # (off the grid, or two frames on one slot) is counted instead.
                slot = (pts - start) * tb * rate
                index = round(slot)
                if on_grid and (abs(slot - index) > 0.25 or index <= prev):
                    on_grid = False
                if not on_grid:
                    index = prev + 1 + (self._failed - failed_before)
                elif index > prev + 1 and (first_index is not None or window.whole):
                    gaps.append((prev + 1, index - prev - 1))
            if window.after(rel):
                break
            prev = index
            if first_index is None:
                first_index = index
                if not window.whole:
                    self._failed = 0  # packets before the window are not the window's
            gray = _upright(frame.to_ndarray(format="gray"), rotation)
            image = None if self.gray else _upright(frame.to_ndarray(format="bgr24"), rotation)
            self.decoded += 1
            yield Frame(index, t, gray, image)
        if not window.whole and self.decoded == 0 and self._failed == 0:
            seconds = self.info.frames / float(rate) if self.info.frames else None
            end = self._timeline.end
            if self._eof and end is not None and start is not None and tb is not None:
                seconds = float((end - start) * tb) + 1 / float(rate)  # the stream's own length
            raise VidkeysError(
                f"{self.label}: no frame from {window.start or 0:g} s"
                + (f" to {window.end:g} s" if window.end is not None else " on")
                + (f" (the video is {seconds:.1f} s long)" if seconds else "")
            )
        # Slots after the last packet's decode time were never in the file: a
        # cut by stream copy ends before the B-frames shown just before its
        # last frame. Slots without a frame before it are frames lost.
        latest = self._timeline.latest
        beyond = math.inf
        if latest is not None and start is not None and tb is not None:
            beyond = math.floor((latest - start) * tb * rate)
        cut = sum(max(0, slot + n - max(slot, beyond + 1)) for slot, n in gaps)
        if window.whole:
            self.expected = self._expected(prev + 1 - cut, on_grid)
        else:  # a window: only its own time stamps say what it held
            span = prev + 1 - (first_index or 0) - cut if on_grid and first_index is not None else 0
            self.expected = max(span, self.decoded + self._failed)

    def _skip(
        self, window: _Window, stream: av.video.stream.VideoStream, start: int | None
    ) -> bool:
        """Decode only from the last key frame before ``--start``; True if a seek moved there.

        Packets on the way are demuxed, not decoded (:meth:`_packets`). A local
        file is first moved near ``--start`` by a seek on its times; not an
        MPEG-TS or MPEG-PS file, whose times may restart where recordings were
        joined: it is read from its start, which costs only demuxing.
        """
        import av

        tb = stream.time_base
        if not window.start or tb is None or start is None:
            return False
        skip_to = start + math.floor((window.start - window.slack) / tb)
        if skip_to <= start:
            return False
        self._skip_to = skip_to
        # Local files only: a URL's server may not take ranges (demuxing on drops the rest).
        if self.url or self.stdin or self._timeline.joins:
            return False
        with self._lock:
            if self._container is None:
                return False
            try:
                self._container.seek(skip_to, stream=stream, backward=True)
            except (av.FFmpegError, OSError):
                return False  # not seekable: demux from here and drop what comes before
            stream.codec_context.flush_buffers()
            self._seeked = True
            self._av_frames = self._decode()
        return True

    def _expected(self, slots: int, on_grid: bool) -> int:
        """Frames the source holds: declared by the container, or seen in its time stamps.

        A count from the container's index (MP4, AVI) is the truth, less the
        packets its edit list drops; one estimated from the duration (MKV,
        WebM) is trusted only when clearly more than was seen. On a
        constant-rate stream, gaps in the time stamps are frames lost too
        (``slots``: the grid's slots the file held).
        """
        seen = max(slots if on_grid else 0, self.decoded + self._failed)
        declared = self._declared
        if declared is None:
            return seen
        if self._exact:
            return max(declared - self._discarded, seen)
        return declared if declared - seen > max(1, declared // 50) else seen

    def close(self) -> None:
        """Release the decoder (safe while another thread is decoding).

        A decode thread blocked in a read (a URL whose server stopped sending)
        holds the decoder until the read times out: then the decoder is left to
        that thread, which stops after the read, so a stop never waits on it.
        """
        if not self._lock.acquire(timeout=CLOSE_WAIT):
            self._abandoned = True
            return
        try:
            if self._container is not None:
                with contextlib.suppress(*ffmpeg_errors(), OSError):
                    self._container.close()
                self._container = None
        finally:
            self._lock.release()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ArraySource:
    """Frames the caller already holds (an iterable of BGR or gray arrays) as a source.

    Lets Python users feed frames from their own capture code, and tests feed
    exact pixels without a lossy codec in between. Frame ``i`` is at ``i / fps``
    seconds (``fps`` default 30; it sets the smoothing's time scale too).

    Taken as they come: ``uint8`` grey ``(h, w)`` or ``(h, w, 1)``, BGR
    ``(h, w, 3)``, BGRA ``(h, w, 4)`` (alpha dropped); ``uint16`` (scaled
    down by 257); floats in [0, 1] (scaled by 255; values outside are
    clipped); other integer types clipped to 0-255. Anything else (no pixels,
    other shapes, complex or object arrays) is refused with a
    :class:`VidkeysError` naming the frame.
    """

    def __init__(
        self,
        frames: Iterable[np.ndarray],
        gray: bool = False,
        fps: float | None = None,
        start: float | None = None,
        end: float | None = None,
    ) -> None:
        fps = DEFAULT_FPS if fps is None else fps
        if fps <= 0 or not math.isfinite(fps):
            raise VidkeysError(f"fps must be a rate > 0, got {fps}")
        self.gray = gray
        self.skipped = 0
        self._window = _Window(start, end, fps)
        self._frames = iter(frames)
        first = next(self._frames, None)
        if first is None:
            raise VidkeysError("no frames given")
        self._first: np.ndarray | None = first
        h, w = as_uint8(first, 0).shape[:2]
        self.info = SourceInfo(Path("<frames>"), "frames", w, h, fps, None, False)

    def _frame(self, index: int, timestamp: float, given: np.ndarray) -> Frame:
        image = as_uint8(given, index)
        if np.shares_memory(image, np.asarray(given)):
            # Frames are read ahead: a caller that refills one buffer per frame
            # must not change a frame already taken.
            image = image.copy()
        if image.ndim == 2:
            colour = None if self.gray else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            return Frame(index, timestamp, image, colour)
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        return Frame(index, timestamp, gray, None if self.gray else image)

    def __iter__(self) -> Iterator[Frame]:
        frames = self._frames
        if self._first is not None:
            frames = itertools.chain([self._first], frames)
            self._first = None
        for index, image in enumerate(frames):
            t = index / self.info.fps
            if self._window.before(t):
                continue
            if self._window.after(t):
                break
            yield self._frame(index, t, image)

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> ArraySource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: Image formats that can hold an animation OpenCV reads.
ANIMATED_EXTS = (".webp", ".png", ".apng", ".avif")


def _read_animation(path: Path) -> tuple[list[np.ndarray], list[float]] | None:
    """An animated image's BGR frames and their times (s), or None for a still one.

    Holds every frame in memory: animations are short (a GIF goes through
    FFmpeg, as a video, instead).
    """
    if path.suffix.lower() not in ANIMATED_EXTS or not hasattr(cv2, "imreadanimation"):
        return None
    try:
        ok, animation = cv2.imreadanimation(str(path))
    except cv2.error:
        return None
    if not ok or len(animation.frames) < 2:
        return None
    frames = [
        cv2.cvtColor(f, cv2.COLOR_BGRA2BGR) if f.ndim == 3 and f.shape[2] == 4 else f
        for f in animation.frames
    ]
    frames = [cv2.cvtColor(f, cv2.COLOR_GRAY2BGR) if f.ndim == 2 else f for f in frames]
    starts = np.concatenate([[0.0], np.cumsum(np.asarray(animation.durations, float)[:-1])])
    return frames, list(starts / 1000.0)


def check_input(path: Path) -> None:
    """Refuse, in words, an input path that is not a readable file or folder.

    Says which of: missing, a link to nothing, a loop of links, a named pipe or
    other special file (read those as stdin: ``-``), or no permission.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise VidkeysError(
                f"{path}: a link to {os.readlink(path)}, which does not exist"
            ) from None
        raise VidkeysError(f"input not found: {path}") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise VidkeysError(f"{path}: a loop of symbolic links, not a file") from None
        raise VidkeysError(f"cannot read {path}: {exc.strerror}") from None
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode):
        kind = "a named pipe" if stat.S_ISFIFO(mode) else "a special file"
        raise VidkeysError(
            f"{path} is {kind}: send its stream on stdin instead (vidkeys export-csv - < {path})"
        )
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise VidkeysError(f"{path} is not a file or folder")
    if not os.access(path, os.R_OK):
        raise VidkeysError(f"cannot read {path}: Permission denied")


def as_uint8(image: object, index: int) -> np.ndarray:
    """Frame ``index`` as a ``uint8`` grey or BGR array (see :class:`ArraySource`)."""
    array = np.asarray(image)
    where = f"frame {index}"
    if array.dtype == object or np.iscomplexobj(array) or array.dtype == bool:
        raise VidkeysError(f"{where}: pixels of type {array.dtype} are not an image")
    if array.ndim == 3 and array.shape[2] in (1, 3, 4):
        array = array[:, :, 0] if array.shape[2] == 1 else array[:, :, :3]
    if array.ndim not in (2, 3) or array.shape[0] < 1 or array.shape[1] < 1:
        raise VidkeysError(
            f"{where}: shape {array.shape} is not an image (height x width, with 1, 3 or 4 "
            "channels)"
        )
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype == np.uint16:
        return (array // 257).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise VidkeysError(f"{where}: NaN or infinite pixels")
        return np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)
    return np.clip(array, 0, 255).astype(np.uint8)


def open_source(
    source: Path | str | Iterable[np.ndarray],
    gray: bool = False,
    fps: float | None = None,
    start: float | None = None,
    end: float | None = None,
) -> FrameSource | ArraySource:
    """A :class:`FrameSource` for a path, URL or ``-``, an :class:`ArraySource` for frames.

    ``fps``: the rate of an image folder or of in-memory frames (a video has
    its own); ``start``/``end``: the window of the source to read, in seconds.
    """
    if isinstance(source, (str, Path)):
        return FrameSource(source, gray=gray, fps=fps, start=start, end=end)
    return ArraySource(source, gray=gray, fps=fps, start=start, end=end)


def _first_line(exc: BaseException) -> str:
    text = (getattr(exc, "strerror", None) or str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _open_error(path: Path, exc: BaseException) -> str:
    """Why a file could not be opened as a video, in words (no errno numbers)."""
    if isinstance(exc, (*ffmpeg_errors(), UnicodeDecodeError)) or getattr(exc, "errno", None) in (
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
