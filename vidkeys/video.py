"""Frames in, frames out: streaming decode (videos, images, image folders) and H.264 output.

Decoding is a stream: one frame is held at a time, so memory does not grow
with the video's length. Frames that fail to decode mid-stream are skipped
and counted rather than ending the run.
"""

from __future__ import annotations

import contextlib
import os
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


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its index in the source, time in seconds, pixels.

    ``image`` is BGR ``(h, w, 3)``, or grayscale ``(h, w)`` from a source
    opened with ``gray=True`` (the luma plane straight from the decoder,
    skipping a colour conversion when no video is written).
    """

    index: int
    timestamp: float
    image: np.ndarray


@dataclass(frozen=True)
class SourceInfo:
    """What the source is: ``kind`` is ``video``, ``image``, ``folder`` or ``frames``
    (arrays handed in by the caller); ``frames`` is None when unknown."""

    path: Path
    kind: str
    width: int
    height: int
    fps: float
    frames: int | None
    has_audio: bool


def is_image(path: Path) -> bool:
    """True for still-image file names (by extension)."""
    return path.suffix.lower() in IMAGE_EXTS


class FrameSource:
    """Iterate the frames of a video file, a still image or a folder of images.

    A still image is a one-frame video; a folder is its images in name order,
    one frame each at the given ``fps``. ``skipped`` counts frames that could
    not be decoded.
    """

    def __init__(self, path: Path | str, gray: bool = False, folder_fps: float = 30.0) -> None:
        self.path = Path(path)
        self.gray = gray
        self.skipped = 0
        self._container: av.container.InputContainer | None = None
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

    def _open_video(self) -> SourceInfo:
        try:
            self._container = av.open(str(self.path))
        except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
            raise VidkeysError(
                f"{self.path}: not a video or image file ({_first_line(exc)})"
            ) from exc
        if not self._container.streams.video:
            self._container.close()
            raise VidkeysError(f"{self.path}: no video stream in the file")
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"  # frame threads: decoding keeps up at 1080p
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        w, h = stream.codec_context.width, stream.codec_context.height
        if not w or not h:
            raise VidkeysError(f"{self.path}: video stream has no frame size")
        frames = stream.frames or None
        if frames is None and stream.duration and stream.time_base:
            frames = round(float(stream.duration * stream.time_base) * float(rate)) or None
        has_audio = bool(self._container.streams.audio)
        return SourceInfo(self.path, "video", w, h, float(rate), frames, has_audio)

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
        for i, path in enumerate(self._images):
            try:
                image = self._read_image(path)
            except VidkeysError:
                self.skipped += 1
                continue
            yield Frame(i, i / fps if self.info.kind == "folder" else 0.0, image)

    def _iter_video(self) -> Iterator[Frame]:
        assert self._container is not None
        stream = self._container.streams.video[0]
        fps = self.info.fps
        fmt = "gray" if self.gray else "bgr24"
        index = 0
        packets = self._container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.FFmpegError:  # a broken container: stop here, keep what we have
                self.skipped += 1
                break
            try:
                frames = packet.decode()
            except av.FFmpegError:
                self.skipped += 1
                continue
            for frame in frames:
                t = float(frame.pts * stream.time_base) if frame.pts is not None else index / fps
                yield Frame(index, t, frame.to_ndarray(format=fmt))
                index += 1
        if index == 0:
            raise VidkeysError(f"{self.path}: no frame could be decoded")

    def close(self) -> None:
        """Release the decoder."""
        if self._container is not None:
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

    def _convert(self, image: np.ndarray) -> np.ndarray:
        image = np.asarray(image, dtype=np.uint8)
        if self.gray and image.ndim == 3:
            return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if not self.gray and image.ndim == 2:
            return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        return image

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        if self._first is not None:
            yield Frame(0, 0.0, self._convert(self._first))
            self._first = None
            index = 1
        for image in self._frames:
            yield Frame(index, index / self.info.fps, self._convert(image))
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
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def partial_path(path: Path) -> Path:
    """The temporary name an output is written under until it is complete."""
    return path.with_name(f".{path.name}.part")


class VideoWriter:
    """H.264/MP4 writer that copies the source's audio alongside the frames.

    Frames go to a hidden temporary file that becomes ``path`` only when
    :meth:`close` succeeds, so an interrupted run never leaves a file that
    looks finished. Audio packets are copied from the source in step with the
    video (a second reader on the input), keeping memory constant.
    """

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: float,
        audio_source: Path | None = None,
        crf: int = 23,
    ) -> None:
        self.path = Path(path)
        self._tmp = partial_path(self.path)
        try:
            self._out = av.open(str(self._tmp), "w", format="mp4")
        except (av.FFmpegError, OSError) as exc:
            raise VidkeysError(f"cannot write {self.path}: {_first_line(exc)}") from exc
        rate = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(30)
        self._rate = rate
        self._video = self._out.add_stream("libx264", rate=rate)
        self._video.width, self._video.height = width - width % 2, height - height % 2
        self._video.pix_fmt = "yuv420p"
        self._video.options = {"crf": str(crf), "preset": "veryfast"}
        self._video.thread_type = "AUTO"
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
        pts = max(self._last_pts + 1, round(timestamp * self._rate))
        frame.pts = pts
        frame.time_base = Fraction(1) / self._rate
        self._last_pts = pts
        self._out.mux(self._video.encode(frame))
        self._mux_audio_until(timestamp + 0.5)

    def close(self) -> Path:
        """Flush, close and move the finished file into place."""
        self._out.mux(self._video.encode())
        self._mux_audio_until(None)
        if self._audio is not None and self._transcode:
            self._out.mux(self._audio.encode())
        self._out.close()
        if self._audio_in is not None:
            self._audio_in.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the partial output (after an error or interruption)."""
        with contextlib.suppress(av.FFmpegError):
            self._out.close()
        if self._audio_in is not None:
            self._audio_in.close()
        self._tmp.unlink(missing_ok=True)


def write_image(path: Path, image: np.ndarray) -> Path:
    """Write an image via a temporary name, so a failure leaves nothing behind."""
    tmp = partial_path(path).with_suffix(path.suffix)
    ok = cv2.imwrite(str(tmp), image)
    if not ok:
        tmp.unlink(missing_ok=True)
        raise VidkeysError(f"cannot write image {path}")
    os.replace(tmp, path)
    return path
