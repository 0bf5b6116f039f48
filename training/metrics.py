"""Accuracy measures for 68-point predictions, as `vidkeys eval` reports them."""

from __future__ import annotations

import numpy as np

#: Outer eye corners in iBUG 68-point order; their distance normalises errors.
LEFT_EYE_OUTER, RIGHT_EYE_OUTER = 36, 45
FAILURE_THRESHOLD = 0.10


def nme(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Normalised mean error per face: mean point distance / outer-eye-corner distance.

    ``pred`` and ``truth`` are ``(n, 68, 2)`` (or one ``(68, 2)`` face).
    """
    pred = np.asarray(pred, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    dist = np.linalg.norm(pred - truth, axis=-1).mean(axis=-1)
    iod = np.linalg.norm(truth[..., LEFT_EYE_OUTER, :] - truth[..., RIGHT_EYE_OUTER, :], axis=-1)
    return dist / iod


def failure_rate(errors: np.ndarray, threshold: float = FAILURE_THRESHOLD) -> float:
    """Share of faces with NME above ``threshold``; ``inf`` marks a face the detector missed."""
    errors = np.asarray(errors, dtype=np.float64)
    return float(np.mean(errors > threshold)) if errors.size else float("nan")


def auc(errors: np.ndarray, threshold: float = FAILURE_THRESHOLD) -> float:
    """Area under the cumulative error curve from 0 to ``threshold``, scaled to [0, 1].

    The curve is the share of faces with NME <= e; a missed face (``inf``)
    never enters it. 1.0 means every face is exact.
    """
    errors = np.sort(np.asarray(errors, dtype=np.float64))
    if errors.size == 0:
        return float("nan")
    # Integral of the step function F(e) = #(errors <= e) / n over [0, t]:
    # each face with error x < t contributes (t - x) / n.
    inside = errors[errors < threshold]
    return float(np.sum(threshold - inside) / (errors.size * threshold))
