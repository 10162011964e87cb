"""Centroid outlier rejection on (X, Y, phi) residuals: FAST-MCD, Tukey, null (algorithms.md 5.2).

FAST-MCD (Rousseeuw & Van Driessen 1999) is implemented here in numpy, with the candidate
subsets of each stage concentrated together as one vectorised batch. As in DIALS
(dials/algorithms/statistics/fast_mcd.py), the raw MCD scatter is scaled by the normal
consistency factor and the Pison et al. (2002) finite-sample factor (no reweighting step);
observations whose squared Mahalanobis distance exceeds chi2_3(threshold_probability) are
outliers. Jobs are split by experiment, optionally panel, and phi blocks; a job with
fewer than `minimum_number_of_reflections` observations is flagged entirely.
"""

from __future__ import annotations

import numpy as np
import math

from scipy.special import gammainc, gammaincinv  # scipy.stats costs ~0.9 s of import

from braggflow.algorithms.refinement.params import McdParams, OutlierParams

N_BEST = 10
MIN_BLOCK_DEG = 18.0
MIN_OBS_PER_BLOCK = 200  # Auto block width: fewer blocks until each holds this many on average


def _mean_cov(sub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means (m, p) and covariances (m, p, p) of (m, h, p) subsets."""
    t = sub.mean(axis=1)
    d = sub - t[:, None, :]
    s = np.matmul(d.transpose(0, 2, 1), d) / max(sub.shape[1] - 1, 1)
    return t, s


def _regularised_inverse(s: np.ndarray) -> np.ndarray:
    p = s.shape[-1]
    ridge = 1e-12 * (np.trace(s, axis1=-2, axis2=-1)[..., None, None] + 1e-300) * np.eye(p)
    return np.linalg.inv(s + ridge)


def _distances(x: np.ndarray, t: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distances (m, n) of x (n, p) for m estimates."""
    diff = x[None, :, :] - t[:, None, :]
    return np.sum(np.matmul(diff, _regularised_inverse(s)) * diff, axis=2)


def _csteps(x: np.ndarray, t: np.ndarray, s: np.ndarray, h: int, n_steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concentration steps for m candidate estimates at once; returns (t, s, det)."""
    previous = None
    for _ in range(n_steps):
        d2 = _distances(x, t, s)
        idx = np.argpartition(d2, h - 1, axis=1)[:, :h]
        t, s = _mean_cov(x[idx])
        det = np.linalg.det(s)
        if previous is not None and np.allclose(det, previous, rtol=1e-12, atol=0):
            break
        previous = det
    return t, s, np.linalg.det(s)


def _initial_estimates(x: np.ndarray, n_trials: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n, p = x.shape
    idx = np.array([rng.choice(n, size=p + 1, replace=False) for _ in range(n_trials)])
    return _mean_cov(x[idx])


def _best(t: np.ndarray, s: np.ndarray, det: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(det)[:k]
    return t[order], s[order]


def mcd_consistency(p: int, alpha: float) -> float:
    """Normal-model consistency factor of the raw MCD scatter for a subset fraction alpha."""
    q = _chi2_ppf(alpha, p)
    return float(alpha / gammainc(p / 2.0 + 1.0, q / 2.0))


def mcd_finite_sample(p: int, n: int, alpha: float) -> float:
    """Pison et al., Metrika (2002) finite-sample correction (DIALS mcd_finite_sample)."""
    if p > 2:
        c500 = ((-1.42764571687802, 1.26263336932151, 2), (-1.06141115981725, 1.28907991440387, 3))
        c875 = ((-0.455179464070565, 1.11192541278794, 2), (-0.294241208320834, 1.09649329149811, 3))

        def fit(c):  # type: ignore[no-untyped-def]
            y = [math.log(-c[i][0] / p ** c[i][1]) for i in range(2)]
            a = [[1.0, -math.log(c[i][2] * p**2)] for i in range(2)]
            return np.linalg.solve(np.array(a), np.array(y))

        k500, k875 = fit(c500), fit(c875)
        f500 = 1 - math.exp(k500[0]) / n ** k500[1]
        f875 = 1 - math.exp(k875[0]) / n ** k875[1]
    elif p == 2:
        f500 = 1 - math.exp(0.673292623522027) / n**0.691365864961895
        f875 = 1 - math.exp(0.446537815635445) / n**1.06690782995919
    else:
        f500 = 1 - math.exp(0.262024211897096) / n**0.604756680630497
        f875 = 1 - math.exp(-0.351584646688712) / n**1.01646567502486
    if alpha <= 0.875:
        f = f500 + (f875 - f500) / 0.375 * (alpha - 0.5)
    else:
        f = f875 + (1 - f875) / 0.125 * (alpha - 0.875)
    return 1.0 / f


def fast_mcd(x: np.ndarray, params: McdParams, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """MCD location (p,) and corrected scatter (p, p) of x (n, p), as DIALS FastMCD."""
    n, p = x.shape
    n2 = (n + p + 1) // 2
    h = int(math.floor(2 * n2 - n + 2 * (n - n2) * params.alpha))
    h = min(max(h, p + 1), n)
    h_frac = h / n
    if n >= 2 * params.min_group_size:
        n_groups = int(n // params.min_group_size)
        if n_groups >= params.max_n_groups:
            n_groups, size = params.max_n_groups, params.min_group_size * params.max_n_groups
        else:
            size = n
        perm = rng.permutation(n)[:size]
        groups = np.array_split(perm, n_groups)
        ts, ss = [], []
        for g in groups:
            xg = x[g]
            hg = max(int(len(g) * h_frac), p + 1)
            t, s, det = _csteps(xg, *_initial_estimates(xg, max(params.n_trials // n_groups, 1), rng), hg, params.k1)
            t, s = _best(t, s, det, N_BEST)
            ts.append(t)
            ss.append(s)
        merged = x[perm]
        hm = max(int(len(merged) * h_frac), p + 1)
        t, s, det = _csteps(merged, np.concatenate(ts), np.concatenate(ss), hm, params.k2)
        t, s = _best(t, s, det, N_BEST)
    else:
        t, s = _initial_estimates(x, params.n_trials, rng)
        t, s, det = _csteps(x, t, s, h, params.k1)
        t, s = _best(t, s, det, N_BEST)
    t, s, det = _csteps(x, t, s, h, params.k3)
    k = int(np.argmin(det))
    factor = mcd_consistency(p, h_frac) * mcd_finite_sample(p, n, params.alpha)
    return t[k], s[k] * factor


def mcd_outliers(x: np.ndarray, params: McdParams, rng: np.random.Generator) -> np.ndarray:
    """(n,) bool: robust squared Mahalanobis distance > chi2_p(threshold_probability)."""
    n, p = x.shape
    centre = np.median(x, axis=0)
    scale = np.median(np.abs(x - centre), axis=0) * 1.4826
    scale = np.where(scale > 0, scale, np.std(x, axis=0) + 1e-300)
    z = (x - centre) / scale
    t, s = fast_mcd(z, params, rng)
    d2 = _distances(z, t[None], s[None])[0]
    return d2 > _chi2_ppf(params.threshold_probability, p)


def tukey_outliers(x: np.ndarray, iqr_multiplier: float) -> np.ndarray:
    """(n,) bool: outside [Q1 - k IQR, Q3 + k IQR] in any column."""
    q1, q3 = np.percentile(x, [25, 75], axis=0)
    iqr = q3 - q1
    return np.any((x < q1 - iqr_multiplier * iqr) | (x > q3 + iqr_multiplier * iqr), axis=1)


def _phi_blocks(phi: np.ndarray, params: OutlierParams) -> np.ndarray:
    """Block number of every observation: equal-width blocks over the observed phi range
    (DIALS: n = round(range / block_width)); Auto width is at least 18 degrees, widened until
    blocks hold MIN_OBS_PER_BLOCK observations on average."""
    if not params.separate_blocks or len(phi) == 0:
        return np.zeros(len(phi), dtype=int)
    lo, span = float(np.min(phi)), float(np.ptp(phi))
    if span == 0.0:
        return np.zeros(len(phi), dtype=int)
    width_deg = np.degrees(span)
    if isinstance(params.block_width, (int, float)):
        n_blocks = max(int(round(width_deg / float(params.block_width))), 1)
    else:
        n_blocks = max(int(width_deg // MIN_BLOCK_DEG), 1)
        while n_blocks > 1 and len(phi) / n_blocks < MIN_OBS_PER_BLOCK:
            n_blocks -= 1
    block = np.floor((phi - lo) / span * n_blocks).astype(int)
    return np.clip(block, 0, n_blocks - 1)


def find_outliers(
    residuals: np.ndarray,
    exp: np.ndarray,
    panel: np.ndarray,
    phi: np.ndarray,
    params: OutlierParams,
    *,
    seed: int = 42,
) -> np.ndarray:
    """(n,) bool outlier flags for (n, 3) residuals (mm, mm, rad)."""
    algorithm = params.algorithm or "null"
    outlier = np.zeros(len(residuals), dtype=bool)
    if algorithm == "null" or len(residuals) == 0:
        return outlier
    exp_key = exp if params.separate_experiments else np.zeros_like(exp)
    panel_key = panel if params.separate_panels else np.zeros_like(panel)
    block = np.zeros(len(residuals), dtype=int)
    for i in np.unique(exp):
        sel = exp == i
        block[sel] = _phi_blocks(phi[sel], params)
    keys = np.stack([exp_key, panel_key, block], axis=1)
    for key in np.unique(keys, axis=0):
        rows = np.nonzero(np.all(keys == key, axis=1))[0]
        if len(rows) < params.minimum_number_of_reflections:
            outlier[rows] = True
            continue
        if algorithm == "tukey":
            outlier[rows] = tukey_outliers(residuals[rows], params.tukey.iqr_multiplier)
        else:  # mcd, auto
            outlier[rows] = mcd_outliers(residuals[rows], params.mcd, np.random.default_rng(seed))
    return outlier


__all__ = ["fast_mcd", "find_outliers", "mcd_consistency", "mcd_finite_sample", "mcd_outliers", "tukey_outliers"]


def _chi2_ppf(probability: float, dof: int) -> float:
    """Quantile of the chi-square distribution with `dof` degrees of freedom."""
    return float(2.0 * gammaincinv(dof / 2.0, probability))
