"""The keypoint CNN in PyTorch: the network, its weights files, and their ONNX graph.

One grayscale square face crop in, 68 points and a face score out.
Architecture choice (see saved_models/README.md for the measurements): plain
3x3 convolutions with batch norm in stride-2 stages, a small U-Net style
decoder back to 1/8 of the crop, and a soft-argmax per point over its
heatmap. Inverted residuals (``ModelConfig.block``), run in ONNX Runtime as
served, are as fast with half the parameters but 0.2 points of held-out NME
worse (model card, "What was tried"); in PyTorch on the CPU they were 2.5x slower.

This module needs torch (the ``train`` or ``gpu`` extra); serving on the CPU
does not: :func:`save_model` writes an ONNX graph beside every ``.pt``, and
:mod:`vidkeys.keypoints.predictor` runs that graph in ONNX Runtime.
``python -m vidkeys.keypoints.network WEIGHTS.pt`` writes the graph of an existing file.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import sys
import warnings
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vidkeys.errors import VidkeysError
from vidkeys.keypoints.mirror import LABEL_SHIFT
from vidkeys.keypoints.weights import N_POINTS, default_weights, file_sha256, onnx_path

try:
    import torch
    from torch import nn
except ModuleNotFoundError as exc:  # the base install: ONNX Runtime only
    raise VidkeysError(
        "PyTorch is not installed (training, --device cuda and ONNX export need it): "
        "pip install 'vidkeys[train]'"
    ) from exc

#: ONNX opset of the exported graph (ONNX Runtime 1.17 and later run it).
OPSET = 17


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
    #: Encoder blocks after the first convolution: "plain" 3x3 convolutions,
    #: or "inverted" residuals (MobileNetV2: 1x1 expand by ``expand``, 3x3
    #: depthwise, 1x1 project), which ONNX Runtime runs at a lower cost per
    #: parameter than PyTorch does (saved_models/README.md, "What was tried").
    block: str = "plain"
    expand: int = 4
    #: The labels' lean the network was trained with (see vidkeys.keypoints.mirror),
    #: which the served mirror test takes out of the mirror image's points.
    flip_shift: float = LABEL_SHIFT


def _conv_bn_relu(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class _InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expand, 3x3 depthwise, 1x1 project; residual at stride 1."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.body = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


def _stage(cin: int, cout: int, cfg: ModelConfig) -> nn.Sequential:
    """One stride-2 encoder stage: a block that halves the map, then one that keeps it."""
    if cfg.block == "inverted":
        e = cfg.expand
        return nn.Sequential(
            _InvertedResidual(cin, cout, 2, e), _InvertedResidual(cout, cout, 1, e)
        )
    return nn.Sequential(_conv_bn_relu(cin, cout, 2), _conv_bn_relu(cout, cout, 1))


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
        if cfg.block not in ("plain", "inverted"):
            raise ValueError(f"unknown block {cfg.block!r}")
        stages: list[nn.Module] = [_conv_bn_relu(1, cfg.widths[0], 2)]
        for cin, cout in zip(cfg.widths, cfg.widths[1:], strict=False):
            stages.append(_stage(cin, cout, cfg))
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
        points, logit, _ = self.predict(x)
        return points, logit

    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`forward` plus each point's heatmap peak ``(n, 68)``.

        The peak is the largest probability of the point's softmax heatmap: a
        sharp peak where the network recognises the feature, a flat map where
        it does not (a crop of a wall, of lettering, of half a face). On the
        held-out people, faces have a mean peak of 0.24-0.29 (10th-90th
        percentile) and crops off the face, on part of it or on text
        0.06-0.13, while the face logit calls some of those faces. The
        regression head has no heatmap and gives 1.
        """
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
            return points, logit, torch.ones(points.shape[:2], dtype=points.dtype)
        for up, skip in zip(self.ups, (maps[2], maps[1])[: len(self.ups)], strict=True):
            y = nn.functional.interpolate(y, size=skip.shape[-2:], mode="nearest")
            y = up(torch.cat([y, skip], dim=1))
        heat = self.head(y) * self.beta
        n, k, h, w = heat.shape
        prob = torch.softmax(heat.flatten(2), dim=-1)
        return _soft_argmax(prob.view(n, k, h, w), size), logit, prob.amax(dim=-1)


class _Serving(nn.Module):
    """The network as served: :meth:`KeypointNet.predict` as its forward (for export)."""

    def __init__(self, model: KeypointNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.model.predict(x)


def _soft_argmax(prob: torch.Tensor, size: int) -> torch.Tensor:
    """Expected (x, y) of each point's normalised heatmap ``(n, 68, h, w)``, in crop pixels."""
    h, w = prob.shape[-2:]
    xs = (torch.arange(w, device=prob.device, dtype=prob.dtype) + 0.5) * (size / w) - 0.5
    ys = (torch.arange(h, device=prob.device, dtype=prob.dtype) + 0.5) * (size / h) - 0.5
    return torch.stack([(prob.sum(2) * xs).sum(-1), (prob.sum(3) * ys).sum(-1)], dim=-1)


def save_model(model: KeypointNet, path: Path, meta: dict[str, Any] | None = None) -> None:
    """Write weights plus the config that rebuilds them, and their ONNX graph, atomically.

    The graph goes to ``path`` with the suffix ``.onnx`` and records the
    sha256 of the ``.pt`` it was made from, so a stale graph is caught on load.
    Both are written under ``.part`` names first and put in place together: a
    full disk leaves the earlier pair as it was and no ``.part`` file behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = asdict(model.config)
    cfg["widths"] = list(cfg["widths"])
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    tmp = path.with_name(path.name + ".part")
    graph = onnx_path(path)
    graph_tmp = graph.with_name(graph.name + ".part")
    try:
        torch.save({"config": cfg, "state_dict": state, "meta": meta or {}}, tmp)
        export_onnx(model, tmp, meta, out=graph_tmp)
        os.replace(tmp, path)
        os.replace(graph_tmp, graph)
    except (OSError, RuntimeError) as exc:  # torch reports a full disk as RuntimeError
        for part in (tmp, graph_tmp):
            with contextlib.suppress(OSError):
                part.unlink(missing_ok=True)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise VidkeysError(f"cannot write {path}: {reason.splitlines()[0]}") from exc


def _weights_problem(path: Path, exc: BaseException) -> str:
    """What is wrong with a weights file, in words (not torch's advice to unpickle it)."""
    text = str(exc).strip()
    if isinstance(exc, KeyError):
        return f"not a vidkeys weights file (it has no {text} entry)"
    if path.stat().st_size == 0:
        return "the file is empty"
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive
        return "not a vidkeys weights file (not a PyTorch file written by vidkeys train)"
    return text.splitlines()[0] if text else f"{type(exc).__name__} (the file is damaged)"


def load_model(path: Path | str | None = None) -> tuple[KeypointNet, dict[str, Any]]:
    """Load a weights file written by :func:`save_model`; no network involved.

    Raises :class:`VidkeysError` naming the file when it is missing or corrupt.
    """
    path = Path(path) if path else default_weights()
    if not path.is_file():
        raise VidkeysError(f"weights file not found: {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        cfg = dict(blob["config"])
        cfg["widths"] = tuple(cfg["widths"])
        cfg.pop("test_flip", None)  # early weights files kept the mirror test in the graph
        model = KeypointNet(ModelConfig(**cfg))
        model.load_state_dict(blob["state_dict"])
    except Exception as exc:  # torch raises many types for a bad file
        why = _weights_problem(path, exc)
        raise VidkeysError(f"cannot read weights file {path}: {why}") from exc
    model.eval()
    return model, dict(blob.get("meta", {}))


def fuse_batch_norm(model: KeypointNet) -> KeypointNet:
    """Fold each batch norm into its convolution (same output, fewer passes)."""
    for module in model.modules():
        if isinstance(module, nn.Sequential):
            for i in range(len(module) - 1):
                conv, bn = module[i], module[i + 1]
                if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                    module[i] = torch.nn.utils.fusion.fuse_conv_bn_eval(conv, bn)
                    module[i + 1] = nn.Identity()
    return model


def onnx_bytes(model: KeypointNet) -> bytes:
    """The network, batch norms folded, as an ONNX graph with a dynamic batch axis."""
    fused = fuse_batch_norm(copy.deepcopy(model).cpu().eval())
    size = fused.config.crop_size
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation notices
        torch.onnx.export(
            _Serving(fused),
            (torch.zeros(1, 1, size, size),),
            buffer,
            input_names=["crops"],
            output_names=["points", "logit", "peak"],
            dynamic_axes={"crops": {0: "n"}},
            opset_version=OPSET,
            dynamo=False,
        )
    return buffer.getvalue()


def export_onnx(
    model: KeypointNet,
    weights: Path,
    meta: dict[str, Any] | None = None,
    out: Path | None = None,
) -> Path:
    """Write ``model``'s graph beside the weights file ``weights`` it was saved to
    (to ``out`` when given: :func:`save_model` writes both under part names).

    The graph's metadata holds ``pt_sha256`` (the weights file's bytes), the
    model config and ``meta``; :class:`vidkeys.keypoints.predictor.KeypointPredictor`
    refuses a graph whose ``pt_sha256`` does not match the ``.pt`` beside it.
    """
    import onnx

    weights = Path(weights)
    graph = onnx.load_from_string(onnx_bytes(model))
    cfg = asdict(model.config)
    cfg["widths"] = list(cfg["widths"])
    props = {
        "pt_sha256": file_sha256(weights),
        "config": json.dumps(cfg),
        "meta": json.dumps(meta or {}),
    }
    for key, value in props.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    if out is not None:
        onnx.save(graph, out)
        return out
    out = onnx_path(weights)
    tmp = out.with_name(out.name + ".part")
    onnx.save(graph, tmp)
    os.replace(tmp, out)
    return out


def rewrite_graph(weights: Path | str) -> Path:
    """Write the 32-bit graph of the weights file ``weights`` beside it; return its path.

    What ``python -m vidkeys.keypoints.network`` does, and where an 8-bit graph starts from.
    """
    model, meta = load_model(weights)
    return export_onnx(model, Path(weights), meta)


def main(argv: list[str] | None = None) -> int:
    """``python -m vidkeys.keypoints.network WEIGHTS.pt ...``: (re)write each file's ONNX graph."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m vidkeys.keypoints.network WEIGHTS.pt [...]", file=sys.stderr)
        return 2
    for name in args:
        try:
            print(rewrite_graph(name))
        except VidkeysError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
