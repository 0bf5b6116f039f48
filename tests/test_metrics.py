"""NME, failure rate and AUC against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from vidkeys.training.metrics import auc, failure_rate, nme


def _face(iod: float) -> np.ndarray:
    pts = np.zeros((68, 2))
    pts[45, 0] = iod  # outer eye corners 36 at (0, 0) and 45 at (iod, 0)
    return pts


def test_nme_is_mean_point_error_over_eye_corner_distance() -> None:
    truth = _face(50.0)
    pred = truth.copy()
    pred[:34, 0] += 3.0  # half the points off by 3 px, half exact: mean 1.5 px
    pred[34:, 1] += 0.0
    assert nme(pred, truth) == pytest.approx(1.5 / 50.0)
    # Batched form, and a 3-4-5 triangle for a diagonal error.
    diag = truth + np.array([3.0, 4.0])
    np.testing.assert_allclose(nme(np.stack([pred, diag]), np.stack([truth, truth])), [0.03, 0.10])


def test_failure_rate_counts_misses() -> None:
    assert failure_rate(np.array([0.02, 0.2, np.inf, 0.05])) == pytest.approx(0.5)


def test_auc_by_hand() -> None:
    # Errors 0, 0.05 and a miss: area = (0.10 + 0.05 + 0) / (3 * 0.10) = 0.5
    assert auc(np.array([0.0, 0.05, np.inf])) == pytest.approx(0.5)
    assert auc(np.zeros(4)) == pytest.approx(1.0)
    assert auc(np.array([0.2, 0.1])) == pytest.approx(0.0)
