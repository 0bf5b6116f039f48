"""The `vidkeys` command line: a thin layer over the Python API.

Every command turns a :class:`VidkeysError` into one ``error: ...`` line on
stderr and exit code 1; option mistakes are Typer's usage errors (exit 2).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import inspect
import json
import math
import os
import sys
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from vidkeys.config import DetectorConfig, PipelineConfig, TrackerConfig, option_help
from vidkeys.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_PARTIAL,
    VidkeysError,
    stop_signals_interrupt,
)

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Find every face in every frame of a video and place 68 keypoints on each.",
)

CsvOpt = Annotated[Path, typer.Option("--csv", help="Keypoints CSV (name + 136 numbers a row).")]
ImagesOpt = Annotated[Path, typer.Option("--images", help="Folder holding the CSV's images.")]


def _choices(name: str, *values: str) -> type[Enum]:
    """An option's fixed choices: --help lists them, anything else is a usage error."""
    return Enum(name, {v: v for v in values}, type=str)  # type: ignore[return-value]


def _value(choice: Any) -> Any:
    """The plain string of a choice (None stays None)."""
    return choice.value if isinstance(choice, Enum) else choice


Device = _choices("Device", "auto", "cpu", "cuda")
Split = _choices("Split", "all", "val")
Boxes = _choices("Boxes", "haar", "search", "oracle")
Detector = _choices("Detector", "yunet", "haar")
_DEFAULT_DETECTOR = Detector(DetectorConfig.detector)
# The one option that names a setting by its opposite: "fast" is the mirror test off.
Fast = Annotated[
    bool,
    typer.Option(
        "--fast",
        help="No mirror test (each face's crop once, not also mirrored): half the CNN "
        "time, held-out NME 4.04 % instead of 3.97 %.",
    ),
]
Format = _choices("Format", "csv", "jsonl")
Place = _choices("Place", "eyes", "mouth", "head")
Engine = _choices("Engine", "local", "ray")
ImageFormat = _choices("ImageFormat", "png", "jpg")

DeviceOpt = Annotated[
    Device, typer.Option("--device", help="Where the CNN runs (auto: CUDA if any).")
]


_debug = bool(os.environ.get("VIDKEYS_DEBUG"))


def _version(show: bool) -> None:
    if show:
        from vidkeys import __version__

        typer.echo(f"vidkeys {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an unexpected error.")
    ] = False,
) -> None:
    global _debug
    _debug = _debug or debug


@contextmanager
def user_errors(subject: object = None) -> Iterator[None]:
    """Report problems as one line and a non-zero exit, never a traceback.

    Input problems are :class:`VidkeysError`; anything else is unexpected and
    becomes one line naming ``subject`` (the input) and pointing to --debug.
    """
    try:
        with stop_signals_interrupt():  # `kill`, a closed terminal: clean up like Ctrl-C
            yield
    except typer.Exit:
        raise
    except VidkeysError as exc:
        if _debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        _leave_at_once(EXIT_INTERRUPTED)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except BrokenPipeError:
        # `vidkeys export-csv IN -o - | head`: the reader went away. Quietly,
        # and with nothing left for Python to flush into the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(EXIT_BROKEN_PIPE) from None
    except OSError as exc:
        if _debug:
            raise
        line = _foreseen(exc)
        if line is None:
            _unexpected(subject, exc)
        typer.echo(f"error: {line}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    except Exception as exc:
        if _debug:
            raise
        _unexpected(subject, exc)


def _leave_at_once(code: int) -> None:
    """Exit without the interpreter's shutdown. A stop can land while a helper
    thread is inside FFmpeg (opening a stalled URL, reading stdin) or has just
    left it, and tearing the interpreter down under or after such a thread can
    crash. Every output was already dropped or put in place by then."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _short(name: object, keep: int = 80) -> str:
    """A path for an error line: a very long one cut in the middle."""
    text = str(name)
    return text if len(text) <= keep else f"{text[: keep // 2]}...{text[-keep // 2 :]}"


def _foreseen(exc: OSError) -> str | None:
    """The line for a file-system fault a user can fix (a name too long, a full
    disk, a read-only or forbidden folder); None for others."""
    where = f"{_short(exc.filename)}: " if exc.filename else ""
    if exc.errno == errno.ENAMETOOLONG:
        return (
            f"{where}the name is too long for the file system (at most 255 bytes a name, "
            "4096 a path); give a shorter one (-o for an output)"
        )
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{where}no space left on the device; free some space and rerun"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{where}{exc.strerror}"
    return None


def _unexpected(subject: object, exc: BaseException) -> None:
    """One line for a fault vidkeys does not foresee, naming the input; exits 1."""
    where = f"{subject}: " if subject is not None else ""
    text = str(exc).strip().splitlines()
    what = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    typer.echo(
        f"error: {where}unexpected {what} (a bug, or a fault vidkeys does not know; "
        "rerun with --debug to see the traceback)",
        err=True,
    )
    raise typer.Exit(EXIT_ERROR) from None


def _finish(summary: Any, quiet: bool) -> None:
    """The summary line, and for a partial result its warning and exit code."""
    if not quiet:
        typer.echo(summary.line(), err=True)
    if summary.partial:
        typer.echo(summary.warning(), err=True)
        raise typer.Exit(EXIT_PARTIAL)


@app.command()
def train(
    csv: CsvOpt,
    images: ImagesOpt,
    out: Annotated[Path, typer.Option("--out", help="Weights file to write.")] = Path(
        "saved_models/vidkeys68.pt"
    ),
    epochs: Annotated[int, typer.Option(min=1, max=100_000)] = 250,
    batch_size: Annotated[int, typer.Option(min=2, max=65_536)] = 32,
    lr: Annotated[float, typer.Option(min=0.0, max=1e12)] = 2e-3,
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1)] = 0,
    device: DeviceOpt = Device.auto,
    resume: Annotated[bool, typer.Option(help="Continue from OUT.ckpt if present.")] = False,
    init: Annotated[
        Path | None, typer.Option("--init", help="Start from these weights (fine-tune).")
    ] = None,
    flip: Annotated[
        bool, typer.Option("--flip/--no-flip", help="Mirror half the training crops.")
    ] = True,
    flip_shift: Annotated[
        float | None,
        typer.Option(
            "--flip-shift",
            min=-1.0,
            max=1.0,
            help="The labels' lean in eye distances, taken out of mirrored crops and the "
            "served mirror test (default: youtube-faces-68's, measured with python -m "
            "vidkeys.training.label_shift; 0 for labels without one).",
        ),
    ] = None,
    occlude: Annotated[
        float,
        typer.Option(
            "--occlude", min=0.0, max=1.0, help="Share of crops with a grey rectangle over them."
        ),
    ] = 0.0,
    widths: Annotated[
        str | None,
        typer.Option(
            "--widths", help="Channels of the 4 encoder stages, e.g. 24,48,96,192 (new models)."
        ),
    ] = None,
    crop_size: Annotated[
        int | None,
        typer.Option(
            "--crop-size",
            min=32,
            max=512,
            help="Side of the face crop in pixels, a multiple of 16 (new models; the shipped "
            "one: 112).",
        ),
    ] = None,
    decoder: Annotated[
        int | None,
        typer.Option(
            "--decoder",
            min=1,
            max=4096,
            help="Channels of the heatmap decoder (new models; a teacher: 128).",
        ),
    ] = None,
    up_levels: Annotated[
        int | None,
        typer.Option(
            "--up-levels",
            help="Heatmaps at 1/8 (1) or 1/4 (2) of the crop (new models; a teacher: 2).",
        ),
    ] = None,
    quiet: bool = False,
) -> None:
    """Train the keypoint CNN; the best epoch on held-out people goes to --out."""
    with user_errors():
        from vidkeys.training.augment import AugmentConfig
        from vidkeys.training.train import TrainConfig
        from vidkeys.training.train import train as run_training

        cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
        shift = {} if flip_shift is None else {"flip_shift": flip_shift}
        model_cfg = None
        if widths or crop_size or decoder or up_levels is not None:
            from vidkeys.keypoints.network import ModelConfig

            shape: dict[str, Any] = {}
            if widths:
                try:
                    shape["widths"] = tuple(int(w) for w in widths.split(","))
                except ValueError:
                    raise VidkeysError(f"--widths takes 4 whole numbers, got {widths!r}") from None
                if len(shape["widths"]) != 4:
                    raise VidkeysError(f"--widths takes 4 whole numbers, got {widths!r}")
            if crop_size:
                if crop_size % 16:
                    raise VidkeysError(f"--crop-size must be a multiple of 16, got {crop_size}")
                shape["crop_size"] = crop_size
            if decoder:
                shape["decoder"] = decoder
            if up_levels is not None:
                if up_levels not in (1, 2):
                    raise VidkeysError(f"--up-levels must be 1 or 2, got {up_levels}")
                shape["up_levels"] = up_levels
            model_cfg = ModelConfig(**shape)
        summary = run_training(
            csv,
            images,
            out,
            cfg,
            aug=AugmentConfig(flip=flip, occlude_prob=occlude, **shift),
            device=_value(device),
            resume=resume,
            quiet=quiet,
            init=init,
            model_cfg=model_cfg,
        )
        typer.echo(
            f"trained {summary['epochs']} epochs in {summary['seconds']:.0f} s; best validation "
            f"NME {100 * summary['best_val_nme']:.2f} %; weights: {summary['out']}"
        )


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as ``null``: JSON has no words for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


@app.command("eval")
def evaluate(
    csv: CsvOpt,
    images: ImagesOpt,
    split: Annotated[
        Split, typer.Option(help="all, or val: the held-out people only.")
    ] = Split.all,
    model: Annotated[Path | None, typer.Option(help="Weights file (default: shipped).")] = None,
    boxes: Annotated[
        Boxes,
        typer.Option(
            help="haar: default frontal cascade; search: vidkeys' own "
            "face search on a photo (--detector); oracle: crop from the labels."
        ),
    ] = Boxes.haar,
    detector: Annotated[
        Detector, typer.Option(help="The face search of --boxes search.")
    ] = _DEFAULT_DETECTOR,
    passes: Annotated[
        int,
        typer.Option(
            min=1,
            max=10,
            help="CNN passes; each after the first crops from the previous points' box.",
        ),
    ] = TrackerConfig.new_face_passes,
    fast: Fast = not PipelineConfig.mirror_test,
    device: DeviceOpt = Device.auto,
    mirror: Annotated[
        bool, typer.Option("--mirror", help="On left-right mirrored images and labels.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    regions: Annotated[
        bool,
        typer.Option("--regions/--no-regions", help=option_help(PipelineConfig, "regions")),
    ] = PipelineConfig.regions,
) -> None:
    """Measure keypoint accuracy (NME, failure rate, AUC) on a labelled data set."""
    with user_errors():
        from vidkeys.training.evaluate import evaluate as run_eval
        from vidkeys.training.evaluate import format_report

        result = run_eval(
            csv,
            images,
            split=_value(split),
            weights=model,
            boxes=_value(boxes),
            device=_value(device),
            mirror=mirror,
            passes=passes,
            mirror_test=not fast,
            detector=_value(detector),
            regions=regions,
        )
        typer.echo(json.dumps(_finite(result)) if as_json else format_report(result))


Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")]
Features = Annotated[
    bool,
    typer.Option("--features", help="Add eye/mouth aspect ratios and eye distance to the CSV."),
]
# A string, not a Path: a Path would turn a URL's "http://" into "http:/".
Source = Annotated[
    str, typer.Argument(help="Video, image, folder of images, - (stdin) or a URL FFmpeg opens.")
]
Start = Annotated[
    float | None,
    typer.Option("--start", min=0.0, max=1e7, help="Begin at this time, seconds from the start."),
]
End = Annotated[
    float | None, typer.Option("--end", min=0.0, max=1e7, help="Stop before this time, in seconds.")
]
Fps = Annotated[
    float | None,
    typer.Option(
        "--fps", min=0.001, max=1000.0, help="Frame rate of a folder of images (default 30)."
    ),
]
OpenFace = Annotated[
    bool,
    typer.Option("--openface", help="OpenFace 2's CSV layout: ', ' in the header, frame from 1."),
]
PointConfidence = Annotated[
    bool,
    typer.Option("--point-confidence", help="Add each point's confidence (conf_0..conf_67)."),
]
Aus = Annotated[bool, typer.Option("--aus", help=option_help(PipelineConfig, "aus"))]


def _with_aus(config: PipelineConfig, aus: bool) -> PipelineConfig:
    """``config`` measuring action units too when ``--aus`` is given."""
    return dataclasses.replace(config, aus=True) if aus else config


def _inputs(fps: float | None, start: float | None, end: float | None) -> Any:
    from vidkeys.jobs import SourceOptions

    return SourceOptions(fps=fps, start=start, end=end)


_RUN, _DETECT, _TRACK = PipelineConfig(), DetectorConfig(), TrackerConfig()


def _setting(config: object, name: str, kind: type, flag: str, **limits: Any) -> tuple:
    """A shared option for setting ``name`` of ``config``: its default and help come
    from the config dataclass, where each is written once."""
    default = getattr(config, name)
    if name == "detect_width":
        default = default or 0  # None (auto) is 0 on the command line
    return (
        name,
        Annotated[kind, typer.Option(flag, help=option_help(type(config), name), **limits)],
        default,
    )


# Options every video command shares, as (name, annotated type, default).
_PIPELINE_OPTIONS = [
    (
        "detector",
        Annotated[
            Detector, typer.Option("--detector", help=option_help(DetectorConfig, "detector"))
        ],
        _DEFAULT_DETECTOR,
    ),
    _setting(_DETECT, "detector_model", Path | None, "--detector-model"),
    _setting(_DETECT, "min_score", float, "--min-score", min=0.01, max=0.99),
    _setting(_RUN, "detect_every", int, "--detect-every", min=1, max=100_000),
    _setting(_DETECT, "scale_factor", float, "--scale-factor", min=1.001, max=2.0),
    _setting(_DETECT, "min_neighbors", int, "--min-neighbors", min=0, max=100),
    _setting(_DETECT, "min_size", int, "--min-size", min=1, max=4096),
    _setting(_DETECT, "detect_width", int, "--detect-width", min=0, max=16_384),
    _setting(_RUN, "batch_size", int, "--batch-size", min=1, max=4096),
    _setting(_TRACK, "smooth", bool, "--smooth/--no-smooth"),
    _setting(_RUN, "regions", bool, "--regions/--no-regions"),
    ("fast", Fast, not _RUN.mirror_test),
    ("device", DeviceOpt, Device.auto),
    (
        "debug",
        Annotated[bool, typer.Option("--debug", help="Show the traceback of an unexpected error.")],
        False,
    ),
    (
        "model",
        Annotated[Path | None, typer.Option("--model", help="Weights file (default: shipped).")],
        None,
    ),
]


def pipeline_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give a command the shared pipeline options; it receives them as ``config``.

    Typer reads options from the signature, so the shared ones are appended
    to it here once instead of being repeated in every command.
    """
    sig = inspect.signature(command)
    hints = typing.get_type_hints(command, include_extras=True)  # resolve string annotations
    own = [
        p.replace(annotation=hints[p.name]) for p in sig.parameters.values() if p.name != "config"
    ]
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=default)
        for name, kind, default in _PIPELINE_OPTIONS
    ]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> None:
        o = {name: kwargs.pop(name) for name, _, _ in _PIPELINE_OPTIONS}
        global _debug
        _debug = _debug or o["debug"]
        config = PipelineConfig(
            detector=dataclasses.replace(
                _DETECT,
                detector=_value(o["detector"]),
                detector_model=o["detector_model"],
                min_score=o["min_score"],
                scale_factor=o["scale_factor"],
                min_neighbors=o["min_neighbors"],
                min_size=o["min_size"],
                detect_width=o["detect_width"] or None,
            ),
            tracker=dataclasses.replace(_TRACK, smooth=o["smooth"]),
            detect_every=o["detect_every"],
            batch_size=o["batch_size"],
            mirror_test=not o["fast"],
            regions=o["regions"],
            device=_value(o["device"]),
            weights=o["model"],
        )
        command(config=config, **kwargs)

    params = own + shared
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


@app.command()
@pipeline_options
def annotate(
    source: Source,
    config: PipelineConfig,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Default: IN.keypoints.mp4 next to IN.")
    ] = None,
    csv: Annotated[
        Path | None, typer.Option("--csv", help="Also write keypoints CSV here.")
    ] = None,
    boxes: Annotated[bool, typer.Option("--boxes/--no-boxes", help="Draw face boxes.")] = False,
    ids: Annotated[bool, typer.Option("--ids/--no-ids", help="Draw face ids.")] = True,
    pose: Annotated[bool, typer.Option("--pose", help="Draw each head's axes.")] = False,
    features: Features = False,
    openface: OpenFace = False,
    point_confidence: PointConfidence = False,
    aus: Aus = PipelineConfig.aus,
    start: Start = None,
    end: End = None,
    fps: Fps = None,
    quiet: Quiet = False,
) -> None:
    """Draw the keypoints of every face on a video (H.264 MP4, audio kept) or image."""
    with user_errors(source):
        from vidkeys.jobs import annotate_file
        from vidkeys.outputs.annotate import Annotator

        annotator = Annotator(boxes=boxes, ids=ids, pose=pose)
        summary = annotate_file(
            source,
            output,
            csv,
            _with_aus(config, aus),
            annotator,
            quiet=quiet,
            features=features,
            inputs=_inputs(fps, start, end),
            openface=openface,
            point_confidence=point_confidence,
        )
        _finish(summary, quiet)


@app.command("export-csv")
@pipeline_options
def export_csv(
    source: Source,
    config: PipelineConfig,
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="File, or - for stdout. Default: IN.keypoints.csv."),
    ] = None,
    fmt: Annotated[
        Format, typer.Option("--format", help="Rows (csv) or a JSON object a frame.")
    ] = Format.csv,
    features: Features = False,
    openface: OpenFace = False,
    point_confidence: PointConfidence = False,
    aus: Aus = PipelineConfig.aus,
    start: Start = None,
    end: End = None,
    fps: Fps = None,
    quiet: Quiet = False,
) -> None:
    """Write keypoints and head pose of every face in every frame (OpenFace-style CSV)."""
    with user_errors(source):
        from vidkeys.jobs import export_file

        summary = export_file(
            source,
            output,
            _value(fmt),
            _with_aus(config, aus),
            quiet=quiet,
            features=features,
            inputs=_inputs(fps, start, end),
            openface=openface,
            point_confidence=point_confidence,
        )
        _finish(summary, quiet)


# The aligned-faces options of export-faces and batch --faces; their defaults
# live in vidkeys.outputs.faces.FaceImages (None here: batch tells what was given).
FaceSize = Annotated[
    int | None,
    typer.Option("--size", help="Side of each aligned face image, px (default 112, as OpenFace)."),
]
Gray = Annotated[bool, typer.Option("--gray", "--grey", help="Grey images (default: colour).")]
ImageFormatOpt = Annotated[
    ImageFormat | None, typer.Option("--image-format", help="png (lossless; default) or jpg.")
]
Every = Annotated[
    int | None,
    typer.Option(
        "--every",
        min=1,
        max=1_000_000,
        help="Faces of every N-th frame only (frame numbers 0, N, 2N...; default 1).",
    ),
]
PerSecond = Annotated[
    float | None,
    typer.Option(
        "--per-second", min=0.001, max=1000.0, help="Faces of at most this many frames a second."
    ),
]
AllFaces = Annotated[
    bool, typer.Option("--all", help="Also faces with success 0 (points not to be trusted).")
]


def _face_images(
    size: int | None,
    gray: bool,
    image_format: Any,
    every: int | None,
    per_second: float | None,
    all_faces: bool,
) -> Any:
    from vidkeys.outputs.faces import FaceImages

    given = {
        "size": size,
        "image_format": _value(image_format),
        "every": every,
        "per_second": per_second,
    }
    given = {k: v for k, v in given.items() if v is not None}
    return FaceImages(gray=gray, all_faces=all_faces, **given).check()


@app.command("export-faces")
@pipeline_options
def export_faces(
    source: Source,
    config: PipelineConfig,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Folder to write. Default: IN.faces next to IN."),
    ] = None,
    size: FaceSize = None,
    gray: Gray = False,
    image_format: ImageFormatOpt = None,
    every: Every = None,
    per_second: PerSecond = None,
    all_faces: AllFaces = False,
    start: Start = None,
    end: End = None,
    fps: Fps = None,
    quiet: Quiet = False,
) -> None:
    """Write each face aligned (as OpenFace's -simalign) as an image, with an index CSV."""
    with user_errors(source):
        from vidkeys.jobs import export_faces_file

        faces = _face_images(size, gray, image_format, every, per_second, all_faces)
        summary = export_faces_file(
            source, output, faces, config, quiet=quiet, inputs=_inputs(fps, start, end)
        )
        _finish(summary, quiet)


@app.command("filter")
@pipeline_options
def filter_(
    source: Source,
    config: PipelineConfig,
    overlay: Annotated[
        str,
        typer.Option(
            "--overlay", help="sunglasses, moustache, hat, or an RGBA PNG file.", show_default=False
        ),
    ],
    place: Annotated[
        Place | None,
        typer.Option("--place", help="Where it goes (default: the overlay's own; eyes)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Default: IN.OVERLAY.mp4 next to IN."),
    ] = None,
    start: Start = None,
    end: End = None,
    fps: Fps = None,
    quiet: Quiet = False,
) -> None:
    """Put an overlay (sunglasses, moustache, hat, your PNG) on every face of a video or image."""
    with user_errors(source):
        from vidkeys.jobs import annotate_file
        from vidkeys.outputs.overlay import OverlayPainter, load_overlay

        chosen = load_overlay(overlay, _value(place))
        summary = annotate_file(
            source,
            output,
            None,
            config,
            OverlayPainter(chosen),
            quiet=quiet,
            tag=chosen.name,
            inputs=_inputs(fps, start, end),
        )
        _finish(summary, quiet)


@app.command()
@pipeline_options
def report(
    source: Annotated[
        str, typer.Argument(help="Video (the pipeline runs), or a vidkeys CSV of one.")
    ],
    config: PipelineConfig,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="HTML file. Default: IN.report.html next to IN."),
    ] = None,
    video: Annotated[
        Path | None,
        typer.Option("--video", help="With a CSV: its video (default: found by name beside it)."),
    ] = None,
    start: Start = None,
    end: End = None,
    fps: Fps = None,
    quiet: Quiet = False,
) -> None:
    """One self-contained HTML page: faces, when each is present, head pose, blinks, figures."""
    with user_errors(source):
        from vidkeys.outputs.report import make_report

        summary = make_report(
            source, output, video, config, inputs=_inputs(fps, start, end), quiet=quiet
        )
        if not quiet:
            typer.echo(summary.line(), err=True)


@app.command()
@pipeline_options
def batch(
    inputs: Annotated[list[str], typer.Argument(help="Files, folders (recursive) or globs.")],
    config: PipelineConfig,
    outdir: Annotated[Path, typer.Option("--output", "-o", help="Folder for all outputs.")],
    csv_only: Annotated[
        bool, typer.Option("--csv-only", help="Keypoints CSV only, no video.")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, max=1024, help="Parallel tasks (default: cores)."),
    ] = None,
    engine: Annotated[
        Engine, typer.Option("--engine", help="local (process pool) or ray.")
    ] = Engine.local,
    address: Annotated[
        str | None, typer.Option("--address", help="Ray cluster address (default: local Ray).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Redo inputs already done.")] = False,
    features: Features = False,
    openface: OpenFace = False,
    aus: Aus = PipelineConfig.aus,
    faces: Annotated[
        bool,
        typer.Option(
            "--faces",
            help="Aligned face images and their index (as export-faces) instead of CSV and video.",
        ),
    ] = False,
    size: FaceSize = None,
    gray: Gray = False,
    image_format: ImageFormatOpt = None,
    every: Every = None,
    per_second: PerSecond = None,
    all_faces: AllFaces = False,
    quiet: Quiet = False,
) -> None:
    """Process many videos and images into one folder, resumably, on all cores or on Ray."""
    with user_errors():
        from vidkeys.batch.driver import run_batch
        from vidkeys.keypoints.predictor import resolve_device

        given = (size, image_format, every, per_second)
        if not faces and (gray or all_faces or any(v is not None for v in given)):
            raise VidkeysError(
                "--size, --gray, --image-format, --every, --per-second and --all "
                "shape aligned faces: they go with --faces"
            )
        images = _face_images(size, gray, image_format, every, per_second, all_faces)
        resolve_device(config.device)  # fail fast, before any worker starts
        result = run_batch(
            inputs,
            outdir,
            _with_aus(config, aus),
            csv_only=csv_only,
            workers=workers,
            engine=_value(engine),
            address=address,
            force=force,
            features=features,
            openface=openface,
            quiet=quiet,
            faces=images if faces else None,
        )
        for kind, listed in (("partial", result.partials), ("failed", result.failures)):
            for record in listed:  # the path once, then what happened
                why = (record.error or "").removeprefix(f"{record.input}: ")
                typer.echo(f"{kind}: {record.input}: {why}", err=True)
        if not quiet:
            typer.echo(result.line(outdir), err=True)
        if result.failed or result.partial:
            raise typer.Exit(EXIT_ERROR if result.failed else EXIT_PARTIAL)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="vidkeys")


if __name__ == "__main__":
    main()
