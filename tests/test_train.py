"""Training smoke test on a data set the test writes itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vidkeys.config import TrackerConfig
from vidkeys.errors import VidkeysError
from vidkeys.network import ModelConfig, load_model
from vidkeys.predictor import KeypointPredictor
from vidkeys.training.augment import AugmentConfig
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


def test_a_learning_curve_trains_on_a_share_of_the_people(tiny_dataset, tmp_path: Path) -> None:
    csv_path, images, _ = tiny_dataset
    torch.set_num_threads(1)
    out = tmp_path / "half.pt"
    cfg = TrainConfig(epochs=1, batch_size=6, warmup_epochs=1, train_fraction=0.5)
    train(csv_path, images, out, cfg, TINY, device="cpu", quiet=True)
    meta = load_model(out)[1]
    # Four people of six images: one held out; two of the other three trained on.
    assert meta["train_images"] == 12 and meta["val_images"] == 6
    assert meta["train_config"]["train_fraction"] == 0.5


def test_a_second_pass_network_crops_from_the_points(
    tiny_dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``crop_from="points"`` cuts every crop, training and validation, from the
    labelled points' box: the cascade is never asked, and the choice is recorded."""
    import vidkeys.training.train as train_module

    def no_cascade(*_args: object) -> None:
        raise AssertionError("the Haar cascade was run")

    csv_path, images, _ = tiny_dataset
    torch.set_num_threads(1)
    monkeypatch.setattr(train_module, "cached_haar_boxes", no_cascade)
    cfg = TrainConfig(epochs=1, batch_size=6, warmup_epochs=1, crop_from="points")
    out = tmp_path / "second.pt"
    result = train(csv_path, images, out, cfg, TINY, device="cpu", quiet=True)
    assert np.isfinite(result["best_val_nme"])
    assert load_model(out)[1]["train_config"]["crop_from"] == "points"
    with pytest.raises(VidkeysError, match="unknown crop source 'box'"):
        train(csv_path, images, tmp_path / "x.pt", TrainConfig(crop_from="box"), TINY)
    with pytest.raises(AssertionError, match="cascade was run"):
        train(csv_path, images, tmp_path / "y.pt", TrainConfig(epochs=1), TINY, quiet=True)
