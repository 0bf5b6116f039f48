"""One Euro filter (Casiez et al., CHI 2012) on the 68 points of a face track.

A low-pass filter whose cut-off rises with speed: on a still face it averages
heavily (no jitter), on a moving face it opens up (little lag). Speeds are
measured in face widths per second, so one setting suits small and large
faces alike.
"""

from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Filter one array of values (e.g. ``(68, 2)`` points) sampled at irregular times.

    ``min_cutoff`` (Hz) sets the smoothing of a still face; ``beta`` how fast
    the cut-off rises with speed (per face width per second); ``d_cutoff``
    (Hz) smooths the speed estimate itself. Both cut-offs may be arrays that
    broadcast against the values (one per point: the eyes and mouth move
    faster than the face).
    """

    D_CUTOFF = 1.0

    def __init__(
        self,
        min_cutoff: float | np.ndarray = 0.3,
        beta: float = 20.0,
        d_cutoff: float | np.ndarray = D_CUTOFF,
    ) -> None:
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, x: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        """Filtered value of ``x`` observed at time ``t`` (seconds); ``scale`` in pixels."""
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._t is None or t <= self._t:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t
        dx = (x - self._x) / dt / max(scale, 1e-6)
        self._dx = self._dx + _alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        self._t = t
        return self._x.copy()
