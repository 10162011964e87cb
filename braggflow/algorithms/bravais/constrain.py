"""Constrained crystal closest to a given one (the role of rstbx's s_minimizer in DIALS).

Start from the metric-averaged cell with U kept, then least-squares fit the free elements of
G* (allowed by the space group) and a small rotation so that A_constrained is as close as
possible to the unconstrained A (Frobenius norm). This keeps the predicted spots close to the
observed ones before the constrained refinement starts.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from braggflow.algorithms.refinement.parameterisation.crystal import b_from_metric, metric_constraint_basis
from braggflow.algorithms.reindex import symmetrise_crystal
from braggflow.model.crystal import Crystal

_SYM = ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))


def _sym(g: np.ndarray) -> np.ndarray:
    m = np.empty((3, 3))
    for v, (i, j) in zip(g, _SYM):
        m[i, j] = m[j, i] = v
    return m


def closest_constrained_crystal(crystal: Crystal) -> Crystal:
    """The crystal (A, space group set) refitted with its space group's metric constraints."""
    start = symmetrise_crystal(crystal)
    C, pivots = metric_constraint_basis(crystal.space_group)
    B0 = start.B
    gstar = B0.T @ B0
    scale = float(np.abs(gstar).max())
    q0 = np.array([gstar[i, j] for i, j in _SYM])[pivots] / scale
    U0 = start.U
    target = np.asarray(crystal.A)
    norm = float(np.abs(target).max())

    def model(x: np.ndarray) -> np.ndarray:
        B = b_from_metric(_sym(C @ (x[3:] * scale)))
        return Rotation.from_rotvec(x[:3]).as_matrix() @ U0 @ B

    def residual(x: np.ndarray) -> np.ndarray:
        try:
            return ((model(x) - target) / norm).ravel()
        except np.linalg.LinAlgError:
            return np.full(9, 1e3)

    fit = least_squares(residual, np.concatenate([np.zeros(3), q0]), x_scale="jac", xtol=1e-14, ftol=1e-14)
    if not fit.success or np.sum(residual(fit.x) ** 2) > np.sum(residual(np.concatenate([np.zeros(3), q0])) ** 2):
        return start
    return start.replace(A=model(fit.x))


__all__ = ["closest_constrained_crystal"]
