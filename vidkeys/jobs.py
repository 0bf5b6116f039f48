"""Whole-file jobs: one input in, finished outputs out (used by the CLI and batch runs).

Each job writes every output under a temporary name and renames them all
only when the whole input is done and every output closed without error (see
:mod:`vidkeys.io.atomic`); on any error or interruption the partial files are
removed, so an output that exists is an output that is complete. An input
that is cut short or damaged gives a *partial* result: the frames that could
be decoded, with ``Summary.partial`` set and :meth:`Summary.warning` saying
how many of how many.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

import numpy as np
from tqdm import tqdm

from vidkeys.config import PipelineConfig
from vidkeys.errors import VidkeysError, ffmpeg_errors
from vidkeys.io.atomic import AtomicOutputs, remove_part, stale_parts
from vidkeys.io.naming import TAG, media_suffix, output_path
from vidkeys.io.sources import STDIN, is_image, is_stream, source_stem
from vidkeys.io.writers import VideoWriter, container_for, write_image
from vidkeys.outputs.annotate import Annotator
from vidkeys.outputs.export import KeypointSink
from vidkeys.outputs.faces import TAG as FACES_TAG
from vidkeys.outputs.faces import FaceImages, FaceImageSink, is_faces_folder
from vidkeys.outputs.progress import PlainProgress, progress
from vidkeys.pipeline import VideoRun
from vidkeys.results import Faces, FrameResult

#: Draws on a BGR frame in place and returns it: an Annotator, an OverlayPainter.
Drawer = Callable[[np.ndarray, Faces], np.ndarray]


@dataclass(frozen=True)
class SourceOptions:
    """How to read an input: ``fps`` of an image folder, the ``start``/``end`` window (s)."""

    fps: float | None = None
    start: float | None = None
    end: float | None = None

    def kwargs(self) -> dict[str, float | None]:
        """As :class:`VideoRun`'s keyword arguments."""
        return {"fps": self.fps, "start": self.start, "end": self.end}


@dataclass
class Summary:
    """Figures of a finished job, for the summary line and batch manifests."""

    input: Path | str
    frames: int = 0
    faces: int = 0
    skipped: int = 0
    #: Frames the source holds (declared by its container or seen in its time stamps).
    expected: int | None = None
    seconds: float = 0.0
    outputs: list[Path] = field(default_factory=list)
    #: Aligned face images written (``export-faces``); None for other jobs.
    images: int | None = None
    #: Seconds per stage (decode, detect, crop, cnn, track, pose, aus, encode, csv).
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        """Frames per second, end to end."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def partial(self) -> bool:
        """True when frames of the source are missing from the outputs."""
        return self.skipped > 0

    def warning(self) -> str:
        """The partial-result line: how many frames of how many made it."""
        total = self.expected if self.expected is not None else self.frames + self.skipped
        return (
            f"warning: {self.input}: partial result, {self.frames} of {total} frames "
            "(the file is cut short or damaged); the missing frames are gaps in `frame`"
        )

    def line(self) -> str:
        """One line for the terminal: frames, faces, speed, where the output went."""
        text = f"{self.frames} frames, {self.faces} faces"
        if self.images is not None:
            text += f", {self.images} images"
        text += f", {self.fps:.1f} fps"
        if self.skipped:
            text += f", {self.skipped} frames missing"
        where = ", ".join(str(p) for p in self.outputs) or "stdout"
        return f"{text} -> {where}"


def _finish(summary: Summary, run: VideoRun, start: float) -> None:
    summary.seconds = time.perf_counter() - start
    summary.frames, summary.faces, summary.skipped = run.frames, run.faces, run.skipped
    summary.expected = getattr(run.source, "expected", None)
    summary.stages = dict(run.stage_seconds)


@contextmanager
def writing(name: Path) -> Iterator[None]:
    """Turn a failed write (disk full, read-only, gone) into one error naming the output."""
    try:
        yield
    except (OSError, *ffmpeg_errors()) as exc:
        if isinstance(exc, BrokenPipeError) and str(name) == "-":
            raise  # the reader of stdout went away: the CLI ends quietly
        reason = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
        raise VidkeysError(f"cannot write {name}: {reason.splitlines()[0]}") from exc


def default_output(source: Path | str, suffix: str, tag: str = TAG) -> Path:
    """``IN.TAG.SUFFIX`` next to the input: the rule of :mod:`vidkeys.io.naming`.

    A URL's outputs go to the current folder, named after the URL's last part;
    stdin has no name to give, so its outputs need ``-o``.
    """
    if str(source) == STDIN:
        raise VidkeysError("input from stdin (-) needs an output name: give -o")
    if is_stream(str(source)):
        return Path(f"{source_stem(source)}.{tag}{suffix}")
    return output_path(Path(source), suffix, tag)


def _input(source: Path | str) -> Path | str:
    """A local input as a Path; a URL or ``-`` as the string it is (a Path would mangle it)."""
    return str(source) if is_stream(str(source)) else Path(source)


def _local_file(source: Path | str) -> Path | None:
    """The file an input reads, when it is one: a path, or a ``file://`` URL's path."""
    text = str(source)
    if text.lower().startswith("file:"):
        return Path(unquote(urlparse(text).path))
    return None if is_stream(text) else Path(source)


def _check_output(source: Path | str, output: Path) -> None:
    if str(output) == STDIN:
        raise VidkeysError("this command writes files: -o - (stdout) is only for export-csv")
    local = _local_file(source)
    # The same file by any name: a file:// URL, a symbolic or a hard link.
    if local is not None and output.exists() and local.exists() and os.path.samefile(output, local):
        raise VidkeysError(f"output {output} would overwrite the input")
    if output.is_dir():
        raise VidkeysError(f"output {output} is a folder; give a file name")
    if not output.parent.is_dir():
        raise VidkeysError(f"output folder does not exist: {output.parent}")


def _progress(run: VideoRun, quiet: bool) -> tqdm | PlainProgress:
    return progress(run.info.path.name, run.info.frames, "frame", quiet)


def annotate_file(
    source: Path,
    output: Path | None = None,
    csv: Path | None = None,
    config: PipelineConfig | None = None,
    annotator: Drawer | None = None,
    quiet: bool = False,
    features: bool = False,
    tag: str = "keypoints",
    inputs: SourceOptions | None = None,
    openface: bool = False,
    point_confidence: bool = False,
) -> Summary:
    """Draw on every face of a video (H.264 in MP4, MOV or MKV, audio kept) or image.

    ``annotator`` does the drawing (default: the keypoints); ``tag`` names the
    default output, ``IN.TAG.mp4``; ``csv`` also writes the keypoints, with
    ``features``, ``openface`` and ``point_confidence`` as in :class:`KeypointSink`
    (and the action units when ``config.aus``);
    ``inputs`` says how to read the source (window, folder rate).
    """
    source = _input(source)
    if output is not None and str(output) == STDIN:
        raise VidkeysError(
            "annotate cannot write its video to stdout (-o -): give a file name "
            "ending in .mp4, .mov or .mkv"
        )
    window = inputs or SourceOptions()
    run = VideoRun(source, config, keep_images=True, **window.kwargs())
    still = run.info.kind == "image"
    if output is None:
        animated = run.info.kind == "animation"  # an animated image becomes a video
        suffix = ".mp4" if animated else media_suffix(Path(str(source)))
        output = default_output(source, suffix, tag)
    output = Path(output)
    if still and not is_image(output):
        raise VidkeysError(f"{output}: an image input needs an image output name (.png, .jpg)")
    if not still:
        container_for(output)  # .mp4, .mov or .mkv, else one error line
    _check_output(source, output)
    if csv is not None:
        _check_output(source, csv)
    annotator = annotator or Annotator()
    summary = Summary(source)
    start = time.perf_counter()
    with AtomicOutputs() as outs:
        media_tmp = outs.add(output)
        csv_tmp = outs.add(csv) if csv is not None else None
        sink = writer = None
        try:
            if csv is not None:
                sink = KeypointSink(
                    csv_tmp,
                    features=features,
                    name=csv,
                    openface=openface,
                    point_confidence=point_confidence,
                    aus=run.config.aus,
                )
            if not still:
                info = run.info
                writer = VideoWriter(
                    media_tmp,
                    info.width,
                    info.height,
                    info.fps,
                    audio_source=info.location if info.has_audio else None,
                    name=output,
                    audio_window=(
                        None if window.start is None else info.start + window.start,
                        None if window.end is None else info.start + window.end,
                    ),
                )
            with _progress(run, quiet) as bar:
                for result in run:
                    assert result.image is not None
                    drawn = annotator(result.image, result.faces)
                    t0 = time.perf_counter()
                    with writing(output):
                        if writer is not None:
                            writer.write(drawn, result.timestamp)
                        else:
                            write_image(media_tmp, drawn, output.suffix)
                    t1 = time.perf_counter()
                    run.stage_seconds["encode"] += t1 - t0
                    if sink is not None:
                        with writing(sink.name):
                            sink.write(result)
                        run.stage_seconds["csv"] += time.perf_counter() - t1
                    bar.update(1)
            if writer is not None:
                with writing(output):
                    writer.close()
            if sink is not None:
                with writing(sink.name):
                    sink.close()
        except BaseException:
            if writer is not None:
                writer.abort()
            if sink is not None:
                sink.abort()
            raise
        summary.outputs = outs.commit()  # all together, only once every file is closed
    _finish(summary, run, start)
    return summary


def export_file(
    source: Path,
    output: Path | str | None = None,
    fmt: str = "csv",
    config: PipelineConfig | None = None,
    quiet: bool = False,
    features: bool = False,
    inputs: SourceOptions | None = None,
    openface: bool = False,
    point_confidence: bool = False,
) -> Summary:
    """Keypoints and pose only, as CSV or JSON lines; ``output='-'`` streams to stdout.

    ``openface``: OpenFace 2's CSV layout; ``point_confidence``: the 68 point
    confidences as extra CSV columns (JSON lines always have them); with
    ``config.aus`` the action units, openness and (JSON lines) blink events.
    """
    source = _input(source)
    if openface and fmt != "csv":
        raise VidkeysError("--openface is a CSV layout: it does not go with --format jsonl")
    if output is None:
        output = default_output(source, "." + fmt)
    run = VideoRun(source, config, keep_images=False, **(inputs or SourceOptions()).kwargs())
    stdout = str(output) == "-"
    if not stdout:
        _check_output(source, Path(output))
    summary = Summary(source)
    start = time.perf_counter()
    with AtomicOutputs() as outs:
        path = outs.add(output) if not stdout else "-"
        sink = KeypointSink(
            path,
            fmt,
            features,
            name=output,
            openface=openface,
            point_confidence=point_confidence,
            aus=run.config.aus,
        )
        _drain(run, sink, sink.name, "csv", quiet)
        if not stdout:
            summary.outputs = outs.commit()
    _finish(summary, run, start)
    return summary


class _Sink(Protocol):
    """What :func:`_drain` feeds: an output that takes results, then closes or aborts."""

    def write(self, result: FrameResult) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


def _drain(run: VideoRun, sink: _Sink, name: Path | str, stage: str, quiet: bool) -> None:
    """Every result of ``run`` into ``sink`` (timed as ``stage``, a progress bar),
    then the sink closed; on any error or stop the sink is aborted, not closed."""
    try:
        with _progress(run, quiet) as bar:
            for result in run:
                t0 = time.perf_counter()
                with writing(name):
                    sink.write(result)
                run.stage_seconds[stage] += time.perf_counter() - t0
                bar.update(1)
        with writing(name):
            sink.close()
    except BaseException:
        sink.abort()
        raise


def _check_faces_folder(source: Path | str, folder: Path) -> None:
    """A faces folder may be new, empty, or an earlier one (replaced whole at the end);
    never a file, a folder of other files, or the input or a folder holding it."""
    if str(folder) == STDIN:
        raise VidkeysError("export-faces writes a folder: give -o DIR, not - (stdout)")
    local = _local_file(source)
    if local is not None and local.exists() and folder.exists():
        inside = local.resolve() == folder.resolve() or folder.resolve() in local.resolve().parents
        if inside:
            raise VidkeysError(f"output {folder} would overwrite the input")
    if folder.exists() and not folder.is_dir():
        raise VidkeysError(f"output {folder} is a file; give a folder name")
    if folder.is_dir() and any(folder.iterdir()) and not is_faces_folder(folder):
        raise VidkeysError(
            f"output folder {folder} holds other files; give a new or empty folder "
            "(an earlier export-faces folder is replaced whole)"
        )
    if not folder.parent.is_dir():
        raise VidkeysError(f"output folder does not exist: {folder.parent}")


def export_faces_file(
    source: Path | str,
    output: Path | None = None,
    faces: FaceImages | None = None,
    config: PipelineConfig | None = None,
    quiet: bool = False,
    inputs: SourceOptions | None = None,
) -> Summary:
    """Aligned images of every face (:func:`vidkeys.align`) and their index, into a folder.

    ``output`` is the folder (default: ``IN.faces`` next to the input); ``faces``
    says what to write (size, grey, format, which frames, ``success`` 0 faces).
    The folder is filled under a hidden name beside it and renamed into place
    when the whole input is done: an error or a stop leaves no folder (an
    earlier one stays as it was), a ``kill -9`` a hidden ``.vk-PID-TOKEN.part``
    folder that the next run beside it removes.
    """
    faces = (faces or FaceImages()).check()
    source = _input(source)
    folder = Path(output) if output is not None else default_output(source, "", FACES_TAG)
    _check_faces_folder(source, folder)
    run = VideoRun(source, config, keep_images=True, **(inputs or SourceOptions()).kwargs())
    for stale in stale_parts(folder.parent, recursive=False):  # left by a killed run
        remove_part(stale)
    summary = Summary(source, images=0)
    start = time.perf_counter()
    with AtomicOutputs() as outs:
        sink = FaceImageSink(outs.add_folder(folder), faces, name=folder)
        _drain(run, sink, folder, "images", quiet)
        summary.outputs = outs.commit()
    _finish(summary, run, start)
    summary.images = sink.images
    return summary
