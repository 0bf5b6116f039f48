"""Serving the keypoint CNN: ``uint8`` face crops in, 68 points and a face score out.

On the CPU the network runs in ONNX Runtime from the graph shipped beside its
weights (``vidkeys68.onnx`` beside ``vidkeys68.pt``): a video frame holds one
or two faces, and for such small batches ONNX Runtime takes 0.9 ms a face
where PyTorch (TorchScript, oneDNN) takes 2.8 ms, most of it per-call
overhead. Nothing here imports torch unless the network runs on a GPU
(``--device cuda``, or ``auto`` where a CUDA driver and torch are installed),
or ONNX Runtime cannot run the graph and torch is there to fall back on.

The graph records the sha256 of the ``.pt`` it was exported from
(:func:`vidkeys.keypoints.network.save_model` writes both); a graph out of step with
its ``.pt`` is refused, with the command that rewrites it.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from vidkeys.config import PipelineConfig
from vidkeys.errors import VidkeysError
from vidkeys.keypoints.correction import ShapeCorrection
from vidkeys.keypoints.mirror import FLIP_INDEX, LABEL_SHIFT, mirror_mean
from vidkeys.keypoints.weights import (
    N_POINTS,
    REEXPORT_HINT,
    check_model_file,
    default_weights,
    file_sha256,
    onnx_path,
)


def torch_installed() -> bool:
    """Whether torch can be imported, found without importing it (which takes 1-2 s)."""
    return "torch" in sys.modules or importlib.util.find_spec("torch") is not None


def _cuda_driver_present() -> bool:
    """Whether an NVIDIA driver library loads: a cheap test before importing torch."""
    import ctypes

    names = {"win32": ["nvcuda.dll"], "darwin": []}.get(sys.platform, ["libcuda.so.1"])
    for name in names:
        try:
            ctypes.CDLL(name)
        except OSError:
            continue
        return True
    return False


def cuda_available() -> bool:
    """A CUDA GPU PyTorch can use; torch is imported only where a driver is present."""
    if not torch_installed() or not _cuda_driver_present():
        return False
    import torch

    return torch.cuda.is_available()


def resolve_device(device: str = "auto") -> str:
    """``"cpu"`` or ``"cuda"``: ``auto`` picks CUDA when present; CUDA without one is an error."""
    if device == "auto":
        return "cuda" if cuda_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise VidkeysError(f"unknown device {device!r}: use auto, cpu or cuda")
    if device == "cuda":
        if not torch_installed():
            raise VidkeysError(
                "--device cuda runs the network in PyTorch, which is not installed: "
                "pip install 'vidkeys[gpu]'"
            )
        if not cuda_available():
            raise VidkeysError("--device cuda asked for, but no CUDA GPU is available")
    return device


def _onnx_session(graph: Path, threads: int | None, spin: bool = True) -> Any:
    """An ONNX Runtime session on the CPU for the graph file ``graph``; ``spin=False``:
    no busy-waiting between calls (a graph run now and then beside other work)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])


def check_graph(session: Any, props: dict[str, str], graph: Path) -> None:
    """Refuse an ONNX graph that is not a vidkeys keypoint graph, naming what is wrong.

    A vidkeys graph takes ``crops`` ``(n, 1, S, S)`` float with a fixed side S
    and answers ``points`` ``(n, 68, 2)``, ``logit`` ``(n,)`` and ``peak``
    ``(n, 68)``, and carries vidkeys' ``config`` and ``meta`` metadata. Another
    model's graph could otherwise run and write garbage faces.
    """

    def refuse(what: str) -> None:
        raise VidkeysError(f"{graph} is not a vidkeys keypoint graph: {what}")

    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or inputs[0].name != "crops":
        refuse(f"inputs {[i.name for i in inputs]}, expected one named 'crops'")
    shape = inputs[0].shape
    if len(shape) != 4 or shape[1] != 1:
        refuse(f"input shape {shape}, expected (n, 1, side, side)")
    if not (isinstance(shape[2], int) and shape[2] == shape[3] and shape[2] >= 16):
        refuse(f"input shape {shape}: the crop side must be a fixed number, the same twice")
    if inputs[0].type != "tensor(float)":
        refuse(f"input type {inputs[0].type}, expected tensor(float)")
    names = [o.name for o in outputs]
    if names != ["points", "logit", "peak"]:
        refuse(f"outputs {names}, expected ['points', 'logit', 'peak']")
    if outputs[0].shape[1:] != [N_POINTS, 2]:
        refuse(f"'points' shape {outputs[0].shape}, expected (n, {N_POINTS}, 2)")
    if "config" not in props or "meta" not in props:
        refuse("no vidkeys metadata (config, meta); export weights with vidkeys.keypoints.network")


class KeypointPredictor:
    """Batched inference: ``uint8`` crops in, points in crop pixels and face scores out.

    ``weights`` is a ``.pt`` with its ``.onnx`` beside it (the shipped one by
    default), or an ``.onnx`` alone (CPU only). ``threads`` caps the CPU
    threads of the network (None: ONNX Runtime's default, every core).
    ``mirror_test``: run each crop and its mirror image in one batch and
    average the two (:func:`vidkeys.keypoints.mirror.mirror_mean`); what it buys and
    costs is measured at :attr:`vidkeys.config.PipelineConfig.mirror_test`.
    ``correct``: apply the weights' shape correction, where their metadata
    holds one (:mod:`vidkeys.keypoints.correction`); off only to fit a new one.
    """

    def __init__(
        self,
        weights: Path | str | None = None,
        device: str = "auto",
        threads: int | None = None,
        mirror_test: bool = PipelineConfig.mirror_test,
        correct: bool = True,
    ) -> None:
        self.weights = Path(weights) if weights else default_weights()
        self.device = resolve_device(device)
        self.mirror_test = mirror_test
        self.flip_shift = LABEL_SHIFT  # the labels' lean, from the weights' config below
        self.meta: dict[str, Any] = {}
        self._session = None
        self._model = None
        check_model_file(self.weights, "weights file")
        if self.device == "cpu":
            self._open_graph(threads)
        if self._session is None:
            self._load_torch(threads)
        self.correction = ShapeCorrection.from_meta(self.meta) if correct else None

    def _open_graph(self, threads: int | None) -> None:
        pt, graph = self.weights, onnx_path(self.weights)
        if graph != pt and not graph.is_file():
            raise VidkeysError(
                f"cannot read weights file {pt}: no ONNX graph {graph.name} beside it; "
                f"write it with: {REEXPORT_HINT.format(pt=pt)}"
            )
        if graph.stat().st_size == 0:
            raise VidkeysError(f"cannot read ONNX graph {graph}: the file is empty")
        try:
            session = _onnx_session(graph, threads)
        except Exception as exc:  # a broken graph file or onnxruntime
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if graph == pt or not torch_installed():
                raise VidkeysError(f"cannot run ONNX graph {graph}: {reason}") from exc
            warnings.warn(
                f"ONNX Runtime unusable ({reason}); the CNN runs in PyTorch, "
                "2-3x slower for a frame's few faces",
                stacklevel=3,
            )
            return
        props = session.get_modelmeta().custom_metadata_map
        check_graph(session, props, graph)
        if graph != pt and props.get("pt_sha256") != file_sha256(pt):
            raise VidkeysError(
                f"ONNX graph {graph} is out of step with weights file {pt} (it was exported "
                f"from another .pt); rewrite it with: {REEXPORT_HINT.format(pt=pt)}"
            )
        self.meta = json.loads(props.get("meta", "{}"))
        self.flip_shift = json.loads(props.get("config", "{}")).get("flip_shift", LABEL_SHIFT)
        self.crop_size = int(session.get_inputs()[0].shape[-1])
        self._session = session

    def _load_torch(self, threads: int | None) -> None:
        import torch

        from vidkeys.keypoints.network import fuse_batch_norm, load_model

        if self.weights.suffix == ".onnx":
            raise VidkeysError(f"{self.weights}: an ONNX graph runs on the CPU only; give the .pt")
        model, self.meta = load_model(self.weights)
        self.crop_size = model.config.crop_size
        self.flip_shift = model.config.flip_shift
        if threads:
            torch.set_num_threads(threads)
        # channels_last lets oneDNN and cuDNN pick their fast convolution kernels.
        model = fuse_batch_norm(model).eval().to(self.device)
        self._model = model.to(memory_format=torch.channels_last)

    def __call__(
        self, crops: np.ndarray, batch_size: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Run ``(n, S, S)`` crops, at most ``batch_size`` per network call (None: all).

        Returns ``points (n, 68, 2)`` in crop pixels, ``face_score (n,)`` in
        [0, 1] (the network's belief that the crop holds a face) and
        ``point_confidence (n, 68)`` in [0, 1] (see :func:`point_confidence`).
        """
        if len(crops) == 0:
            return (
                np.zeros((0, N_POINTS, 2), np.float32),
                np.zeros(0, np.float32),
                np.zeros((0, N_POINTS), np.float32),
            )
        step = batch_size or len(crops)
        parts = [self._serve(crops[i : i + step]) for i in range(0, len(crops), step)]
        points, logit, peak = (np.concatenate([p[k] for p in parts]) for k in range(3))
        if self.correction is not None:
            points = self.correction(points)
        return points, 1.0 / (1.0 + np.exp(-logit)), point_confidence(peak, *self.peak_range)

    @property
    def peak_range(self) -> tuple[float, float]:
        """The weights' ``(flat, sharp)`` peaks (see :data:`PEAK_FLAT`), from their metadata."""
        flat, sharp = self.meta.get("peak_range", (PEAK_FLAT, PEAK_SHARP))
        return float(flat), float(sharp)

    def _serve(self, crops: np.ndarray) -> tuple[np.ndarray, ...]:
        """Points, logits and peaks of ``crops``, with the mirror test when it is on."""
        if not self.mirror_test:
            return self._run(crops)
        n = len(crops)
        points, logit, peak = self._run(np.concatenate([crops, crops[..., ::-1]]))
        return (
            mirror_mean(points[:n], points[n:], self.crop_size, self.flip_shift).astype(np.float32),
            (logit[:n] + logit[n:]) / 2,
            (peak[:n] + peak[n:, FLIP_INDEX]) / 2,
        )

    def _run(self, crops: np.ndarray) -> tuple[np.ndarray, ...]:
        if self._session is not None:
            x = np.ascontiguousarray(crops, dtype=np.float32)[:, None]
            out = self._session.run(None, {"crops": x})
        else:
            out = self._run_torch(crops)
        return tuple(o.astype(np.float32) for o in out)

    def _run_torch(self, crops: np.ndarray) -> tuple[np.ndarray, ...]:
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device)
            x = x.float().unsqueeze(1).contiguous(memory_format=torch.channels_last)
            return tuple(o.float().cpu().numpy() for o in self._model.predict(x))


#: Heatmap peaks (see :meth:`vidkeys.keypoints.network.KeypointNet.predict`) at or below
#: PEAK_FLAT read as confidence 0, at or above PEAK_SHARP as 1: the first
#: shipped model's range, for weights whose metadata has no ``peak_range``.
#: Peaks depend on the network (a wider one, or one averaged with its mirror
#: image, has flatter heatmaps), so ``python -m vidkeys.training.calibrate_peaks --write``
#: measures each model's range and stores it in its weights, such that a
#: confidence means what it meant for the first model, on which the
#: tracker's gates were set: on the held-out people, 90 % of faces have a mean
#: confidence above FACE_LOW and 90 % of crops that are not faces (off the
#: face, on an eye or the mouth, on lettering) one below NOT_FACE_HIGH.
PEAK_FLAT, PEAK_SHARP = 0.10, 0.25
#: The first model's figures by that script (mean peaks 0.237 and 0.153).
FACE_LOW, NOT_FACE_HIGH = 0.913, 0.353


def point_confidence(
    peak: np.ndarray, flat: float = PEAK_FLAT, sharp: float = PEAK_SHARP
) -> np.ndarray:
    """Each point's heatmap peak mapped linearly onto [0, 1], 0 at ``flat``, 1 at ``sharp``."""
    return np.clip((peak - flat) / (sharp - flat), 0.0, 1.0).astype(np.float32)


def peak_range(face_low: float, not_face_high: float) -> tuple[float, float]:
    """``(flat, sharp)`` that map a model's raw mean peaks, the faces' 10th
    percentile ``face_low`` and the non-faces' 90th ``not_face_high``, to
    :data:`FACE_LOW` and :data:`NOT_FACE_HIGH`."""
    width = (face_low - not_face_high) / (FACE_LOW - NOT_FACE_HIGH)
    flat = not_face_high - NOT_FACE_HIGH * width
    return flat, flat + width


@functools.lru_cache(maxsize=4)
def _cached(
    path: Path, stamp: tuple[float, float], device: str, threads: int | None, mirror_test: bool
):
    return KeypointPredictor(path, device, threads, mirror_test)


def _mtime(path: Path) -> float:
    return path.stat().st_mtime if path.is_file() else 0.0


def shared_predictor(
    weights: Path | str | None = None,
    device: str = "auto",
    threads: int | None = None,
    mirror_test: bool = PipelineConfig.mirror_test,
) -> KeypointPredictor:
    """One predictor per weights file, device and thread count, reused by this process.

    Loading takes ~0.05 s on the CPU (graph, session): a batch worker, or a
    script calling :func:`vidkeys.process` per file, pays it once, not per
    video. Weights or a graph changed on disk are loaded again.
    """
    path = Path(weights) if weights else default_weights()
    stamp = (_mtime(path), _mtime(onnx_path(path)))
    return _cached(path.resolve(), stamp, device, threads, mirror_test)
