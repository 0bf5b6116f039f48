"""The network, its weights files and ONNX graphs, and the shipped weights on a face that ships."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from tests.helpers import ASTRONAUT_REFERENCE, PHOTO
from vidkeys.errors import VidkeysError
from vidkeys.faces.crop import apply_matrix, crop, crop_matrix, invert_matrix
from vidkeys.faces.haar import HaarDetector
from vidkeys.keypoints.mirror import LABEL_SHIFT, flip_points
from vidkeys.keypoints.network import (
    KeypointNet,
    ModelConfig,
    export_onnx,
    load_model,
    rewrite_graph,
    save_model,
)
from vidkeys.keypoints.predictor import (
    PEAK_FLAT,
    PEAK_SHARP,
    KeypointPredictor,
    peak_range,
    point_confidence,
)
from vidkeys.keypoints.weights import DEFAULT_WEIGHTS, file_sha256, onnx_path


@pytest.mark.parametrize(
    "config",
    [ModelConfig(head="regress"), ModelConfig(), ModelConfig(block="inverted", expand=2)],
    ids=["regress", "heatmap", "inverted"],
)
def test_network_shapes_and_fused_inference_match(config: ModelConfig, tmp_path: Path) -> None:
    model = KeypointNet(config).eval()
    # Batch norms with statistics of their own, so folding them into the convolutions counts.
    torch.manual_seed(0)
    for bn in model.modules():
        if isinstance(bn, torch.nn.BatchNorm2d):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
    x = torch.rand(3, 1, 96, 96) * 255
    with torch.no_grad():
        pts, logit = model(x)
    assert pts.shape == (3, 68, 2) and logit.shape == (3,)
    path = tmp_path / "m.pt"
    save_model(model, path, {"note": "test"})
    predictor = KeypointPredictor(path, "cpu", mirror_test=False)  # one pass, as model.predict
    fused_pts, conf, point_conf = predictor(x[:, 0].numpy().astype(np.uint8))
    with torch.no_grad():
        crops = torch.from_numpy(x[:, 0].numpy().astype(np.uint8)).float()[:, None]
        ref, ref_logit, ref_peak = model.predict(crops)
    np.testing.assert_allclose(fused_pts, ref.numpy(), atol=1e-2)
    np.testing.assert_allclose(conf, torch.sigmoid(ref_logit).numpy(), atol=1e-4)
    np.testing.assert_allclose(point_conf, point_confidence(ref_peak.numpy()), atol=1e-4)
    assert predictor.meta == {"note": "test"}
    assert load_model(path)[0].config == config  # the shape comes back from the file
    # The graph was written beside the weights by save_model, and names them.
    assert onnx_path(path) == tmp_path / "m.onnx" and onnx_path(path).is_file()


def test_mirror_test_averages_the_crop_and_its_mirror_image(tmp_path: Path) -> None:
    """Served points are the mean of the crop's and its mirror image's (mapped back,
    labels swapped, moved by the labels' lean), on ONNX Runtime and in PyTorch;
    without the mirror test, the crop's own."""
    torch.manual_seed(0)
    model = KeypointNet().eval()
    model.beta.data.fill_(200.0)  # peaked heatmaps: points spread over the crop, not its centre
    crops = torch.from_numpy(np.random.default_rng(0).integers(0, 255, (2, 1, 96, 96))).float()
    with torch.no_grad():
        direct, direct_logit = model(crops)
        mirror, mirror_logit = model(crops.flip(-1))
    back = flip_points(mirror.numpy(), 96)
    axis = (direct[:, 45] - direct[:, 36]).numpy()
    expected = (direct.numpy() + back + LABEL_SHIFT * axis[:, None]) / 2
    path = tmp_path / "m.pt"
    save_model(model, path)
    x = crops[:, 0].numpy().astype(np.uint8)
    for predictor in (KeypointPredictor(path, "cpu"), _torch_predictor(path)):
        points, score, _ = predictor(x)
        np.testing.assert_allclose(points, expected, atol=1e-2)
        mean_logit = ((direct_logit + mirror_logit) / 2).numpy()
        np.testing.assert_allclose(score, 1 / (1 + np.exp(-mean_logit)), atol=1e-4)
    single = KeypointPredictor(path, "cpu", mirror_test=False)(x)[0]
    np.testing.assert_allclose(single, direct.numpy(), atol=1e-2)
    assert not np.allclose(single, expected, atol=1e-2)  # the mirror counted


def _torch_predictor(path: Path) -> KeypointPredictor:
    """The PyTorch path on the CPU (what --device cuda runs), as if ONNX Runtime failed."""
    predictor = KeypointPredictor(path, "cpu")
    predictor._session = None
    predictor._load_torch(None)
    return predictor


def test_peak_range_from_the_weights_metadata(tmp_path: Path) -> None:
    """A model's own peak range maps its peaks; the first model's figures give its range."""
    flat, sharp = peak_range(0.237, 0.153)  # the first model's measured peaks
    assert abs(flat - PEAK_FLAT) < 0.002 and abs(sharp - PEAK_SHARP) < 0.002
    model = KeypointNet().eval()
    crops = np.random.default_rng(0).integers(0, 255, (2, 96, 96), dtype=np.uint8)
    save_model(model, tmp_path / "a.pt")
    save_model(model, tmp_path / "b.pt", {"peak_range": [0.0, 1.0]})
    default, raw = (
        KeypointPredictor(tmp_path / "a.pt", "cpu"),
        KeypointPredictor(tmp_path / "b.pt", "cpu"),
    )
    assert default.peak_range == (PEAK_FLAT, PEAK_SHARP) and raw.peak_range == (0.0, 1.0)
    peaks = raw(crops)[2]  # raw peaks, a softmax's maximum
    np.testing.assert_allclose(default(crops)[2], point_confidence(peaks), atol=1e-6)


def test_missing_and_corrupt_weights_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(VidkeysError, match=r"not found: .*nope\.pt"):
        load_model(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage" * 100)
    with pytest.raises(VidkeysError, match=r"cannot read weights file .*bad\.pt"):
        load_model(bad)


def test_shipped_weights_find_the_astronauts_features() -> None:
    """The default weights load offline and land near hand-placed points."""
    assert DEFAULT_WEIGHTS.is_file()
    image = cv2.imread(str(PHOTO), cv2.IMREAD_GRAYSCALE)
    boxes = HaarDetector()(image)
    assert len(boxes) >= 1
    predictor = KeypointPredictor(device="cpu")
    m = crop_matrix(boxes[0], predictor.crop_size)
    pts, conf, point_conf = predictor(crop(image, m, predictor.crop_size)[None])
    pts = apply_matrix(invert_matrix(m), pts[0])
    assert conf[0] > 0.5
    assert point_conf.shape == (1, 68) and point_conf[0].mean() > 0.5
    # The same crop shifted well off the face: the heatmaps go flat.
    off = crop_matrix(boxes[0] + [1.5 * boxes[0][2], 0, 0, 0], predictor.crop_size)
    assert predictor(crop(image, off, predictor.crop_size)[None])[2].mean() < 0.3
    idx = list(ASTRONAUT_REFERENCE)
    ref = np.array([ASTRONAUT_REFERENCE[i] for i in idx])
    iod = np.linalg.norm(ref[0] - ref[3])
    err = np.linalg.norm(pts[idx] - ref, axis=1) / iod
    assert err.max() < 0.10, dict(zip(idx, err.round(3), strict=True))
    assert err.mean() < 0.06


def _float_copy(folder: Path) -> Path:
    """The shipped weights in ``folder`` with a 32-bit graph beside them (the shipped is 8-bit)."""
    weights = folder / DEFAULT_WEIGHTS.name
    shutil.copy(DEFAULT_WEIGHTS, weights)
    rewrite_graph(weights)
    return weights


def test_torch_path_gives_what_onnx_runtime_gives(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The PyTorch path (--device cuda, or a CPU where ONNX Runtime fails) matches ONNX's
    32-bit graph."""
    weights = _float_copy(tmp_path)
    served = KeypointPredictor(weights, device="cpu")
    size = served.crop_size
    crops = np.random.default_rng(0).integers(0, 255, (3, size, size), dtype=np.uint8)
    onnx_points, onnx_conf, onnx_point_conf = served(crops)

    def broken(*args: object) -> None:
        raise RuntimeError("no exporter here")

    monkeypatch.setattr("vidkeys.keypoints.predictor._onnx_session", broken)
    with pytest.warns(UserWarning, match="runs in PyTorch"):
        fallback = KeypointPredictor(weights, device="cpu")
    points, conf, point_conf = fallback(crops)
    np.testing.assert_allclose(points, onnx_points, atol=1e-2)
    np.testing.assert_allclose(conf, onnx_conf, atol=1e-4)
    np.testing.assert_allclose(point_conf, onnx_point_conf, atol=1e-4)


def test_shipped_graph_is_in_step_with_the_shipped_weights() -> None:
    import onnx

    graph = onnx.load(onnx_path(DEFAULT_WEIGHTS))
    props = {p.key: p.value for p in graph.metadata_props}
    assert props["pt_sha256"] == file_sha256(DEFAULT_WEIGHTS)
    assert props["precision"] == "int8"  # vidkeys.training.quantize, the last step of make train
    assert KeypointPredictor(device="cpu").meta["epoch"] >= 1  # the .pt's meta came along


def test_shipped_8_bit_graph_places_what_its_32_bit_graph_places(tmp_path: Path) -> None:
    """Quantisation moves the sample face's points by hundredths of the eye distance."""
    image = cv2.imread(str(PHOTO), cv2.IMREAD_GRAYSCALE)
    box = HaarDetector()(image)[0]
    shifted = [box + np.array([dx, dy, 0.0, 0.0]) for dx in (-4, 0, 4) for dy in (-4, 0, 4)]
    int8 = KeypointPredictor(device="cpu")
    size = int8.crop_size
    crops = np.stack([crop(image, crop_matrix(b, size), size) for b in shifted])
    points, score, conf = int8(crops)
    ref_points, ref_score, ref_conf = KeypointPredictor(_float_copy(tmp_path), "cpu")(crops)
    eyes = np.linalg.norm(ref_points[:, 36] - ref_points[:, 45], axis=1)
    moved = np.linalg.norm(points - ref_points, axis=2) / eyes[:, None]
    assert moved.mean() < 0.01 and moved.max() < 0.04, (moved.mean(), moved.max())
    np.testing.assert_allclose(score, ref_score, atol=0.02)
    assert np.abs(conf - ref_conf).mean() < 0.02


def test_missing_or_stale_graph_is_refused_with_the_fix(tmp_path: Path) -> None:
    model = KeypointNet(ModelConfig(crop_size=32, widths=(8, 16, 16, 32), decoder=16)).eval()
    path = tmp_path / "m.pt"
    save_model(model, path)
    graph = onnx_path(path)
    graph.unlink()
    fix = r"no ONNX graph m\.onnx .*python -m vidkeys\.keypoints\.network"
    with pytest.raises(VidkeysError, match=fix):
        KeypointPredictor(path, "cpu")
    export_onnx(model, path)
    KeypointPredictor(path, "cpu")  # in step again
    # New weights saved elsewhere, copied over the .pt without their graph.
    other = tmp_path / "other.pt"
    save_model(KeypointNet(model.config), other)
    path.write_bytes(other.read_bytes())
    with pytest.raises(VidkeysError, match=r"out of step with weights file .*m\.pt.*rewrite"):
        KeypointPredictor(path, "cpu")
    # An .onnx on its own serves on the CPU.
    alone = KeypointPredictor(onnx_path(other), "cpu")
    assert alone.crop_size == 32
