"""gaussian_rs profile model: sigma_b and sigma_m from strong reference spots (algorithms.md
7.2), with clamps and a crude fallback for fragile sigma_m estimates (dials #599, #356).

Input is a ragged set of per-reflection pixels: weights c_i (background-subtracted counts of
strong/foreground pixels), the angle^2 between each pixel's beam vector and s1, and each
pixel's frame; per reflection phi_c (rad) and zeta.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import erf

__all__ = ["ProfileEstimate", "SIGMA_B_RANGE_DEG", "SIGMA_M_RANGE_DEG", "estimate_sigma_b", "estimate_sigma_m",
           "clamp_sigmas", "estimate_profile"]

SIGMA_B_RANGE_DEG = (0.002, 0.5)
SIGMA_M_RANGE_DEG = (0.002, 2.0)


@dataclass(frozen=True)
class ProfileEstimate:
    sigma_b_deg: float
    sigma_m_deg: float
    n_reflections: int
    source: str  # "estimated", "user", "experiment", "fallback"
    warnings: tuple[str, ...] = ()


def estimate_sigma_b(refl: np.ndarray, weight: np.ndarray, angle_sq: np.ndarray, n_refl: int) -> float:
    """sigma_b (rad) = sqrt(mean over reflections of sum c D^2 / (sum c - 1))."""
    sw = np.bincount(refl, weight, minlength=n_refl)
    swd = np.bincount(refl, weight * angle_sq, minlength=n_refl)
    ok = sw > 1
    if not np.any(ok):
        return float("nan")
    return float(math.sqrt(np.mean(swd[ok] / (sw[ok] - 1))))


def _frame_sums(refl: np.ndarray, frame: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    key = refl.astype(np.int64) * (1 << 31) + frame.astype(np.int64)
    uniq, inv = np.unique(key, return_inverse=True)
    n = np.bincount(inv, np.maximum(weight, 0.0))
    return (uniq >> 31).astype(np.int64), (uniq & ((1 << 31) - 1)).astype(np.int64), n


def estimate_sigma_m(refl: np.ndarray, frame: np.ndarray, weight: np.ndarray, phi_c: np.ndarray,
                     zeta: np.ndarray, phi_of_frame, dphi_rad: float, *, algorithm: str = "extended") -> tuple[float, bool]:  # type: ignore[no-untyped-def]
    """Maximum-likelihood sigma_m (rad) from per-frame sums; returns (sigma_m, converged)."""
    r, f, n = _frame_sums(refl, frame, weight)
    keep = n > 0
    r, f, n = r[keep], f[keep], n[keep]
    if len(r) == 0:
        return float("nan"), False
    tau = phi_of_frame(f + 0.5) - phi_c[r]
    za = np.abs(zeta[r])
    half = 0.5 * abs(dphi_rad)
    K = np.bincount(r, n)
    n_refl = len(K)

    def negloglik(log_sigma: float) -> float:
        s = math.sqrt(2.0) * math.exp(log_sigma)
        z = 0.5 * (erf(za * (tau + half) / s) - erf(za * (tau - half) / s))
        z = np.maximum(z, 1e-10)
        if algorithm == "basic":
            return -float(np.sum(np.log(z)))
        total = np.bincount(r, z, minlength=n_refl)
        used = K > 0
        return -float(np.sum(n * np.log(z)) - np.sum((K[used] - 1) * np.log(total[used])))

    lo, hi = math.log(math.radians(1e-4)), math.log(math.radians(20.0))
    res = minimize_scalar(negloglik, bounds=(lo, hi), method="bounded", options={"xatol": 1e-4})
    sigma = math.exp(res.x)
    converged = bool(res.success) and lo + 0.05 < res.x < hi - 0.05
    return sigma, converged


def crude_sigma_m(refl: np.ndarray, frame: np.ndarray, weight: np.ndarray, phi_c: np.ndarray, zeta: np.ndarray,
                  phi_of_frame, dphi_rad: float) -> float:  # type: ignore[no-untyped-def]
    """Weighted spread of zeta (phi_frame - phi_c), minus the frame width, (rad)."""
    r, f, n = _frame_sums(refl, frame, weight)
    if len(r) == 0 or n.sum() <= 0:
        return float("nan")
    t = (phi_of_frame(f + 0.5) - phi_c[r]) * np.abs(zeta[r])
    var = float(np.sum(n * t * t) / n.sum()) - dphi_rad**2 / 12.0
    return math.sqrt(max(var, (0.1 * abs(dphi_rad)) ** 2))


def clamp_sigmas(sigma_b_deg: float, sigma_m_deg: float, what: str) -> tuple[float, float, list[str]]:
    """Clamp into SIGMA_*_RANGE_DEG, with a warning for each value moved."""
    warnings = []
    out = []
    for name, value, (lo, hi) in (("sigma_b", sigma_b_deg, SIGMA_B_RANGE_DEG), ("sigma_m", sigma_m_deg, SIGMA_M_RANGE_DEG)):
        if not np.isfinite(value) or value < lo or value > hi:
            new = float(np.clip(value if np.isfinite(value) else hi, lo, hi))
            warnings.append(f"{what} {name} = {value:.4g} deg is outside the sane range {lo}-{hi} deg; using {new:.4g} deg")
            value = new
        out.append(float(value))
    return out[0], out[1], warnings


def estimate_profile(refl: np.ndarray, frame: np.ndarray, weight: np.ndarray, angle_sq: np.ndarray,
                     phi_c: np.ndarray, zeta: np.ndarray, phi_of_frame, dphi_rad: float, *,  # type: ignore[no-untyped-def]
                     algorithm: str = "extended", min_spots: int = 50) -> ProfileEstimate:
    """sigma_b and sigma_m (degrees) with the fallbacks and clamps of algorithms.md 7.2."""
    n_refl = len(phi_c)
    warnings: list[str] = []
    if n_refl < min_spots:
        warnings.append(f"only {n_refl} reference spots for the profile model (want >= {min_spots}); "
                        "the estimate may be poor")
    sb = estimate_sigma_b(refl, weight, angle_sq, n_refl)
    sm, converged = estimate_sigma_m(refl, frame, weight, phi_c, zeta, phi_of_frame, dphi_rad, algorithm=algorithm)
    source = "estimated"
    sm_deg = math.degrees(sm) if np.isfinite(sm) else float("nan")
    if not converged or not (SIGMA_M_RANGE_DEG[0] <= sm_deg <= SIGMA_M_RANGE_DEG[1]):
        crude = crude_sigma_m(refl, frame, weight, phi_c, zeta, phi_of_frame, dphi_rad)
        warnings.append(f"sigma_m estimate {sm_deg:.4g} deg did not converge to a sane value; "
                        f"using the crude estimate {math.degrees(crude):.4g} deg")
        sm_deg = math.degrees(crude)
        source = "fallback"
    sb_deg, sm_deg, w = clamp_sigmas(math.degrees(sb), sm_deg, "estimated")
    warnings += w
    return ProfileEstimate(sb_deg, sm_deg, n_refl, source, tuple(warnings))
