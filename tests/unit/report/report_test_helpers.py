"""Helpers for the report tests (a module name unique in the test tree)."""

from __future__ import annotations

import numpy as np


def fake_scaled(integrated, b_factor: float = -5.0):  # type: ignore[no-untyped-def]
    """The integrated table with an inverse scale g = (1 + 0.05 sin z) exp(B / 2d^2)."""
    table = integrated.copy()
    d = np.asarray(table["d"])
    z = np.asarray(table["xyzcal.px"])[:, 2]
    g = (1 + 0.05 * np.sin(z)) * np.exp(b_factor / (2 * d**2))
    table["inverse_scale_factor"] = g
    table["intensity.scale.value"] = np.asarray(table["intensity.sum.value"]) / g
    table["intensity.scale.variance"] = np.asarray(table["intensity.sum.variance"]) / g**2
    return table
