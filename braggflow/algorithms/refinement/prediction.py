"""Predictions for observed reflections of known hkl, with analytic derivatives (algorithms.md 5.4).

For each observation the predicted phi is the diffracting angle with the observation's
`entering` flag (or the one nearest phi_obs when unknown), moved by whole turns to the turn
nearest phi_obs; X, Y are where s1 meets the plane of the *observed* panel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from braggflow.algorithms.prediction import rotation_angles
from braggflow.algorithms.refinement.parameterisation import ExperimentDerivatives
from braggflow.model import Experiment
from braggflow.model._vec import rotation_matrix

TWO_PI = 2.0 * np.pi


def _mv(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Row-wise matrix-vector products (n, 3, 3) x (n, 3) -> (n, 3)."""
    return np.matmul(m, v[..., None])[..., 0]


@dataclass(frozen=True)
class ObservationPredictions:
    """xyzcal_mm (n, 3) X, Y mm and phi rad; s1 (n, 3); ok (n,) prediction exists.

    With derivatives: dX, dY, dphi (n, k) for the k parameter columns `columns` of the full
    parameter vector (mm or rad per parameter unit).
    """

    xyzcal_mm: np.ndarray
    s1: np.ndarray
    ok: np.ndarray
    dX: np.ndarray | None = None
    dY: np.ndarray | None = None
    dphi: np.ndarray | None = None
    columns: np.ndarray | None = None


def _choose_phi(p0, s0, gonio, phi_obs, entering):
    phi_a, phi_b, ok = rotation_angles(p0, s0, gonio.rotation_axis, gonio.setting_rotation)
    e_lab = gonio.lab_rotation_axis
    cand = np.stack([phi_a, phi_b], axis=1)
    S = gonio.setting_rotation
    enter = np.empty_like(cand, dtype=bool)
    for j in range(2):
        r = _mv(S @ rotation_matrix(gonio.rotation_axis, cand[:, j]), p0)
        enter[:, j] = ((s0 + r) @ np.cross(s0, e_lab)) < 0
    wrapped = cand + TWO_PI * np.round((phi_obs[:, None] - cand) / TWO_PI)
    if entering is None:
        pick = np.argmin(np.abs(wrapped - phi_obs[:, None]), axis=1)
    else:
        match = enter == np.asarray(entering, dtype=bool)[:, None]
        dist = np.abs(wrapped - phi_obs[:, None]) + np.where(match, 0.0, 1.0e6)
        pick = np.argmin(dist, axis=1)
    rows = np.arange(len(p0))
    return wrapped[rows, pick], ok


def predict_observed(
    experiment: Experiment,
    miller_index: np.ndarray,
    panel: np.ndarray,
    phi_obs: np.ndarray,
    entering: np.ndarray | None = None,
    derivatives: ExperimentDerivatives | None = None,
) -> ObservationPredictions:
    """Predict (X, Y, phi) of observed reflections of one experiment; optional gradients.

    miller_index (n, 3); panel (n,); phi_obs (n,) rad; entering (n,) bool or None.
    """
    beam, gonio, crystal, detector = experiment.beam, experiment.goniometer, experiment.crystal, experiment.detector
    hkl = np.asarray(miller_index, dtype=np.float64).reshape(-1, 3)
    phi_obs = np.asarray(phi_obs, dtype=np.float64).reshape(-1)
    panel = np.asarray(panel, dtype=np.int64).reshape(-1)
    s0 = beam.s0
    F, S = gonio.fixed_rotation, gonio.setting_rotation
    ah = hkl @ crystal.A.T  # A h (n, 3)
    p0 = ah @ F.T
    phi, ok = _choose_phi(p0, s0, gonio, phi_obs, entering)
    SR = S @ rotation_matrix(gonio.rotation_axis, phi)  # (n, 3, 3)
    r = _mv(SR, p0)
    s1 = s0 + r
    D_all = np.array([p.D_matrix for p in detector.panels])
    D = D_all[panel]
    v = _mv(D, s1)
    ok = ok & (v[:, 2] > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        X, Y = v[:, 0] / v[:, 2], v[:, 1] / v[:, 2]
    xyz = np.column_stack([X, Y, phi])
    if derivatives is None:
        return ObservationPredictions(xyz, s1, ok)

    e = gonio.lab_rotation_axis
    exr = np.cross(e, r)
    q = exr @ s0
    q = np.where(ok & (np.abs(q) > 0), q, np.inf)  # failed rows get zero gradients
    dv_list, dphi_list = [], []
    # beam parameters
    for ds0 in derivatives.ds0:
        dphi = -(r @ ds0) / q
        ds1 = ds0[None, :] + exr * dphi[:, None]
        dv_list.append(_mv(D, ds1))
        dphi_list.append(dphi)
    # crystal parameters (U and B through A)
    SRF = SR @ F
    for dA in derivatives.dA:
        dr = _mv(SRF, hkl @ dA.T)
        dphi = -np.einsum("ni,ni->n", s1, dr) / q
        ds1 = dr + exr * dphi[:, None]
        dv_list.append(_mv(D, ds1))
        dphi_list.append(dphi)
    # detector parameters: dv = -D (dd) v, zero for panels outside the parameter's group
    for dd in derivatives.dd:
        ddv = _mv(dd[panel], v)
        dv_list.append(-_mv(D, ddv))
        dphi_list.append(np.zeros(len(hkl)))
    dv = np.stack(dv_list, axis=1) if dv_list else np.zeros((len(hkl), 0, 3))
    w = np.where(ok, v[:, 2], np.inf)[:, None]
    Xs, Ys = np.where(ok, X, 0.0)[:, None], np.where(ok, Y, 0.0)[:, None]
    dX = np.where(ok[:, None], (dv[:, :, 0] - Xs * dv[:, :, 2]) / w, 0.0)
    dY = np.where(ok[:, None], (dv[:, :, 1] - Ys * dv[:, :, 2]) / w, 0.0)
    dphi_all = np.stack(dphi_list, axis=1) if dphi_list else np.zeros((len(hkl), 0))
    dphi_all = np.where(ok[:, None], dphi_all, 0.0)
    return ObservationPredictions(xyz, s1, ok, dX, dY, dphi_all, derivatives.columns)


__all__ = ["ObservationPredictions", "predict_observed"]
