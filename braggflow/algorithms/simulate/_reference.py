"""numpy twins of _kernels.py (same names, signatures and results; slow, for tests)."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf


def splat_gaussians(image, x, y, sxx, sxy, syy, counts, n_sigma, supersample):  # type: ignore[no-untyped-def]
    ny, nx = image.shape
    ss = supersample
    sub = (np.arange(ss) + 0.5) / ss
    for i in range(len(x)):
        det = sxx[i] * syy[i] - sxy[i] ** 2
        a, b, c = syy[i] / det, -sxy[i] / det, sxx[i] / det
        ix0 = math.floor(x[i] - n_sigma * math.sqrt(sxx[i]))
        ix1 = math.floor(x[i] + n_sigma * math.sqrt(sxx[i]))
        iy0 = math.floor(y[i] - n_sigma * math.sqrt(syy[i]))
        iy1 = math.floor(y[i] + n_sigma * math.sqrt(syy[i]))
        px = np.arange(ix0, ix1 + 1)
        py = np.arange(iy0, iy1 + 1)
        dx = (px[None, :, None, None] + sub[None, None, None, :]) - x[i]
        dy = (py[:, None, None, None] + sub[None, None, :, None]) - y[i]
        w = np.exp(-0.5 * (a * dx * dx + 2 * b * dx * dy + c * dy * dy)).sum(axis=(2, 3))
        w *= counts[i] / w.sum()
        keep_y = (py >= 0) & (py < ny)
        keep_x = (px >= 0) & (px < nx)
        image[np.ix_(py[keep_y], px[keep_x])] += w[np.ix_(keep_y, keep_x)]


def rocking_fractions(phi_c, sigma_phi, phi0, dphi, first, last, out_offsets, out_image, out_fraction):  # type: ignore[no-untyped-def]
    for i in range(len(phi_c)):
        k = np.arange(first[i], last[i] + 1)
        s = math.sqrt(2.0) * sigma_phi[i]
        edges = erf((phi0 + np.arange(first[i], last[i] + 2) * dphi - phi_c[i]) / s)
        sl = slice(out_offsets[i], out_offsets[i] + len(k))
        out_image[sl] = k
        out_fraction[sl] = 0.5 * np.diff(edges)


def poisson_counts(lam, u, limit, gain, saturation, bad, out):  # type: ignore[no-untyped-def]
    from scipy.stats import poisson

    k = poisson.ppf(u, np.maximum(lam, 1e-300))
    k = np.where(lam <= 0, 0, np.nan_to_num(k))
    v = k if gain == 1.0 else np.floor(k * gain + 0.5)
    res = np.minimum(v, saturation)
    res = np.where(lam >= limit, -3, res)
    out[:] = np.where(bad != 0, -bad.astype(np.int64), res).astype(np.int32)
