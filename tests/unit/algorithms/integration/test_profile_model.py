"""sigma_m / sigma_b estimators on synthetic rocking curves and spot pixels."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

from braggflow.algorithms.integration.profile_model import clamp_sigmas, estimate_profile, estimate_sigma_m


def _rocking(n_refl: int, sigma_m_deg: float, width_deg: float, seed: int):
    """Per-frame Poisson counts of Gaussian rocking curves (frames of width_deg)."""
    rng = np.random.default_rng(seed)
    dphi = math.radians(width_deg)
    phi_of_frame = lambda z: z * dphi  # noqa: E731
    zeta = rng.uniform(0.3, 1.0, n_refl)
    phi_c = rng.uniform(10, 20, n_refl) * dphi
    refl, frame, weight = [], [], []
    s = math.sqrt(2) * math.radians(sigma_m_deg)
    for i in range(n_refl):
        zc = phi_c[i] / dphi
        frames = np.arange(int(zc) - 8, int(zc) + 9)
        f = 0.5 * (erf(zeta[i] * (phi_of_frame(frames + 1) - phi_c[i]) / s) - erf(zeta[i] * (phi_of_frame(frames) - phi_c[i]) / s))
        counts = rng.poisson(2000 * f)
        refl += [i] * len(frames)
        frame += list(frames)
        weight += list(counts)
    return np.array(refl), np.array(frame), np.array(weight, float), phi_c, zeta, phi_of_frame, dphi


def test_sigma_m_maximum_likelihood_recovers_truth():
    refl, frame, weight, phi_c, zeta, pof, dphi = _rocking(300, 0.2, 0.1, seed=1)
    sigma, ok = estimate_sigma_m(refl, frame, weight, phi_c, zeta, pof, dphi)
    assert ok
    assert abs(math.degrees(sigma) - 0.2) < 0.01


def test_estimate_profile_sigma_b_from_pixel_angles():
    rng = np.random.default_rng(2)
    refl, frame, weight, phi_c, zeta, pof, dphi = _rocking(200, 0.1, 0.1, seed=3)
    sigma_axis = math.radians(0.05)
    angle_sq = rng.normal(0, sigma_axis, len(refl)) ** 2 + rng.normal(0, sigma_axis, len(refl)) ** 2
    est = estimate_profile(refl, frame, weight, angle_sq, phi_c, zeta, pof, dphi)
    assert est.source == "estimated"
    assert abs(est.sigma_b_deg - math.sqrt(2) * 0.05) < 0.005  # DIALS's sigma_b = sqrt(<D^2>)
    assert abs(est.sigma_m_deg - 0.1) < 0.01


def test_clamp_sigmas_warns_about_absurd_values():
    sb, sm, warnings = clamp_sigmas(0.05, 20.0, "user")
    assert sb == 0.05 and sm == 2.0
    assert len(warnings) == 1 and "sigma_m = 20" in warnings[0]
