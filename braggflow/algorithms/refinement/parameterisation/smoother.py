"""DIALS' Gaussian smoother for scan-varying parameters (algorithms.md 5.6).

A scan-varying parameter is a set of `n_values` sample values spread over the frame range
[t0, t1] of the scan; its value at frame t is the Gaussian-weighted mean of the `n_average`
nearest samples: p(t) = sum_i w_i p_i / sum_i w_i, w_i = exp(-((z - z_i)/sigma)^2) with the
normalised coordinate z = (t - t0) / spacing. dp(t)/dp_i = w_i / sum w (the rows of
`weights`). Mirrors dials/algorithms/refinement/gaussian_smoother.h.
"""

from __future__ import annotations

import math

import numpy as np

from braggflow.errors import ParameterError


def n_intervals(width_deg: float, interval_width_degrees: float | None, absolute_num_intervals: int | None) -> int:
    """DIALS `_set_n_intervals`: absolute_num_intervals, else int(width / interval width), >= 1."""
    if absolute_num_intervals is not None:
        return int(absolute_num_intervals)
    deg = 36.0 if interval_width_degrees is None else float(interval_width_degrees)
    if deg <= 0:
        raise ParameterError(f"smoother.interval_width_degrees={deg}: must be positive")
    return max(int(abs(width_deg) / deg), 1)


def _iround(x: float) -> int:
    """boost::math::iround: nearest integer, halves away from zero."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


class GaussianSmoother:
    """Smoother over the frame range t_range = (t0, t1) with `num_intervals` intervals."""

    def __init__(self, t_range: tuple[float, float], num_intervals: int, num_average: int = 3, sigma: float | None = None) -> None:
        if num_intervals < 1:
            raise ParameterError(f"smoother: number of intervals {num_intervals} must be at least 1")
        self.t0 = float(t_range[0])
        self.num_intervals = int(num_intervals)
        self.n_values = 2 if num_intervals == 1 else 3 if num_intervals == 2 else num_intervals + 2
        self.spacing = (float(t_range[1]) - self.t0) / num_intervals
        if not self.spacing > 0:
            raise ParameterError(f"smoother: empty frame range {tuple(t_range)}")
        offset = 0.0 if self.n_values < 4 else -0.5
        self.positions = np.arange(self.n_values, dtype=np.float64) + offset
        self.n_average = min(num_average, self.n_values)
        self.sigma = 0.65 + 0.05 * (self.n_average - 2) if sigma is None else float(sigma)

    def _index_range(self, z: float) -> tuple[int, int]:
        if self.n_values <= 3:
            return 0, self.n_values
        i1 = _iround(z - self.n_average / 2.0) + 1
        i2 = i1 + self.n_average
        if i1 < 0:
            i1, i2 = 0, max(2, i2)
        if i2 > self.n_values:
            i2, i1 = self.n_values, min(i1, self.n_values - 2)
        return i1, i2

    def weights(self, t: float | np.ndarray) -> np.ndarray:
        """Normalised weights (n_t, n_values) (or (n_values,) for a scalar t): p(t) = W @ p."""
        ts = np.atleast_1d(np.asarray(t, dtype=np.float64))
        out = np.zeros((len(ts), self.n_values))
        for row, tt in enumerate(ts):
            z = (tt - self.t0) / self.spacing
            i1, i2 = self._index_range(z)
            w = np.exp(-(((z - self.positions[i1:i2]) / self.sigma) ** 2))
            total = w.sum()
            if total > 0:
                out[row, i1:i2] = w / total
        return out[0] if np.ndim(t) == 0 else out


__all__ = ["GaussianSmoother", "n_intervals"]
