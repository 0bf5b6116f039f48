"""Accuracy of the shipped weights on the real data's held-out people (needs VIDKEYS_DATA).

Guards against a worse model landing: the bound is the shipped model's
measured figure (saved_models/README.md) plus a small margin.
"""

from __future__ import annotations

from pathlib import Path

from vidkeys.training.evaluate import evaluate

CSV_NAME = "training_frames_keypoints.csv"
#: The shipped model measures 4.22 % NME and 1.45 % failures on the validation
#: people with Haar boxes and the pipeline's two passes (model card; the model
#: before it: 4.46 % and 2.32 %). The issue's targets, 3.5 % and 1 %, are not
#: met yet; these bounds stop a worse model from landing.
NME_BOUND = 0.046
FAILURE_BOUND = 0.025


def test_shipped_model_on_validation_people(real_data: Path) -> None:
    result = evaluate(real_data / CSV_NAME, real_data / "training", split="val", device="cpu")
    assert result["n"] >= 300
    assert result["nme_mean"] <= NME_BOUND, result
    assert result["failure_rate"] <= FAILURE_BOUND, result
