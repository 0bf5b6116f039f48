"""``--model`` with ONNX graphs that are not vidkeys keypoint graphs: one line on what is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import PHOTO, one_error, run_cli
from vidkeys.errors import EXIT_ERROR
from vidkeys.faces.yunet import SHIPPED_MODEL
from vidkeys.keypoints.weights import DEFAULT_WEIGHTS

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402


def _graph(path: Path, inputs: list, outputs: list, nodes: list, meta: dict | None = None) -> Path:
    model = helper.make_model(
        helper.make_graph(nodes, "g", inputs, outputs), opset_imports=[helper.make_opsetid("", 17)]
    )
    for key, value in (meta or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


def _identity(path: Path, side: object, outputs: int, meta: dict | None) -> Path:
    """A graph taking ``crops`` (n, 1, side, side) and answering ``outputs`` copies of it."""
    crops = helper.make_tensor_value_info("crops", TensorProto.FLOAT, ["n", 1, side, side])
    names = ["points", "logit", "peak"][:outputs]
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in names]
    nodes = [helper.make_node("Identity", ["crops"], [n]) for n in names]
    return _graph(path, [crops], outs, nodes, meta)


def _run(model: Path, tmp_path: Path, *words: str) -> None:
    out = tmp_path / "x.csv"
    proc = run_cli(["export-csv", PHOTO, "--model", model, "-o", out, "-q"])
    assert proc.returncode == EXIT_ERROR, proc.stderr
    one_error(proc.stderr, model.name, *words)
    assert not out.exists()


def test_another_models_graph_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "detector.onnx"
    shutil.copy(SHIPPED_MODEL, model)
    _run(model, tmp_path, "not a vidkeys keypoint graph", "'crops'")


def test_a_graph_with_one_output_is_refused(tmp_path: Path) -> None:
    model = _identity(tmp_path / "one.onnx", 112, 1, {"config": "{}", "meta": "{}"})
    _run(model, tmp_path, "outputs ['points']")


def test_a_symbolic_crop_size_is_refused(tmp_path: Path) -> None:
    model = _identity(tmp_path / "sym.onnx", "side", 3, {"config": "{}", "meta": "{}"})
    _run(model, tmp_path, "fixed number")


def test_the_right_shapes_without_vidkeys_metadata_are_refused(tmp_path: Path) -> None:
    graph = onnx.load(str(DEFAULT_WEIGHTS.with_suffix(".onnx")))
    del graph.metadata_props[:]
    model = tmp_path / "bare.onnx"
    onnx.save(graph, str(model))
    _run(model, tmp_path, "no vidkeys metadata")


def test_an_empty_graph_says_it_is_empty(tmp_path: Path) -> None:
    model = tmp_path / "empty.onnx"
    model.write_bytes(b"")
    _run(model, tmp_path, "the file is empty")


def test_the_shipped_graph_passes_the_check() -> None:
    from vidkeys.keypoints.predictor import KeypointPredictor

    predictor = KeypointPredictor(DEFAULT_WEIGHTS.with_suffix(".onnx"), "cpu")
    points, score, _ = predictor(np.zeros((1, predictor.crop_size, predictor.crop_size), np.uint8))
    assert points.shape == (1, 68, 2) and score.shape == (1,)
