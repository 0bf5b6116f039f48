"""The 8-bit graph: made from the weights' current float graph, in step with them, served."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch

from vidkeys.keypoints.network import KeypointNet, ModelConfig, save_model
from vidkeys.keypoints.predictor import KeypointPredictor
from vidkeys.keypoints.weights import file_sha256, onnx_path
from vidkeys.training.data import read_keypoints_csv, split_people
from vidkeys.training.quantize import (
    PRECISION_KEY,
    calibration_crops,
    quantize,
    quantize_graph,
)


def _ops(graph: Path) -> set[str]:
    return {node.op_type for node in onnx.load(graph).graph.node}


def test_quantized_graph_stays_in_step_with_its_weights(
    tiny_dataset: tuple[Path, Path, np.ndarray], tmp_path: Path
) -> None:
    csv_path, images_dir, _ = tiny_dataset
    crops = calibration_crops(csv_path, images_dir, 32, n=100)
    train, _ = split_people(read_keypoints_csv(csv_path))
    # Every training face (fewer than 100 here), each followed later by its mirror image.
    assert crops.shape == (2 * len(train), 32, 32) and crops.dtype == np.uint8
    np.testing.assert_array_equal(crops[len(train) :], crops[: len(train), :, ::-1])

    torch.manual_seed(0)
    weights = tmp_path / "m.pt"
    save_model(KeypointNet(ModelConfig(crop_size=32, widths=(8, 16, 16, 32), decoder=16)), weights)
    float_graph = onnx.load(onnx_path(weights))
    float_points = KeypointPredictor(weights, "cpu")(crops)[0]
    assert "QuantizeLinear" not in _ops(onnx_path(weights))

    graph = quantize(weights, crops)
    assert graph == onnx_path(weights) and {"QuantizeLinear", "DequantizeLinear"} <= _ops(graph)
    props = {p.key: p.value for p in onnx.load(graph).metadata_props}
    assert props[PRECISION_KEY] == "int8" and props["pt_sha256"] == file_sha256(weights)
    for p in float_graph.metadata_props:  # config and meta come along unchanged
        assert props[p.key] == p.value
    served = KeypointPredictor(weights, "cpu")  # in step: opens without complaint
    points = served(crops)[0]
    assert np.abs(points - float_points).mean() < 0.5  # 32 px crops

    # Quantising again starts from the weights, not from the 8-bit graph: same bytes.
    first = graph.read_bytes()
    assert quantize(weights, crops).read_bytes() == first

    # The same step on a graph with no weights file beside it (a benchmark's candidate).
    alone = tmp_path / "alone" / "net.onnx"
    alone.parent.mkdir()
    onnx.save(float_graph, alone)
    assert quantize_graph(alone, crops).read_bytes() == first
