"""The keypoint CNN: one grayscale square face crop in, 68 points and a face score out.

Architecture choice (see saved_models/README.md for the measurements): plain
3x3 convolutions with batch norm in stride-2 stages, a small U-Net style
decoder back to 1/8 of the crop, and a soft-argmax per point over its
heatmap. Depthwise/inverted-residual blocks were 2.5x slower on this CPU for
the same accuracy, because PyTorch's CPU depthwise kernels are memory bound.

On the CPU the trained network runs in ONNX Runtime: a video frame holds one
or two faces, and for such small batches ONNX Runtime takes 0.9 ms a face
where PyTorch (TorchScript, oneDNN) takes 2.8 ms, most of it per-call
overhead. On a GPU PyTorch runs it.
"""

from __future__ import annotations

import functools
import io
import os
import warnings
from dataclasses import asdict, dataclass
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
    widths: tuple[int, ...] = (16, 32, 64, 128)
    #: "heatmap": a decoder back up to 1/8 (or 1/4) of the crop and a
    #: soft-argmax per point; "regress": a fully connected head on the
    #: deepest map, regressing the 136 coordinates directly.
    head: str = "heatmap"
    hidden: int = 256
    decoder: int = 64
    #: Heatmap resolution: 1 decodes to 1/8 of the crop, 2 to 1/4.
    up_levels: int = 1


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
        if cfg.head not in ("regress", "heatmap"):
            raise ValueError(f"unknown head {cfg.head!r}")
        stages: list[nn.Module] = [_conv_bn_relu(1, cfg.widths[0], 2)]
        for cin, cout in zip(cfg.widths, cfg.widths[1:], strict=False):
            stages.append(nn.Sequential(_conv_bn_relu(cin, cout, 2), _conv_bn_relu(cout, cout, 1)))
        self.stages = nn.ModuleList(stages)
        last = cfg.widths[-1]
        self.face = nn.Linear(last, 1)
        if cfg.head == "regress":
            side = cfg.crop_size // 2 ** len(cfg.widths)
            self.head = nn.Sequential(
                nn.Flatten(),
                nn.Linear(last * side * side, cfg.hidden),
                nn.ReLU(inplace=True),
                nn.Linear(cfg.hidden, 2 * N_POINTS),
            )
        else:
            # Decoder: from the deepest map up to stride 4, adding the
            # encoder's map of each size (U-Net style, 1x1 to merge).
            skips = list(cfg.widths[3 - cfg.up_levels : 3])[::-1]  # stride 8, then 4
            ups, cin = [], last
            for skip in skips:
                ups.append(
                    nn.Sequential(
                        nn.Conv2d(cin + skip, cfg.decoder, 1, bias=False),
                        nn.BatchNorm2d(cfg.decoder),
                        nn.ReLU(inplace=True),
                        _conv_bn_relu(cfg.decoder, cfg.decoder, 1),
                    )
                )
                cin = cfg.decoder
            self.ups = nn.ModuleList(ups)
            self.head = nn.Conv2d(cfg.decoder, N_POINTS, 1)
            self.beta = nn.Parameter(torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(points (n, 68, 2) in crop pixels, face logit (n,))``."""
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        std = x.std(dim=(1, 2, 3), keepdim=True).clamp_min(1.0)
        y = (x - mean) / std
        maps = []
        for stage in self.stages:
            y = stage(y)
            maps.append(y)
        logit = self.face(y.mean(dim=(2, 3)))[:, 0]
        size = self.config.crop_size
        if self.config.head == "regress":
            points = (self.head(y).view(-1, N_POINTS, 2) + 0.5) * size
            return points, logit
        for up, skip in zip(self.ups, (maps[2], maps[1])[: len(self.ups)], strict=True):
            y = nn.functional.interpolate(y, size=skip.shape[-2:], mode="nearest")
            y = up(torch.cat([y, skip], dim=1))
        return _soft_argmax(self.head(y) * self.beta, size), logit


def _soft_argmax(heat: torch.Tensor, size: int) -> torch.Tensor:
    """Expected (x, y) of each softmax-normalised heatmap, in crop pixels."""
    n, k, h, w = heat.shape
    prob = torch.softmax(heat.flatten(2), dim=-1).view(n, k, h, w)
    xs = (torch.arange(w, device=heat.device, dtype=heat.dtype) + 0.5) * (size / w) - 0.5
    ys = (torch.arange(h, device=heat.device, dtype=heat.dtype) + 0.5) * (size / h) - 0.5
    return torch.stack([(prob.sum(2) * xs).sum(-1), (prob.sum(3) * ys).sum(-1)], dim=-1)


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
    for module in model.modules():
        if isinstance(module, nn.Sequential):
            for i in range(len(module) - 1):
                conv, bn = module[i], module[i + 1]
                if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                    module[i] = torch.nn.utils.fusion.fuse_conv_bn_eval(conv, bn)
                    module[i + 1] = nn.Identity()
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


def _onnx_session(model: KeypointNet, threads: int | None) -> Any:
    """The network as an ONNX Runtime session (exported in memory, nothing written)."""
    import onnxruntime as ort

    buffer = io.BytesIO()
    example = torch.zeros(1, 1, model.config.crop_size, model.config.crop_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation notices
        torch.onnx.export(
            model,
            (example,),
            buffer,
            input_names=["crops"],
            output_names=["points", "logit"],
            dynamic_axes={"crops": {0: "n"}},
            opset_version=17,
            dynamo=False,
        )
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])


class KeypointPredictor:
    """Batched inference: ``uint8`` crops in, points in crop pixels and face scores out.

    ``threads`` caps the CPU threads of the network (None: ONNX Runtime's
    default, every core).
    """

    def __init__(
        self, weights: Path | str | None = None, device: str = "auto", threads: int | None = None
    ) -> None:
        model, self.meta = load_model(weights)
        self.device = resolve_device(device)
        self.crop_size = model.config.crop_size
        model = _fuse_batch_norm(model).eval()
        self._session = None
        if self.device.type == "cpu":
            try:
                self._session = _onnx_session(model, threads)
            except Exception as exc:  # a torch without the exporter, a broken onnxruntime
                warnings.warn(
                    f"ONNX Runtime unusable ({str(exc).splitlines()[0]}); the CNN runs in "
                    "PyTorch, 2-3x slower for a frame's few faces",
                    stacklevel=2,
                )
                if threads:
                    torch.set_num_threads(threads)
        if self._session is None:
            # channels_last lets oneDNN and cuDNN pick their fast convolution kernels.
            self._model = model.to(self.device).to(memory_format=torch.channels_last)

    def __call__(
        self, crops: np.ndarray, batch_size: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Run ``(n, S, S)`` crops, at most ``batch_size`` per network call (None: all).

        Returns ``points (n, 68, 2)`` in crop pixels and ``confidence (n,)`` in
        [0, 1], the network's belief that the crop holds a face.
        """
        if len(crops) == 0:
            return np.zeros((0, N_POINTS, 2), np.float32), np.zeros(0, np.float32)
        step = batch_size or len(crops)
        parts = [self._run(crops[i : i + step]) for i in range(0, len(crops), step)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _run(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._session is not None:
            x = np.ascontiguousarray(crops, dtype=np.float32)[:, None]
            points, logit = self._session.run(None, {"crops": x})
        else:
            points, logit = self._run_torch(crops)
        return points.astype(np.float32), 1.0 / (1.0 + np.exp(-logit.astype(np.float32)))

    @torch.inference_mode()
    def _run_torch(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device)
        x = x.float().unsqueeze(1).contiguous(memory_format=torch.channels_last)
        points, logit = self._model(x)
        return points.float().cpu().numpy(), logit.float().cpu().numpy()


@functools.lru_cache(maxsize=4)
def _cached(path: Path, stamp: float, device: str, threads: int | None) -> KeypointPredictor:
    return KeypointPredictor(path, device, threads)


def shared_predictor(
    weights: Path | str | None = None, device: str = "auto", threads: int | None = None
) -> KeypointPredictor:
    """One predictor per weights file, device and thread count, reused by this process.

    Loading takes ~0.4 s (weights, ONNX export, session): a batch worker, or
    a script calling :func:`vidkeys.process` per file, pays it once, not per
    video. A weights file changed on disk is loaded again.
    """
    path = Path(weights) if weights else Path(os.environ.get("VIDKEYS_MODEL", DEFAULT_WEIGHTS))
    stamp = path.stat().st_mtime if path.is_file() else 0.0
    return _cached(path.resolve(), stamp, device, threads)
