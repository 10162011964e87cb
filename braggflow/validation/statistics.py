"""Intensity statistics against the truth: correlation (overall and per resolution bin),
a least-squares scale, and normalised residuals (I - k I_true) / sigma."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def pearson_cc(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation; nan for fewer than 3 pairs or a constant array."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


@dataclass(frozen=True)
class ResolutionBin:
    d_max: float
    d_min: float
    n: int
    cc: float


def cc_by_resolution(x: np.ndarray, y: np.ndarray, d: np.ndarray, *, n_bins: int = 10) -> list[ResolutionBin]:
    """CC(x, y) in resolution shells of about equal population (low resolution first)."""
    d = np.asarray(d, dtype=np.float64)
    if len(d) == 0:
        return []
    s3 = 1.0 / d**3
    edges = np.quantile(s3, np.linspace(0.0, 1.0, n_bins + 1))
    which = np.clip(np.searchsorted(edges, s3, side="right") - 1, 0, n_bins - 1)
    x, y = np.asarray(x), np.asarray(y)
    out = []
    for i in range(n_bins):
        sel = which == i
        out.append(ResolutionBin(float(edges[i] ** (-1 / 3)), float(edges[i + 1] ** (-1 / 3)), int(sel.sum()),
                                 pearson_cc(x[sel], y[sel])))
    return out


def fit_scale(observed: np.ndarray, expected: np.ndarray, sigma: np.ndarray) -> float:
    """k minimising sum(((I - k E) / sigma)^2)."""
    w = 1.0 / np.asarray(sigma, dtype=np.float64) ** 2
    e = np.asarray(expected, dtype=np.float64)
    return float(np.sum(w * e * observed) / np.sum(w * e * e))


@dataclass(frozen=True)
class Residuals:
    k: float
    n: int
    mean: float
    sd: float
    robust_sd: float  # 1.4826 * median absolute deviation
    frac_beyond_3: float


def normalised_residuals(observed: np.ndarray, sigma: np.ndarray, expected: np.ndarray, k: float | None = None) -> Residuals:
    """(I - k E) / sigma summary; k fitted when not given. Honest sigmas give sd ~ 1."""
    observed, sigma, expected = (np.asarray(a, dtype=np.float64) for a in (observed, sigma, expected))
    ok = np.isfinite(observed) & np.isfinite(sigma) & (sigma > 0)
    observed, sigma, expected = observed[ok], sigma[ok], expected[ok]
    if len(observed) < 3:
        nan = float("nan")
        return Residuals(nan, len(observed), nan, nan, nan, nan)
    if k is None:
        k = fit_scale(observed, expected, sigma)
    z = (observed - k * expected) / sigma
    med = np.median(z)
    return Residuals(
        k=float(k),
        n=int(len(z)),
        mean=float(np.mean(z)),
        sd=float(np.std(z)),
        robust_sd=float(1.4826 * np.median(np.abs(z - med))),
        frac_beyond_3=float(np.mean(np.abs(z) > 3)),
    )
