"""Predicted positions of indexed spots (for RMSDs, candidate scoring and xyzcal columns).

Uses the rotation solution of braggflow.algorithms.prediction: of the two diffracting angles
the one closest to the observed phi is taken. Stills: the rlp at phi = 0 is projected
along s0 + r (no Ewald-sphere correction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from braggflow.algorithms.prediction import rotation_angles
from braggflow.model import Experiment
from braggflow.model._vec import rotation_matrix, unit


@dataclass(frozen=True)
class IndexedPredictions:
    xyzcal_mm: np.ndarray  # (n, 3) mm, mm, rad
    xyzcal_px: np.ndarray  # (n, 3) px, px, frame
    s1: np.ndarray  # (n, 3)
    ok: np.ndarray  # (n,) bool: predicted on the observed panel


def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + np.pi) % (2 * np.pi) - np.pi


def predict_indexed(experiment: Experiment, A: np.ndarray, hkl: np.ndarray, phi_obs_rad: np.ndarray,
                    panel: np.ndarray) -> IndexedPredictions:
    """Predict (X, Y, phi) of each h (n, 3) near its observed phi, on its observed panel."""
    beam, gonio, det, scan = experiment.beam, experiment.goniometer, experiment.detector, experiment.scan
    n = len(hkl)
    s0 = beam.s0
    r0 = hkl.astype(np.float64) @ A.T
    if gonio is None or scan is None or scan.oscillation_width_deg == 0.0:
        phi = np.zeros(n)
        s1 = unit(s0 + r0) / beam.wavelength if gonio is None else unit(s0 + r0 @ gonio.rotation(0.0).T) / beam.wavelength
        ok = np.ones(n, dtype=bool)
    else:
        p0 = r0 @ gonio.fixed_rotation.T
        pa, pb, ok = rotation_angles(p0, s0, gonio.rotation_axis, gonio.setting_rotation)
        da, db = np.abs(_wrap(pa - phi_obs_rad)), np.abs(_wrap(pb - phi_obs_rad))
        phi = np.where(da <= db, phi_obs_rad + _wrap(pa - phi_obs_rad), phi_obs_rad + _wrap(pb - phi_obs_rad))
        R = gonio.setting_rotation @ rotation_matrix(gonio.rotation_axis, phi)
        s1 = s0 + np.einsum("nij,nj->ni", R, p0)
    xy_mm = np.full((n, 2), np.nan)
    xy_px = np.full((n, 2), np.nan)
    for p in np.unique(panel):
        sel = panel == p
        pan = det[int(p)]
        v = s1[sel] @ pan.D_matrix.T
        with np.errstate(divide="ignore", invalid="ignore"):
            mm = v[:, :2] / v[:, 2:3]
        mm[v[:, 2] <= 0] = np.nan
        xy_mm[sel] = mm
        xy_px[sel] = pan.millimeter_to_pixel(mm)
    ok = ok & np.all(np.isfinite(xy_mm), axis=1)
    if scan is not None and scan.oscillation_width_deg != 0.0:
        z = np.asarray(scan.array_index_from_angle(np.degrees(phi)), dtype=np.float64)
    else:
        z = np.zeros(n) if scan is None else np.full(n, scan.array_range[0] + 0.5)
    return IndexedPredictions(np.column_stack([xy_mm, phi]), np.column_stack([xy_px, z]), s1, ok)


__all__ = ["IndexedPredictions", "predict_indexed"]
