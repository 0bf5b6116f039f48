"""An 8-bit graph for the CPU: the weights' ONNX graph quantised, calibrated on training faces.

    python -m vidkeys.training.quantize --csv DATA/training_frames_keypoints.csv \\
        --images DATA/training --model saved_models/vidkeys68.pt

ONNX Runtime runs the 8-bit network about twice as fast as the 32-bit one
on this project's CPU (AVX-512 VNNI; 2.0 times at batch 32 on both cores,
2.2 on the pipeline's one thread), for held-out NME 4.06 % against 4.05 %
(saved_models/README.md, "What was tried"). The graph beside the weights is
replaced by its quantised version, with the same metadata (so it stays in
step with the ``.pt``) plus ``precision: int8``; the ``.pt`` itself and the
PyTorch path (``--device cuda``) stay 32-bit. ``python -m vidkeys.keypoints.network
WEIGHTS.pt`` writes the 32-bit graph again.

How: ONNX Runtime's static quantisation of the convolutions (weights per
channel, activations per tensor, ranges measured on crops of the training
people's faces cut as the pipeline cuts them, each with its mirror image, as
the mirror test serves them). Weights use 7 of their 8 bits
(``reduce_range``): CPUs without VNNI multiply 8-bit pairs into 16-bit sums
that full-range weights can overflow; it cost 0.007 points here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from vidkeys.errors import VidkeysError
from vidkeys.faces.crop import cut_faces
from vidkeys.training.data import training_people_faces, weights_step_parser

#: Training faces whose crops (and their mirror images) set the activations' ranges.
CALIBRATION_FACES = 512
#: The graph metadata entry that marks a quantised graph.
PRECISION_KEY = "precision"


def calibration_crops(
    csv_path: Path, images_dir: Path, size: int, n: int = CALIBRATION_FACES, seed: int = 0
) -> np.ndarray:
    """``(2n, size, size)`` uint8 crops: ``n`` training people's faces and their mirror images.

    Held-out people are left out, so validation stays unseen by every step.
    """
    _, images, boxes = training_people_faces(csv_path, images_dir, n, seed)
    crops, _ = cut_faces(images, boxes, size)
    return np.concatenate([crops, crops[..., ::-1]])


def quantize(weights: Path, crops: np.ndarray, batch: int = 64) -> Path:
    """Replace the graph beside ``weights`` with an 8-bit one calibrated on ``crops``.

    The 32-bit graph is exported afresh from the ``.pt`` first, so running this
    twice, or after the ``.pt`` changed, quantises the current weights.
    """
    from vidkeys.keypoints.network import rewrite_graph

    return quantize_graph(rewrite_graph(weights), crops, batch)


def quantize_graph(graph: Path, crops: np.ndarray, batch: int = 64) -> Path:
    """Replace the 32-bit ONNX graph ``graph`` by its 8-bit version, metadata kept.

    :func:`quantize`'s step on any graph file, also one with no ``.pt`` (a
    benchmark's candidate network).
    """
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    x = np.ascontiguousarray(crops, dtype=np.float32)[:, None]

    class Crops(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(range(0, len(x), batch))

        def get_next(self) -> dict[str, np.ndarray] | None:
            start = next(self.batches, None)
            return None if start is None else {"crops": x[start : start + batch]}

    props = {p.key: p.value for p in onnx.load(graph).metadata_props}
    with tempfile.TemporaryDirectory() as tmp:
        pre, out = Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        quant_pre_process(str(graph), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre),
            str(out),
            Crops(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            reduce_range=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["Conv"],
        )
        quantized = onnx.load(out)
    del quantized.metadata_props[:]
    for key, value in {**props, PRECISION_KEY: "int8"}.items():
        entry = quantized.metadata_props.add()
        entry.key, entry.value = key, value
    part = graph.with_name(graph.name + ".part")
    onnx.save(quantized, part)
    os.replace(part, graph)
    return graph


def main(argv: list[str] | None = None) -> None:
    parser = weights_step_parser(__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=CALIBRATION_FACES, help="calibration faces")
    args = parser.parse_args(argv)
    try:
        from vidkeys.keypoints.network import load_model

        size = load_model(args.model)[0].config.crop_size
        crops = calibration_crops(args.csv, args.images, size, args.faces)
        graph = quantize(args.model, crops)
    except VidkeysError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"8-bit graph written to {graph} ({len(crops)} calibration crops)")


if __name__ == "__main__":
    main()
