"""Average two weights files of one network: a fine-tune and the weights it started from.

    python -m vidkeys.training.average FINE_TUNED.pt START.pt --out OUT.pt [--weight 0.5]

A network fine-tuned for real video's conditions from a network trained on
clean faces gives up a little of its clean accuracy for them; the mean of the
two sets of weights (both from one start, so they lie in one basin) keeps the
clean accuracy and most of the gain (saved_models/README.md, "What was
tried"). The result keeps the fine-tune's training record; its peak range,
shape correction and 8-bit graph are made afresh by the steps after it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from vidkeys.errors import VidkeysError
from vidkeys.keypoints.network import load_model, save_model

#: Metadata a later step makes for the averaged weights (stale after averaging).
REMADE = ("peak_range", "shape_correction")


def average(tuned: Path, start: Path, out: Path, weight: float = 0.5) -> None:
    """Write ``weight * tuned + (1 - weight) * start`` to ``out`` (and its graph)."""
    model, meta = load_model(tuned)
    other, _ = load_model(start)
    if other.config != model.config:
        raise VidkeysError(f"{tuned} and {start} are not the same network; cannot average them")
    mine, theirs = model.state_dict(), other.state_dict()
    mixed = {
        k: weight * v + (1 - weight) * theirs[k] if v.is_floating_point() else v
        for k, v in mine.items()
    }
    model.load_state_dict(mixed)
    record = {k: v for k, v in meta.items() if k not in REMADE}
    save_model(model, out, {**record, "averaged_with": str(start), "average_weight": weight})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tuned", type=Path, help="the fine-tuned weights")
    parser.add_argument("start", type=Path, help="the weights it started from")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--weight", type=float, default=0.5, help="share of the fine-tune")
    args = parser.parse_args()
    try:
        with torch.no_grad():
            average(args.tuned, args.start, args.out, args.weight)
    except VidkeysError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"{args.weight:g} x {args.tuned} + {1 - args.weight:g} x {args.start}: {args.out}")


if __name__ == "__main__":
    main()
