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
    epochs: Annotated[int, typer.Option(min=1)] = 150,
    batch_size: Annotated[int, typer.Option(min=2)] = 64,
    lr: Annotated[float, typer.Option(min=0.0)] = 3e-3,
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


def main() -> None:
    """Console-script entry point."""
    app(prog_name="vidkeys")


if __name__ == "__main__":
    main()
