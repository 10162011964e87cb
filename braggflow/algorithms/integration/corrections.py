"""Corrections stored with the intensities and applied at export (algorithms.md 7.8):
`lp` (multiplicative: inverse Lorentz over polarisation), `qe` (divisory detector efficiency)."""

from __future__ import annotations

import numpy as np

from braggflow.model import Experiment
from braggflow.model._vec import unit

__all__ = ["lorentz_polarization", "detector_efficiency"]


def lorentz_polarization(experiment: Experiment, s1: np.ndarray) -> np.ndarray:
    """lp = L^-1 / P per reflection (n,), L^-1 = |s1.(e x s0)| / (|s0||s1|)."""
    beam = experiment.beam
    s0 = beam.s0
    s1u, s0u = unit(s1), unit(s0)
    e = unit(experiment.goniometer.lab_rotation_axis)
    inv_l = np.abs(s1u @ np.cross(e, s0u))
    f = beam.polarization_fraction
    n = unit(beam.polarization_normal)
    pol = (1 - 2 * f) * (1 - (s1u @ n) ** 2) + f * (1 + (s1u @ s0u) ** 2)
    return inv_l / pol


def detector_efficiency(experiment: Experiment, s1: np.ndarray, panel: np.ndarray) -> np.ndarray:
    """qe = 1 - exp(-mu t0 / |cos(n, s1)|) per reflection (1 where mu or thickness is 0)."""
    qe = np.ones(len(s1))
    s1u = unit(s1)
    for p in np.unique(panel):
        pan = experiment.detector[int(p)]
        if pan.mu <= 0 or pan.thickness <= 0:
            continue
        sel = panel == p
        cos_t = np.abs(s1u[sel] @ unit(pan.normal))
        qe[sel] = 1.0 - np.exp(-pan.mu * pan.thickness / np.maximum(cos_t, 1e-6))
    return qe
