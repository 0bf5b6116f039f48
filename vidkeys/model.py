"""The keypoint CNN: one grayscale square face crop in, 68 points and a face score out.

Architecture choice (see saved_models/README.md for the measurements): plain
3x3 convolutions with batch norm, stride-2 stages down to a 3x3 map, then a
small fully connected head that regresses the 136 coordinates directly.
Depthwise/inverted-residual blocks were 2.5x slower on this CPU for the same
accuracy, because PyTorch's CPU depthwise kernels are memory bound.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vidkeys.errors import VidkeysError

N_POINTS = 68
#: Where the shipped weights live (the repository's saved_models/ folder).
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "saved_models" / "vidkeys68.pt"


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the network from a weights file."""

    crop_size: int = 96
    widths: tuple[int, ...] = (16, 32, 64, 96, 128)
    hidden: int = 256
    extra: dict[str, Any] = field(default_factory=dict)


def _conv_bn_relu(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class KeypointNet(nn.Module):
    """CNN mapping ``(n, 1, S, S)`` crops (grey levels 0-255) to points and a face logit.

    Points come out in crop pixels. Each crop is standardised inside the
    network (zero mean, unit variance), so lighting changes and the caller's
    pixel scaling do not matter.
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        cfg = self.config
        layers: list[nn.Module] = [_conv_bn_relu(1, cfg.widths[0], 2)]
        for cin, cout in zip(cfg.widths, cfg.widths[1:], strict=False):
            layers += [_conv_bn_relu(cin, cout, 2), _conv_bn_relu(cout, cout, 1)]
        self.features = nn.Sequential(*layers)
        side = cfg.crop_size // 2 ** len(cfg.widths)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(cfg.widths[-1] * side * side, cfg.hidden),
            nn.ReLU(inplace=True),
            nn.Linear(cfg.hidden, 2 * N_POINTS + 1),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(points (n, 68, 2) in crop pixels, face logit (n,))``."""
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        std = x.std(dim=(1, 2, 3), keepdim=True).clamp_min(1.0)
        out = self.head(self.features((x - mean) / std))
        size = self.config.crop_size
        points = (out[:, : 2 * N_POINTS].view(-1, N_POINTS, 2) + 0.5) * size
        return points, out[:, 2 * N_POINTS]


def save_model(model: KeypointNet, path: Path, meta: dict[str, Any] | None = None) -> None:
    """Write weights plus the config that rebuilds them (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = asdict(model.config)
    cfg["widths"] = list(cfg["widths"])
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    tmp = path.with_name(path.name + ".part")
    torch.save({"config": cfg, "state_dict": state, "meta": meta or {}}, tmp)
    os.replace(tmp, path)


def load_model(path: Path | str | None = None) -> tuple[KeypointNet, dict[str, Any]]:
    """Load a weights file written by :func:`save_model`; no network involved.

    Raises :class:`VidkeysError` naming the file when it is missing or corrupt.
    """
    path = Path(path) if path else Path(os.environ.get("VIDKEYS_MODEL", DEFAULT_WEIGHTS))
    if not path.is_file():
        raise VidkeysError(f"weights file not found: {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        cfg = dict(blob["config"])
        cfg["widths"] = tuple(cfg["widths"])
        model = KeypointNet(ModelConfig(**cfg))
        model.load_state_dict(blob["state_dict"])
    except Exception as exc:  # torch raises many types for a bad file
        raise VidkeysError(f"cannot read weights file {path}: {str(exc).splitlines()[0]}") from exc
    model.eval()
    return model, dict(blob.get("meta", {}))


def _fuse_batch_norm(model: KeypointNet) -> KeypointNet:
    """Fold each batch norm into its convolution (same output, fewer passes)."""
    for block in model.features:
        conv, bn = block[0], block[1]
        block[0] = torch.nn.utils.fusion.fuse_conv_bn_eval(conv, bn)
        block[1] = nn.Identity()
    return model


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without one is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda"):
        raise VidkeysError(f"unknown device {device!r}: use auto, cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise VidkeysError("--device cuda asked for, but no CUDA GPU is available")
    return torch.device(device)


class KeypointPredictor:
    """Batched inference: ``uint8`` crops in, points in crop pixels and face scores out."""

    def __init__(self, weights: Path | str | None = None, device: str = "auto") -> None:
        model, self.meta = load_model(weights)
        self.device = resolve_device(device)
        self.crop_size = model.config.crop_size
        self.model = _fuse_batch_norm(model).to(self.device).eval()

    @torch.inference_mode()
    def __call__(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run ``(n, S, S)`` crops in one batch.

        Returns ``points (n, 68, 2)`` in crop pixels and ``confidence (n,)`` in
        [0, 1], the network's belief that the crop holds a face.
        """
        if len(crops) == 0:
            return np.zeros((0, N_POINTS, 2), np.float32), np.zeros(0, np.float32)
        x = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device)
        x = x.float().unsqueeze(1)
        points, logit = self.model(x)
        return points.float().cpu().numpy(), torch.sigmoid(logit).float().cpu().numpy()
