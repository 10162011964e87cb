"""From expected photons to the integers a Pilatus writes: Poisson noise, gain, overloads,
module gaps (-1) and dead pixels (-2)."""

from __future__ import annotations

import numpy as np

from braggflow.algorithms.simulate import _kernels
from braggflow.model import Panel

__all__ = ["GAP_VALUE", "DEAD_VALUE", "bad_pixel_codes", "detector_counts"]

GAP_VALUE = -1
DEAD_VALUE = -2
POISSON_INVERSION_LIMIT = 30.0  # above this expectation numpy's Poisson draws the pixel


def bad_pixel_codes(panel: Panel, dead_fraction: float, seed: int) -> np.ndarray:
    """(n_slow, n_fast) int8: 1 in module gaps (the panel's untrusted rectangles), 2 for dead
    pixels drawn once per sweep with np.random.default_rng([seed, 57005]), else 0."""
    code = np.zeros(panel.image_shape, dtype=np.int8)
    rng = np.random.default_rng([seed, 57005])
    n_dead = int(round(dead_fraction * code.size))
    if n_dead:
        code.reshape(-1)[rng.choice(code.size, size=n_dead, replace=False)] = 2
    for x0, y0, x1, y1 in panel.mask:
        code[y0:y1, x0:x1] = 1
    return code


def detector_counts(
    expected: np.ndarray,
    rng: np.random.Generator | None,
    *,
    gain: float,
    saturation: int,
    bad: np.ndarray | None = None,
) -> np.ndarray:
    """int32 pixel values: Poisson(expected) photons (the rounded expectation when rng is
    None), times gain (ADU/photon, rounded), capped at `saturation`; gaps -1, dead -2.

    Noise: one float32 uniform per pixel from rng, inverted through the Poisson CDF in a
    numba loop; pixels expecting >= 30 photons are drawn with rng.poisson.
    """
    lam = np.ascontiguousarray(expected, dtype=np.float64)
    code = np.zeros(lam.shape, dtype=np.int8) if bad is None else np.ascontiguousarray(bad, dtype=np.int8)
    if rng is None:
        v = np.rint(np.maximum(lam, 0.0))
        v = v if gain == 1.0 else np.floor(v * gain + 0.5)
        out = np.minimum(v, saturation).astype(np.int32)
        out[code != 0] = -code[code != 0]
        return out
    u = rng.random(lam.size, dtype=np.float32)
    out = np.empty(lam.shape, dtype=np.int32)
    _kernels.poisson_counts(lam.reshape(-1), u, POISSON_INVERSION_LIMIT, float(gain), int(saturation), code.reshape(-1), out.reshape(-1))
    big = np.flatnonzero(out.reshape(-1) == -3)
    if len(big):
        k = rng.poisson(lam.reshape(-1)[big]).astype(np.float64)
        k = k if gain == 1.0 else np.floor(k * gain + 0.5)
        out.reshape(-1)[big] = np.minimum(k, saturation).astype(np.int32)
    return out
