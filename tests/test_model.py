"""The network, its weights files, and the shipped weights on a face that ships."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vidkeys.crop import apply_matrix, crop, crop_matrix, invert_matrix
from vidkeys.detect import HaarDetector
from vidkeys.errors import VidkeysError
from vidkeys.model import (
    DEFAULT_WEIGHTS,
    KeypointNet,
    KeypointPredictor,
    ModelConfig,
    load_model,
    save_model,
)

REPO = Path(__file__).resolve().parent.parent

# Hand-placed on samples/astronaut.png (512 x 512) from a 5x zoom with a
# 10 px grid: iBUG index -> (x, y). Outer and inner eye corners, nose tip,
# mouth corners, chin.
ASTRONAUT_REFERENCE = {
    36: (192.6, 101.6),
    39: (210.0, 102.4),
    42: (240.0, 102.4),
    45: (257.0, 101.0),
    30: (224.0, 126.0),
    48: (202.4, 140.0),
    54: (245.0, 141.0),
    8: (220.0, 179.0),
}


@pytest.mark.parametrize("head", ["regress", "heatmap"])
def test_network_shapes_and_fused_inference_match(head: str, tmp_path: Path) -> None:
    model = KeypointNet(ModelConfig(head=head)).eval()
    x = torch.rand(3, 1, 96, 96) * 255
    with torch.no_grad():
        pts, logit = model(x)
    assert pts.shape == (3, 68, 2) and logit.shape == (3,)
    path = tmp_path / "m.pt"
    save_model(model, path, {"note": "test"})
    predictor = KeypointPredictor(path, "cpu")
    fused_pts, conf = predictor(x[:, 0].numpy().astype(np.uint8))
    with torch.no_grad():
        ref, ref_logit = model(torch.from_numpy(x[:, 0].numpy().astype(np.uint8)).float()[:, None])
    np.testing.assert_allclose(fused_pts, ref.numpy(), atol=1e-2)
    np.testing.assert_allclose(conf, torch.sigmoid(ref_logit).numpy(), atol=1e-4)
    assert predictor.meta == {"note": "test"}


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
    image = cv2.imread(str(REPO / "samples" / "astronaut.png"), cv2.IMREAD_GRAYSCALE)
    boxes = HaarDetector()(image)
    assert len(boxes) >= 1
    predictor = KeypointPredictor(device="cpu")
    m = crop_matrix(boxes[0], predictor.crop_size)
    pts, conf = predictor(crop(image, m, predictor.crop_size)[None])
    pts = apply_matrix(invert_matrix(m), pts[0])
    assert conf[0] > 0.5
    idx = list(ASTRONAUT_REFERENCE)
    ref = np.array([ASTRONAUT_REFERENCE[i] for i in idx])
    iod = np.linalg.norm(ref[0] - ref[3])
    err = np.linalg.norm(pts[idx] - ref, axis=1) / iod
    assert err.max() < 0.10, dict(zip(idx, err.round(3), strict=True))
    assert err.mean() < 0.06


def test_torch_path_gives_what_onnx_runtime_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """The PyTorch path (--device cuda, or a CPU where ONNX Runtime fails) matches ONNX's."""
    crops = np.random.default_rng(0).integers(0, 255, (3, 96, 96), dtype=np.uint8)
    onnx_points, onnx_conf = KeypointPredictor(device="cpu")(crops)

    def broken(*args: object) -> None:
        raise RuntimeError("no exporter here")

    monkeypatch.setattr("vidkeys.model._onnx_session", broken)
    with pytest.warns(UserWarning, match="runs in PyTorch"):
        fallback = KeypointPredictor(device="cpu")
    points, conf = fallback(crops)
    np.testing.assert_allclose(points, onnx_points, atol=1e-2)
    np.testing.assert_allclose(conf, onnx_conf, atol=1e-4)
