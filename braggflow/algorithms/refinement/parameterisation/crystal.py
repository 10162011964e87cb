"""Crystal parameterisations: orientation U = Phi3 Phi2 Phi1 U0 and the unit cell through the
reciprocal metric tensor G* = B^T B constrained by the space group (algorithms.md 5.3).

Both are pure functions of their parameter values, so a scan-varying smoother can later
evaluate them at per-image parameter values to give per-image A = U B.
"""

from __future__ import annotations

import gemmi
import numpy as np

from braggflow.algorithms.refinement.parameterisation._rotation import composed_rotation
from braggflow.errors import StageFailed

G_SCALE = 1.0e5  # parameters are 1e5 x elements of G* so they are O(1)..O(100)
_SYM_INDEX = ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))
_J = np.eye(3)[::-1]


class CrystalOrientationParameterisation:
    """Phi1, Phi2, Phi3 (mrad) about the lab x, y, z axes applied to the initial U0."""

    names = ("Phi1", "Phi2", "Phi3")

    def __init__(self, U0: np.ndarray) -> None:
        self.U0 = np.array(U0, dtype=np.float64)
        self.initial = np.zeros(3)
        self._axes = np.eye(3)[::-1]  # composed as Phi3 Phi2 Phi1

    def U(self, values: np.ndarray) -> np.ndarray:
        rot, _ = composed_rotation(self._axes, np.asarray(values)[::-1])
        return rot @ self.U0

    def dU_dp(self, values: np.ndarray) -> np.ndarray:
        """(3, 3, 3): dU/dPhi1, dU/dPhi2, dU/dPhi3."""
        _, drot = composed_rotation(self._axes, np.asarray(values)[::-1])
        return np.array([d @ self.U0 for d in drot[::-1]])


def metric_constraint_basis(space_group: gemmi.SpaceGroup) -> tuple[np.ndarray, list[int]]:
    """Linear map C (6, k) with g = C q from the k independent G* elements q to all six.

    g holds (G11, G22, G33, G12, G13, G23); `pivots` are the indices of q within g. The
    constraints are R G* R^T = G* for every rotation R of the space group (fractional).
    """
    rows = []
    for op in space_group.operations():
        r = np.array(op.rot, dtype=np.float64) / gemmi.Op.DEN
        for k, (i, j) in enumerate(_SYM_INDEX):
            e = np.zeros((3, 3))
            e[i, j] = e[j, i] = 1.0
            rows.append((r @ e @ r.T - e)[np.triu_indices(3)])
    m = np.array(rows).reshape(-1, 6, 6).transpose(0, 2, 1).reshape(-1, 6)
    _, sv, vt = np.linalg.svd(m)
    rank = int(np.sum(sv > 1e-9 * max(sv.max(), 1.0))) if sv.size else 0
    null = vt[rank:].T  # (6, k)
    pivots: list[int] = []
    for idx in range(6):
        trial = pivots + [idx]
        if np.linalg.matrix_rank(null[trial], tol=1e-9) == len(trial):
            pivots = trial
        if len(pivots) == null.shape[1]:
            break
    c = null @ np.linalg.inv(null[pivots])
    c[np.abs(c) < 1e-12] = 0.0
    return c, pivots


def _sym(g: np.ndarray) -> np.ndarray:
    m = np.empty((3, 3))
    for value, (i, j) in zip(g, _SYM_INDEX):
        m[i, j] = m[j, i] = value
    return m


def b_from_metric(gstar: np.ndarray) -> np.ndarray:
    """Lower-triangular B (positive diagonal) with B^T B = G*."""
    lower = np.linalg.cholesky(_J @ gstar @ _J)
    return _J @ lower.T @ _J


class CrystalUnitCellParameterisation:
    """Independent elements of G* (x 1e5) allowed by the lattice symmetry; U is not touched."""

    def __init__(self, B0: np.ndarray, space_group: gemmi.SpaceGroup) -> None:
        self.space_group = space_group
        self.C, self.pivots = metric_constraint_basis(space_group)
        gstar = np.asarray(B0).T @ np.asarray(B0)
        g = np.array([gstar[i, j] for i, j in _SYM_INDEX])
        self.initial = g[self.pivots] * G_SCALE
        self.names = tuple(f"g_param_{k}" for k in range(len(self.pivots)))

    def metric(self, values: np.ndarray) -> np.ndarray:
        return _sym(self.C @ (np.asarray(values) / G_SCALE))

    def B(self, values: np.ndarray) -> np.ndarray:
        try:
            return b_from_metric(self.metric(values))
        except np.linalg.LinAlgError:
            raise StageFailed(
                "refinement: the unit cell metric stopped being positive definite; "
                "check the indexing or fix the cell (crystal.fix=cell)"
            ) from None

    def dB_dp(self, values: np.ndarray) -> np.ndarray:
        """(k, 3, 3) analytic derivatives of B (derivative of the Cholesky factor)."""
        gstar = self.metric(values)
        lower = np.linalg.cholesky(_J @ gstar @ _J)
        linv = np.linalg.inv(lower)
        out = []
        for col in self.C.T:
            dg = _J @ _sym(col / G_SCALE) @ _J
            x = linv @ dg @ linv.T
            phi = np.tril(x) - 0.5 * np.diag(np.diag(x))
            dlower = lower @ phi
            out.append(_J @ dlower.T @ _J)
        return np.array(out).reshape(-1, 3, 3)


__all__ = [
    "CrystalOrientationParameterisation",
    "CrystalUnitCellParameterisation",
    "G_SCALE",
    "b_from_metric",
    "metric_constraint_basis",
]
