"""Unit vectors covering a hemisphere at a given angular spacing (for fft1d and the grid search)."""

from __future__ import annotations

import numpy as np


def hemisphere_directions(spacing_rad: float) -> np.ndarray:
    """(m, 3) unit vectors with z >= 0, about `spacing_rad` apart (Fibonacci lattice)."""
    m = max(int(np.ceil(2.0 * np.pi / spacing_rad**2)), 8)
    i = np.arange(m) + 0.5
    z = 1.0 - i / m  # uniform in z on [0, 1): equal-area on the hemisphere
    r = np.sqrt(1.0 - z**2)
    golden = np.pi * (3.0 - np.sqrt(5.0))
    t = golden * i
    return np.column_stack([r * np.cos(t), r * np.sin(t), z])


__all__ = ["hemisphere_directions"]
