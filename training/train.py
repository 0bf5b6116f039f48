"""Training loop: AdamW, warm-up then cosine LR, checkpoints every epoch, resume.

The best epoch by validation NME (held-out people, each cut by the run-time
rule from its labels) is written to ``--out``; ``OUT.ckpt`` beside it holds
the full state a later run resumes from.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from vidkeys.errors import VidkeysError

try:
    import torch
except ModuleNotFoundError as exc:  # the base install: ONNX Runtime only
    raise VidkeysError("vidkeys train needs PyTorch: pip install 'vidkeys[train]'") from exc

import numpy as np

from vidkeys.faces.crop import crop_box_from_points, cut_faces, to_frame
from vidkeys.keypoints.network import KeypointNet, ModelConfig, load_model, save_model
from vidkeys.keypoints.predictor import resolve_device
from vidkeys.outputs.progress import progress
from vidkeys.training.augment import AugmentConfig, training_crop
from vidkeys.training.data import (
    dataset_checksum,
    load_images,
    read_keypoints_csv,
    split_people,
)
from vidkeys.training.metrics import nme


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters; recorded in the weights file and the model card."""

    epochs: int = 250
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_epochs: int = 3
    seed: int = 0
    wing_w: float = 10.0
    wing_eps: float = 2.0
    face_loss_weight: float = 1.0


def wing_loss(pred: torch.Tensor, target: torch.Tensor, w: float, eps: float) -> torch.Tensor:
    """Wing loss (Feng et al. 2018): log-shaped for small errors, L1 for large ones.

    It keeps pulling on the small residual errors that L2 ignores, which is
    where the last percent of NME lies.
    """
    err = (pred - target).abs()
    c = w - w * math.log1p(w / eps)
    return torch.where(err < w, w * torch.log1p(err / eps), err - c).mean()


def keypoint_loss(
    pred: torch.Tensor,
    logit: torch.Tensor,
    label: torch.Tensor,
    targets: list[tuple[float, torch.Tensor]],
    cfg: TrainConfig,
) -> torch.Tensor:
    """The training objective: cross-entropy on the face score, plus the wing loss of
    the points of the crops that hold a face against each ``(weight, points)`` target.

    Each target is a set of points for the same crops with its weight (the
    labels; a teacher's points, when one is distilled).
    """
    loss = cfg.face_loss_weight * torch.nn.functional.binary_cross_entropy_with_logits(logit, label)
    pos = label > 0.5
    if pos.any():  # a batch of negatives only has no points to place
        for weight, points in targets:
            if weight:
                loss = loss + weight * wing_loss(pred[pos], points[pos], cfg.wing_w, cfg.wing_eps)
    return loss


def _check_exporter() -> None:
    """Training ends by writing the weights' ONNX graph, which needs the ``onnx``
    package: say so before the first epoch, not after the last."""
    try:
        import onnx  # noqa: F401
    except ModuleNotFoundError:
        raise VidkeysError(
            "vidkeys train writes an ONNX graph beside the weights and needs the onnx "
            "package: pip install 'vidkeys[train]' (or pip install onnx)"
        ) from None


def warmup_cosine(
    opt: torch.optim.Optimizer, total: int, warm: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step learning rate: linear warm-up over ``warm`` steps, then cosine to 0 at ``total``."""

    def lr_at(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    return torch.optim.lr_scheduler.LambdaLR(opt, lr_at)


def training_step(
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    x: torch.Tensor,
    points: torch.Tensor,
    label: torch.Tensor,
    cfg: TrainConfig,
) -> float:
    """One optimiser step on a batch against its labels; returns the batch's loss."""
    pred, logit = model(x)
    loss = keypoint_loss(pred, logit, label, [(1.0, points)], cfg)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()
    return loss.item()


def _batches(indices, images, samples, rng, aug, size, batch_size):
    order = rng.permutation(indices)
    for start in range(0, len(order) - batch_size + 1, batch_size):
        crops, points, labels = [], [], []
        for i in order[start : start + batch_size]:
            c, p, y = training_crop(images[i], samples[i].points, rng, aug, size)
            crops.append(c)
            points.append(p)
            labels.append(y)
        yield (
            torch.from_numpy(np.stack(crops)).float().unsqueeze(1),
            torch.from_numpy(np.stack(points)),
            torch.tensor(labels),
        )


@torch.no_grad()
def predict_boxes(model, images, boxes, device, batch_size: int = 256) -> np.ndarray:
    """Points in image pixels for each (image, box): the inference path, batched."""
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        crops, mats = cut_faces(
            images[start : start + batch_size],
            boxes[start : start + batch_size],
            model.config.crop_size,
        )
        pts, _ = model(torch.from_numpy(crops).float().unsqueeze(1).to(device))
        out.append(to_frame(pts.cpu().numpy().astype(np.float64), mats))
    return np.concatenate(out)


def _check_writable(out: Path) -> None:
    """--out must be a file name in a folder we can write to."""
    if out.is_dir():
        raise VidkeysError(f"--out {out} is a folder; give a weights file name (.pt)")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        probe = out.with_name(f".{out.name}.probe")
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise VidkeysError(f"cannot write {out}: {exc.strerror or exc}") from exc


def train(
    csv_path: Path,
    images_dir: Path,
    out: Path,
    cfg: TrainConfig,
    model_cfg: ModelConfig | None = None,
    aug: AugmentConfig | None = None,
    device: str = "auto",
    resume: bool = False,
    quiet: bool = False,
    init: Path | None = None,
) -> dict:
    """Train a model on a data set and write the best weights to ``out``.

    ``init`` starts from a weights file (fine-tuning; its architecture is
    kept) instead of random weights. Returns a summary dict (best epoch,
    validation NME, seconds).
    """
    _check_exporter()  # before any work: a .pt without its graph would be useless
    out = Path(out)
    ckpt_path = out.with_name(out.name + ".ckpt")
    _check_writable(out)  # before the data and the first epoch, not after
    aug = aug or AugmentConfig()
    dev = torch.device(resolve_device(device))
    torch.manual_seed(cfg.seed)
    samples = read_keypoints_csv(csv_path)
    images = load_images(samples, images_dir)
    train_idx, val_idx = split_people(samples)
    if not train_idx:
        raise VidkeysError(f"{csv_path}: no training images left after the split")
    if len(train_idx) < cfg.batch_size:
        raise VidkeysError(
            f"{csv_path}: {len(train_idx)} training images, fewer than one batch of "
            f"{cfg.batch_size}; give more images or a smaller --batch-size"
        )
    if not val_idx:  # a data set of one person: validate on what we train on
        val_idx = train_idx

    # channels_last: oneDNN's fast convolution path, about 2x per step on CPU.
    if init is not None:
        model, _ = load_model(init)
    else:
        model = KeypointNet(model_cfg or ModelConfig())
    # The served mirror test takes the same lean out as the mirrored crops do.
    model.config = dataclasses.replace(model.config, flip_shift=aug.flip_shift)
    model = model.to(dev, memory_format=torch.channels_last)
    size = model.config.crop_size
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, len(train_idx) // cfg.batch_size)
    sched = warmup_cosine(opt, cfg.epochs * steps_per_epoch, cfg.warmup_epochs * steps_per_epoch)
    start_epoch, best, history = 0, float("inf"), []
    if resume and ckpt_path.is_file():
        try:
            state = torch.load(ckpt_path, map_location=dev, weights_only=False)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["opt"])
            sched.load_state_dict(state["sched"])
            start_epoch, best, history = state["epoch"], state["best"], state["history"]
        except Exception as exc:  # torch raises many types for a damaged file
            why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise VidkeysError(
                f"cannot resume from {ckpt_path}: not a checkpoint of this model ({why}); "
                "delete it to start over"
            ) from exc
        if not quiet:
            print(f"resumed from {ckpt_path} at epoch {start_epoch}", file=sys.stderr)

    val_images = [images[i] for i in val_idx]
    val_boxes = [crop_box_from_points(samples[i].points) for i in val_idx]
    val_truth = np.stack([samples[i].points for i in val_idx])
    meta_base = {
        "data_csv": str(csv_path),
        "data_sha256": dataset_checksum(csv_path),
        "train_images": len(train_idx),
        "val_images": len(val_idx),
        "train_config": asdict(cfg),
        "augment": asdict(aug),
        "init": str(init) if init is not None else None,
    }
    t0 = time.time()
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        rng = np.random.default_rng([cfg.seed, epoch])
        losses = []
        batches = _batches(train_idx, images, samples, rng, aug, size, cfg.batch_size)
        # A bar on a terminal, plain lines in a log (no carriage returns there).
        with progress(f"epoch {epoch + 1}/{cfg.epochs}", steps_per_epoch, "step", quiet) as bar:
            for x, pts, label in batches:
                x = x.to(dev, memory_format=torch.channels_last)
                pts, label = pts.to(dev), label.to(dev)
                losses.append(training_step(model, opt, sched, x, pts, label, cfg))
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
                bar.update(1)
        val = nme(predict_boxes(model, val_images, val_boxes, dev), val_truth)
        record = {
            "epoch": epoch + 1,
            "loss": float(np.mean(losses)),
            "val_nme": float(val.mean()),
            "seconds": round(time.time() - t0, 1),
        }
        history.append(record)
        if not quiet:
            print(json.dumps(record), file=sys.stderr, flush=True)
        if not (math.isfinite(record["loss"]) and math.isfinite(record["val_nme"])):
            kept = f"; the best weights so far are in {out}" if math.isfinite(best) else ""
            raise VidkeysError(
                f"training diverged at epoch {epoch + 1} (loss {record['loss']}, validation "
                f"NME {record['val_nme']}): try a smaller --lr than {cfg.lr}{kept}"
            )
        if record["val_nme"] < best:
            best = record["val_nme"]
            try:
                save_model(
                    model,
                    out,
                    {**meta_base, "epoch": epoch + 1, "val_nme": best, "history": history},
                )
            except OSError as exc:
                raise VidkeysError(f"cannot write {out}: {exc.strerror or exc}") from exc
        tmp = ckpt_path.with_name(ckpt_path.name + ".part")
        try:
            torch.save(
                {
                    "model": model.state_dict(),
                    "opt": opt.state_dict(),
                    "sched": sched.state_dict(),
                    "epoch": epoch + 1,
                    "best": best,
                    "history": history,
                },
                tmp,
            )
            os.replace(tmp, ckpt_path)
        except (OSError, RuntimeError) as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise VidkeysError(f"cannot write {ckpt_path}: {exc}".splitlines()[0]) from exc
    return {
        "best_val_nme": best,
        "epochs": cfg.epochs,
        "out": str(out),
        "seconds": round(time.time() - t0, 1),
        "history": history,
    }
