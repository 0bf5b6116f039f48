"""Training smoke test on a data set the test writes itself; averaging two weights files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vidkeys.config import TrackerConfig
from vidkeys.errors import VidkeysError
from vidkeys.keypoints.network import KeypointNet, ModelConfig, load_model, save_model
from vidkeys.keypoints.predictor import KeypointPredictor
from vidkeys.training.augment import AugmentConfig
from vidkeys.training.average import average
from vidkeys.training.evaluate import evaluate
from vidkeys.training.train import TrainConfig, train

TINY = ModelConfig(crop_size=32, widths=(8, 16, 16, 32), decoder=16)


def test_loss_falls_and_resume_continues(tiny_dataset, tmp_path: Path) -> None:
    csv_path, images, _ = tiny_dataset
    out = tmp_path / "tiny.pt"
    torch.set_num_threads(1)
    cfg = TrainConfig(epochs=12, batch_size=6, lr=1e-2, warmup_epochs=1)
    first = train(
        csv_path,
        images,
        out,
        TrainConfig(**{**cfg.__dict__, "epochs": 6}),
        TINY,
        device="cpu",
        quiet=True,
    )
    assert len(first["history"]) == 6
    resumed = train(csv_path, images, out, cfg, TINY, device="cpu", resume=True, quiet=True)
    history = resumed["history"]
    assert [h["epoch"] for h in history] == list(range(1, 13))  # epochs 7-12 were added
    losses = [h["loss"] for h in history]
    assert np.mean(losses[-3:]) < 0.75 * np.mean(losses[:3])
    # The best weights load through the inference path and evaluate end to end.
    predictor = KeypointPredictor(out, "cpu")
    assert predictor.crop_size == 32
    result = evaluate(csv_path, images, weights=out, boxes="oracle", device="cpu")
    assert result["n"] == 24 and result["missed"] == 0
    assert np.isfinite(result["nme_mean"])
    # The weights record the lean their mirrored crops had taken out; eval crops
    # again from the points.
    assert load_model(out)[0].config.flip_shift == AugmentConfig().flip_shift
    assert result["passes"] == TrackerConfig.new_face_passes == 2
    one = evaluate(csv_path, images, weights=out, boxes="oracle", device="cpu", passes=1)
    assert one["passes"] == 1 and one["nme_mean"] != result["nme_mean"]
    # The cartoon faces are symmetric: mirrored copies are no harder.
    mirrored = evaluate(csv_path, images, weights=out, boxes="oracle", device="cpu", mirror=True)
    assert mirrored["mirror"] and mirrored["n"] == 24
    assert mirrored["nme_mean"] < 1.5 * result["nme_mean"]


def test_fine_tuning_starts_from_the_given_weights(tiny_dataset, tmp_path: Path) -> None:
    csv_path, images, _ = tiny_dataset
    torch.set_num_threads(1)
    base = tmp_path / "base.pt"
    cfg = TrainConfig(epochs=8, batch_size=6, lr=1e-2, warmup_epochs=1)
    trained = train(csv_path, images, base, cfg, TINY, device="cpu", quiet=True)
    # One epoch at a vanishing learning rate: the weights barely move, so a
    # run started from `base` validates where `base` did, far below a fresh start.
    still = TrainConfig(epochs=1, batch_size=6, lr=1e-9, warmup_epochs=1)
    tuned = train(
        csv_path,
        images,
        tmp_path / "tuned.pt",
        still,
        aug=AugmentConfig(flip=False),
        device="cpu",
        quiet=True,
        init=base,
    )
    fresh = train(csv_path, images, tmp_path / "fresh.pt", still, TINY, device="cpu", quiet=True)
    assert tuned["best_val_nme"] < 0.5 * fresh["best_val_nme"]
    assert abs(tuned["best_val_nme"] - trained["best_val_nme"]) < 0.05 * trained["best_val_nme"]


def test_averaged_weights_lie_half_way_and_need_one_network(tmp_path: Path) -> None:
    torch.manual_seed(0)
    a, b = KeypointNet(TINY), KeypointNet(TINY)
    save_model(a, tmp_path / "a.pt", {"peak_range": [0.1, 0.2], "epoch": 3})
    save_model(b, tmp_path / "b.pt")
    average(tmp_path / "a.pt", tmp_path / "b.pt", tmp_path / "mean.pt")
    mean, meta = load_model(tmp_path / "mean.pt")
    for name, value in mean.state_dict().items():
        if value.is_floating_point():
            want = (a.state_dict()[name] + b.state_dict()[name]) / 2
            torch.testing.assert_close(value, want)
    assert meta["epoch"] == 3 and "peak_range" not in meta  # remade by the next step
    assert KeypointPredictor(tmp_path / "mean.pt", "cpu").crop_size == TINY.crop_size
    other = KeypointNet(ModelConfig(crop_size=32, widths=(8, 16, 16, 16), decoder=16))
    save_model(other, tmp_path / "other.pt")
    with pytest.raises(VidkeysError, match="not the same network"):
        average(tmp_path / "a.pt", tmp_path / "other.pt", tmp_path / "bad.pt")
