"""The `vidkeys` command line: a thin layer over the Python API.

Every command turns a :class:`VidkeysError` into one ``error: ...`` line on
stderr and exit code 1; option mistakes are Typer's usage errors (exit 2).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from vidkeys.errors import VidkeysError
from vidkeys.pipeline import PipelineConfig

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Find every face in every frame of a video and place 68 keypoints on each.",
)

CsvOpt = Annotated[Path, typer.Option("--csv", help="Keypoints CSV (name + 136 numbers a row).")]
ImagesOpt = Annotated[Path, typer.Option("--images", help="Folder holding the CSV's images.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")]


@contextmanager
def user_errors() -> Iterator[None]:
    """Report input problems as one line and a non-zero exit, never a traceback."""
    try:
        yield
    except VidkeysError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None


@app.command()
def train(
    csv: CsvOpt,
    images: ImagesOpt,
    out: Annotated[Path, typer.Option("--out", help="Weights file to write.")] = Path(
        "saved_models/vidkeys68.pt"
    ),
    epochs: Annotated[int, typer.Option(min=1)] = 250,
    batch_size: Annotated[int, typer.Option(min=2)] = 32,
    lr: Annotated[float, typer.Option(min=0.0)] = 2e-3,
    seed: int = 0,
    device: DeviceOpt = "auto",
    resume: Annotated[bool, typer.Option(help="Continue from OUT.ckpt if present.")] = False,
    quiet: bool = False,
) -> None:
    """Train the keypoint CNN; the best epoch on held-out people goes to --out."""
    with user_errors():
        from training.train import TrainConfig
        from training.train import train as run_training

        cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
        summary = run_training(csv, images, out, cfg, device=device, resume=resume, quiet=quiet)
        typer.echo(
            f"trained {summary['epochs']} epochs in {summary['seconds']:.0f} s; best validation "
            f"NME {100 * summary['best_val_nme']:.2f} %; weights: {summary['out']}"
        )


@app.command("eval")
def evaluate(
    csv: CsvOpt,
    images: ImagesOpt,
    split: Annotated[str, typer.Option(help="all, or val: the held-out people only.")] = "all",
    model: Annotated[Path | None, typer.Option(help="Weights file (default: shipped).")] = None,
    boxes: Annotated[
        str, typer.Option(help="haar: as a user gets it; oracle: crop from the labels.")
    ] = "haar",
    device: DeviceOpt = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Measure keypoint accuracy (NME, failure rate, AUC) on a labelled data set."""
    with user_errors():
        from training.evaluate import evaluate as run_eval
        from training.evaluate import format_report

        result = run_eval(csv, images, split=split, weights=model, boxes=boxes, device=device)
        typer.echo(json.dumps(result) if as_json else format_report(result))


DetectEvery = Annotated[
    int, typer.Option("--detect-every", min=1, help="Run Haar every N frames (1: every frame).")
]
ScaleFactor = Annotated[float, typer.Option("--scale-factor", min=1.001, help="Haar scale step.")]
MinNeighbors = Annotated[int, typer.Option("--min-neighbors", min=0, help="Haar min neighbours.")]
MinSize = Annotated[int, typer.Option("--min-size", min=1, help="Smallest face, px (as searched).")]
DetectWidth = Annotated[
    int,
    typer.Option(
        "--detect-width", min=0, help="Shrink frames to this width for Haar (0: auto, half)."
    ),
]
BatchSize = Annotated[int, typer.Option("--batch-size", min=1, help="Most crops per CNN call.")]
Smooth = Annotated[bool, typer.Option("--smooth/--no-smooth", help="One Euro smoothing per track.")]
ModelOpt = Annotated[Path | None, typer.Option("--model", help="Weights file (default: shipped).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")]
Source = Annotated[Path, typer.Argument(help="Video, image, or folder of images.")]


def _pipeline_config(
    detect_every: int,
    scale_factor: float,
    min_neighbors: int,
    min_size: int,
    detect_width: int,
    batch_size: int,
    smooth: bool,
    device: str,
    model: Path | None,
) -> PipelineConfig:
    from vidkeys.detect import DetectorConfig
    from vidkeys.track import TrackerConfig

    return PipelineConfig(
        detector=DetectorConfig(scale_factor, min_neighbors, min_size, detect_width or None),
        tracker=TrackerConfig(smooth=smooth),
        detect_every=detect_every,
        batch_size=batch_size,
        device=device,
        weights=model,
    )


@app.command()
def annotate(
    source: Source,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Default: IN.keypoints.mp4 next to IN.")
    ] = None,
    csv: Annotated[
        Path | None, typer.Option("--csv", help="Also write keypoints CSV here.")
    ] = None,
    boxes: Annotated[bool, typer.Option("--boxes/--no-boxes", help="Draw face boxes.")] = False,
    ids: Annotated[bool, typer.Option("--ids/--no-ids", help="Draw face ids.")] = True,
    detect_every: DetectEvery = 10,
    scale_factor: ScaleFactor = 1.1,
    min_neighbors: MinNeighbors = 3,
    min_size: MinSize = 24,
    detect_width: DetectWidth = 0,
    batch_size: BatchSize = 64,
    smooth: Smooth = True,
    device: DeviceOpt = "auto",
    model: ModelOpt = None,
    quiet: Quiet = False,
) -> None:
    """Draw the keypoints of every face on a video (H.264 MP4, audio kept) or image."""
    with user_errors():
        from vidkeys.annotate import Annotator
        from vidkeys.jobs import annotate_file

        cfg = _pipeline_config(
            detect_every,
            scale_factor,
            min_neighbors,
            min_size,
            detect_width,
            batch_size,
            smooth,
            device,
            model,
        )
        summary = annotate_file(
            source, output, csv, cfg, Annotator(boxes=boxes, ids=ids), quiet=quiet
        )
        if not quiet:
            typer.echo(summary.line(), err=True)


@app.command("export-csv")
def export_csv(
    source: Source,
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="File, or - for stdout. Default: IN.keypoints.csv."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    detect_every: DetectEvery = 10,
    scale_factor: ScaleFactor = 1.1,
    min_neighbors: MinNeighbors = 3,
    min_size: MinSize = 24,
    detect_width: DetectWidth = 0,
    batch_size: BatchSize = 64,
    smooth: Smooth = True,
    device: DeviceOpt = "auto",
    model: ModelOpt = None,
    quiet: Quiet = False,
) -> None:
    """Write the keypoints of every face in every frame (OpenFace-style CSV, or JSON lines)."""
    with user_errors():
        from vidkeys.jobs import export_file

        cfg = _pipeline_config(
            detect_every,
            scale_factor,
            min_neighbors,
            min_size,
            detect_width,
            batch_size,
            smooth,
            device,
            model,
        )
        summary = export_file(source, output, fmt, cfg, quiet=quiet)
        if not quiet:
            typer.echo(summary.line(), err=True)


@app.command()
def batch(
    inputs: Annotated[list[str], typer.Argument(help="Files, folders (recursive) or globs.")],
    outdir: Annotated[Path, typer.Option("--output", "-o", help="Folder for all outputs.")],
    csv_only: Annotated[
        bool, typer.Option("--csv-only", help="Keypoints CSV only, no video.")
    ] = False,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Parallel tasks (default: cores).")
    ] = None,
    engine: Annotated[str, typer.Option("--engine", help="local (process pool) or ray.")] = "local",
    address: Annotated[
        str | None, typer.Option("--address", help="Ray cluster address (default: local Ray).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Redo inputs already done.")] = False,
    detect_every: DetectEvery = 10,
    scale_factor: ScaleFactor = 1.1,
    min_neighbors: MinNeighbors = 3,
    min_size: MinSize = 24,
    detect_width: DetectWidth = 0,
    batch_size: BatchSize = 64,
    smooth: Smooth = True,
    device: DeviceOpt = "auto",
    model: ModelOpt = None,
    quiet: Quiet = False,
) -> None:
    """Process many videos and images into one folder, resumably, on all cores or on Ray."""
    with user_errors():
        from vidkeys.batch import run_batch
        from vidkeys.model import resolve_device

        resolve_device(device)  # fail fast, before any worker starts
        cfg = _pipeline_config(
            detect_every,
            scale_factor,
            min_neighbors,
            min_size,
            detect_width,
            batch_size,
            smooth,
            device,
            model,
        )
        result = run_batch(
            inputs,
            outdir,
            cfg,
            csv_only=csv_only,
            workers=workers,
            engine=engine,
            address=address,
            force=force,
            quiet=quiet,
        )
        for record in result.failures:
            typer.echo(f"failed: {record.input}: {record.error}", err=True)
        if not quiet:
            typer.echo(result.line(outdir), err=True)
        if result.failed:
            raise typer.Exit(1)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="vidkeys")


if __name__ == "__main__":
    main()
