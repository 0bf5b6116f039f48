"""Accuracy of the shipped weights on the real data's held-out people (needs VIDKEYS_DATA).

Guards against a worse model landing: the bound is the shipped model's
measured figure (saved_models/README.md) plus a small margin.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidkeys.keypoints.mirror import LABEL_SHIFT
from vidkeys.keypoints.predictor import KeypointPredictor
from vidkeys.training.data import held_out_faces
from vidkeys.training.evaluate import evaluate, place_points
from vidkeys.training.label_shift import mirror_gap
from vidkeys.training.metrics import nme

CSV_NAME = "training_frames_keypoints.csv"
#: The shipped model measures 3.97 % NME and 1.45 % failures on the validation
#: people with Haar boxes and the pipeline's two passes, served by its 8-bit graph
#: with its shape correction (model card; 4.06 % without the correction; the
#: models before it: 4.10 % and 4.22 %, 1.45 % both). The issue's targets, 3.5 %
#: and 1 %, are not met yet; these bounds stop a worse model from landing.
NME_BOUND = 0.042
FAILURE_BOUND = 0.025


def test_shipped_model_on_validation_people(real_data: Path) -> None:
    result = evaluate(real_data / CSV_NAME, real_data / "training", split="val", device="cpu")
    assert result["n"] >= 300
    assert result["nme_mean"] <= NME_BOUND, result
    assert result["failure_rate"] <= FAILURE_BOUND, result


def test_vidkeys_own_face_search_on_validation_people(real_data: Path) -> None:
    """``--boxes search`` (the detector a photo gets) misses no more faces than the
    default cascade's 3 of 345 (model card)."""
    search = evaluate(
        real_data / CSV_NAME, real_data / "training", split="val", boxes="search", device="cpu"
    )
    assert search["n"] >= 300 and search["missed"] <= 3
    assert search["nme_mean"] <= NME_BOUND and search["failure_rate"] <= FAILURE_BOUND


def test_the_network_learned_the_labels_lean_on_both_sides(real_data: Path) -> None:
    """Trained on mirrored crops with the lean taken out, the shipped network's own
    answers (no mirror test) on a crop and on its mirror image mapped back differ
    by the labels' lean, LABEL_SHIFT along the eye axis, and by nothing across it."""
    gap, _ = mirror_gap(real_data / CSV_NAME, real_data / "training", None, limit=400)
    assert len(gap) > 350
    np.testing.assert_allclose(np.median(gap[:, 0]), LABEL_SHIFT, atol=0.003)
    assert abs(np.median(gap[:, 1])) < 0.003


def test_shape_correction_pays_on_people_it_was_not_fitted_on(real_data: Path) -> None:
    """Fitted on the training people only, the shipped correction takes 0.09 points
    off the held-out people's NME (model card, "What was tried"); at least 0.05 here."""
    samples, images, boxes = held_out_faces(real_data / CSV_NAME, real_data / "training")
    truth = np.stack([s.points for s in samples])
    served, raw = (
        nme(place_points(KeypointPredictor(device="cpu", correct=c), images, boxes)[0], truth)
        for c in (True, False)
    )
    assert served.mean() <= raw.mean() - 0.0005, (served.mean(), raw.mean())
