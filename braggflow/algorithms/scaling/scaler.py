"""Scaling: refine the physical model against the Hamilton–Rollett–Sparks target, reject
outliers, refine the error model (algorithms.md 9.2).

Target: Σ_h Σ_l w_hl (I_hl − g_hl Ĩ_h)² + restraints, Ĩ_h = Σ w g I / Σ w g²,
w = 1/σ'², Friedel mates merged. Gauss–Newton with Ĩ held per iteration (Levenberg damping),
then the degeneracies removed (mean scale 1, mean B 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from braggflow.algorithms.merging.statistics import group_keys
from braggflow.algorithms.merging.unmerged import UnmergedData
from braggflow.algorithms.scaling.model import PhysicalModel, build_model
from braggflow.errors import InputDataError

__all__ = ["ScalingOptions", "ErrorModel", "ScalingResult", "scale_data", "refine_error_model", "normalised_deviations"]


@dataclass
class ScalingOptions:
    scale_interval: float | None = None
    decay_interval: float | None = None
    decay_correction: bool = True
    absorption_correction: bool | None = None  # None: auto (geometry known and sweep > 60°)
    lmax: int = 4
    decay_restraint: float = 0.1
    surface_weight: float = 5e5
    outlier_zmax: float = 6.0
    outlier_rejection: bool = True
    error_model: bool = True
    max_iterations: int = 30
    min_partiality: float = 0.4
    d_min: float | None = None


@dataclass
class ErrorModel:
    a: float = 1.0
    b: float = 0.02

    def sigma(self, sigma: np.ndarray, intensity: np.ndarray) -> np.ndarray:
        return self.a * np.sqrt(sigma**2 + (self.b * intensity) ** 2)


@dataclass
class ScalingResult:
    data: UnmergedData  # scaled: I/g, σ'/g, scale = g (rows: the non-excluded input rows)
    g: np.ndarray  # per input row (nan where excluded)
    g_variance: np.ndarray
    outlier: np.ndarray  # per input row
    excluded: np.ndarray  # per input row (not scaled: single observations, bad values)
    params: np.ndarray
    model: PhysicalModel
    error_model: ErrorModel
    n_iterations: int
    history: list = field(default_factory=list)


def _groups(data: UnmergedData) -> tuple[np.ndarray, np.ndarray]:
    keys = group_keys(data, anomalous=False)
    uk, inv = np.unique(keys, return_inverse=True)
    return inv, np.bincount(inv, minlength=len(uk))


def _merged(inv: np.ndarray, m: int, w: np.ndarray, g: np.ndarray, intensity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    num = np.bincount(inv, w * g * intensity, m)
    den = np.bincount(inv, w * g * g, m)
    return num / np.where(den > 0, den, 1), den


def _refine(model: PhysicalModel, p: np.ndarray, inv: np.ndarray, m: int, intensity: np.ndarray, w: np.ndarray, opts: ScalingOptions, active: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """Gauss–Newton/Levenberg iterations; returns parameters, iterations, normal matrix."""
    R = np.zeros(model.n_params)
    R[model.ns : model.ns + model.nd] = opts.decay_restraint
    R[model.ns + model.nd :] = opts.surface_weight
    mu = 1e-3
    last = np.inf
    N = np.eye(model.n_params)
    it = 0
    wa = w * active
    for it in range(1, opts.max_iterations + 1):
        g = model.g(p)
        I_h, _ = _merged(inv, m, wa, g, intensity)
        r = intensity - g * I_h[inv]
        target = float((wa * r * r).sum() + (R * _restraint_dev(model, p) ** 2).sum())
        J = -model.jacobian(p) * I_h[inv][:, None]
        JW = J * wa[:, None]
        N = JW.T @ J + np.diag(R)
        grad = JW.T @ r + R * _restraint_dev(model, p)
        step = np.linalg.solve(N + mu * np.diag(np.maximum(np.diag(N), 1e-12)), -grad)
        p_new = model.normalise(p + step)
        if target > last * (1 + 1e-12):
            mu *= 10
        else:
            mu = max(mu / 3, 1e-6)
        p = p_new
        if abs(last - target) <= 1e-6 * max(target, 1e-300):
            break
        last = target
    return p, it, N


def _restraint_dev(model: PhysicalModel, p: np.ndarray) -> np.ndarray:
    dev = p.copy()
    dev[: model.ns] = 0.0
    return dev


def normalised_deviations(inv: np.ndarray, m: int, intensity: np.ndarray, sigma: np.ndarray, g: np.ndarray, active: np.ndarray) -> np.ndarray:
    """δ_hl = (I/g − ⟨I⟩_h)/√((σ/g)² − 1/Σw): the deviation from the weighted mean of the
    scaled observations of the group divided by its exact standard deviation (for equal σ this
    is √(n/(n−1))·(x − ⟨x⟩)/σ); N(0, 1) when the σ are right. nan where n < 2."""
    x = intensity / g
    s = sigma / g
    w = active / s**2
    num = np.bincount(inv, w * x, m)
    den = np.bincount(inv, w, m)
    n = np.bincount(inv, active.astype(float), m)
    mean = num / np.where(den > 0, den, 1)
    nn = n[inv]
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = (x - mean[inv]) / np.sqrt(np.maximum(s**2 - 1.0 / den[inv], 1e-300))
    delta[(nn < 2) | ~active] = np.nan
    return delta


def refine_error_model(inv: np.ndarray, m: int, intensity: np.ndarray, sigma: np.ndarray, g: np.ndarray, active: np.ndarray, n_bins: int = 20) -> ErrorModel:
    """Fit a, b so that the robust variance of δ is 1 in every intensity bin."""
    x = intensity / g
    w0 = active / (sigma / g) ** 2
    mean = np.bincount(inv, w0 * x, m) / np.maximum(np.bincount(inv, w0, m), 1e-300)
    n = np.bincount(inv, active.astype(float), m)
    use = active & (n[inv] >= 2)
    if use.sum() < 50:
        return ErrorModel(1.0, 0.0)
    order = np.argsort(mean[inv][use])
    idx = np.flatnonzero(use)[order]
    bins = np.array_split(idx, n_bins)

    def bin_vars(params: np.ndarray) -> np.ndarray:
        a, b = abs(params[0]), abs(params[1])
        sp = a * np.sqrt(sigma**2 + (b * intensity) ** 2)
        dl = normalised_deviations(inv, m, intensity, sp, g, active)
        out = []
        for sel in bins:
            v = dl[sel]
            v = v[np.isfinite(v)]
            if len(v) < 10:
                continue
            mad = np.median(np.abs(v - np.median(v))) * 1.4826
            out.append(mad**2)
        return np.array(out)

    def objective(params: np.ndarray) -> float:
        v = bin_vars(params)
        return float(np.sum(np.log(np.maximum(v, 1e-12)) ** 2))

    res = minimize(objective, np.array([1.0, 0.02]), method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-6, "maxiter": 200})
    a, b = abs(float(res.x[0])), abs(float(res.x[1]))
    return ErrorModel(a, b)


def _reject_outliers(inv: np.ndarray, m: int, intensity: np.ndarray, sigma: np.ndarray, g: np.ndarray, active: np.ndarray, zmax: float) -> np.ndarray:
    """Iteratively flag the worst observation of each group whose deviation from the
    weighted mean of the others exceeds zmax; returns the outlier mask."""
    active = active.copy()
    outlier = np.zeros(len(active), bool)
    for _ in range(20):
        w = active / sigma**2
        S1 = np.bincount(inv, w * g * intensity, m)
        S2 = np.bincount(inv, w * g * g, m)
        n = np.bincount(inv, active.astype(float), m)
        o1 = S1[inv] - w * g * intensity
        o2 = S2[inv] - w * g * g
        ok = active & (n[inv] >= 3) & (o2 > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            I_o = o1 / o2
            z = np.abs(intensity - g * I_o) / np.sqrt(sigma**2 + g * g / o2)
        z[~ok] = 0.0
        # worst per group
        order = np.lexsort((-z, inv))
        first = np.ones(len(order), bool)
        first[1:] = inv[order][1:] != inv[order][:-1]
        worst = order[first]
        bad = worst[z[worst] > zmax]
        if len(bad) == 0:
            break
        outlier[bad] = True
        active[bad] = False
    return outlier


def scale_data(data: UnmergedData, options: ScalingOptions | None = None) -> ScalingResult:
    """Scale unmerged observations (raw, unscaled intensities) with the physical model."""
    opts = options or ScalingOptions()
    n0 = len(data)
    usable = np.isfinite(data.intensity) & (data.sigma > 0) & np.isfinite(data.d)
    if opts.d_min is not None:
        usable &= data.d >= opts.d_min
    phi = data.rot_deg.copy()
    if not np.isfinite(phi).all():
        # no ROT: use the batch number (1° per batch when nothing better is known)
        width = {b: (i.phi_end - i.phi_start) for b, i in data.batches.items()}
        start = {b: i.phi_start for b, i in data.batches.items()}
        est = np.array([start.get(int(b), float(b)) + 0.5 * width.get(int(b), 1.0) for b in data.batch])
        phi = np.where(np.isfinite(phi), phi, est)
    sub = data.select(usable)
    phi_u = phi[usable]
    inv, n = _groups(sub)
    m = len(n)
    if not np.any(n >= 2):
        raise InputDataError(data.source or "data", "no symmetry-equivalent observations: nothing to scale against (check the space group, or the data are merged)")
    active = n[inv] >= 2
    model = build_model(phi_u, sub.dataset, sub.d, sub.s0c, sub.s1c, scale_interval=opts.scale_interval,
                        decay_interval=opts.decay_interval, decay=opts.decay_correction,
                        absorption=opts.absorption_correction, lmax=opts.lmax)
    err = ErrorModel(1.0, 0.0)
    sig = sub.sigma.copy()
    p = model.initial()
    history = []
    p, it1, _ = _refine(model, p, inv, m, sub.intensity, 1 / sig**2, opts, active)
    history.append(("initial refinement", it1))
    outlier = np.zeros(len(sub), bool)
    if opts.error_model:
        # error model first, so that outliers are judged against realistic sigmas
        err = refine_error_model(inv, m, sub.intensity, sub.sigma, model.g(p), active)
        sig = err.sigma(sub.sigma, sub.intensity)
    if opts.outlier_rejection:
        outlier = _reject_outliers(inv, m, sub.intensity, sig, model.g(p), active, opts.outlier_zmax)
        active &= ~outlier
    p, it2, _ = _refine(model, p, inv, m, sub.intensity, 1 / sig**2, opts, active)
    history.append(("after error model and outlier rejection", it2))
    if opts.error_model:
        err = refine_error_model(inv, m, sub.intensity, sub.sigma, model.g(p), active)
        sig = err.sigma(sub.sigma, sub.intensity)
        p, it3, _ = _refine(model, p, inv, m, sub.intensity, 1 / sig**2, opts, active)
        history.append(("after error model refinement", it3))
    if opts.outlier_rejection:
        more = _reject_outliers(inv, m, sub.intensity, sig, model.g(p), active, opts.outlier_zmax)
        outlier |= more
        active &= ~more
    g = model.g(p)
    # parameter covariance from the final normal matrix
    I_h, _ = _merged(inv, m, active / sig**2, g, sub.intensity)
    J = model.jacobian(p)
    Jw = -J * I_h[inv][:, None]
    N = (Jw * (active / sig**2)[:, None]).T @ Jw
    try:
        cov = np.linalg.pinv(N)
        g_var = np.einsum("ij,jk,ik->i", J, cov, J)
    except np.linalg.LinAlgError:
        g_var = np.zeros(len(g))
    bad_g = ~(g > 0)
    scaled = sub.replace(intensity=sub.intensity / np.where(bad_g, 1, g), sigma=sig / np.where(bad_g, 1, g), scale=g)
    g_full = np.full(n0, np.nan)
    gv_full = np.full(n0, np.nan)
    out_full = np.zeros(n0, bool)
    idx = np.flatnonzero(usable)
    g_full[idx] = g
    gv_full[idx] = g_var
    out_full[idx] = outlier
    excluded = np.ones(n0, bool)
    excluded[idx] = bad_g
    keep = ~outlier & ~bad_g
    return ScalingResult(scaled.select(keep), g_full, gv_full, out_full, excluded, p, model, err, sum(h[1] for h in history), history)
