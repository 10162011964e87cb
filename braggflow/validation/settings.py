"""Compare a processed crystal model with the simulation's truth.

Both models live in the same laboratory frame (the images, goniometer and scan are the same),
so the reciprocal lattice vectors agree whatever basis indexing chose: A_obs h_obs = A_true h_true
for every reflection. M = A_true^-1 A_obs is therefore an integer matrix (the change of basis
between the two settings, including any lattice-symmetry or origin choice), and h_true = M h_obs.
"""

from __future__ import annotations

from dataclasses import dataclass

import gemmi
import numpy as np

from braggflow.model.crystal import Crystal, b_matrix, cell_from_real_space


@dataclass(frozen=True)
class CrystalComparison:
    """How a processed crystal differs from the truth, in the truth's setting."""

    M: np.ndarray  # (3, 3) int: h_true = M @ h_obs
    M_residual: float  # max |A_true^-1 A_obs - M|, 0 for an exact lattice match
    cell: tuple[float, ...]  # processed cell in the truth setting
    cell_true: tuple[float, ...]
    cell_error_pct: tuple[float, float, float]  # (a, b, c) relative errors in percent
    angle_error_deg: tuple[float, float, float]  # (alpha, beta, gamma) differences
    misorientation_deg: float  # rotation between U_obs (truth setting) and U_true, static A
    misorientation_max_deg: float  # largest over the scan points (= static when none)

    @property
    def max_cell_error_pct(self) -> float:
        return float(max(abs(e) for e in self.cell_error_pct))


def setting_matrix(A_true: np.ndarray, A_obs: np.ndarray, *, tol: float = 0.1) -> tuple[np.ndarray, float]:
    """(M, residual) with h_true = M h_obs; raises ValueError when no integer M fits within tol."""
    raw = np.linalg.solve(np.asarray(A_true, dtype=np.float64), np.asarray(A_obs, dtype=np.float64))
    M = np.rint(raw)
    residual = float(np.max(np.abs(raw - M)))
    if residual > tol or abs(np.linalg.det(M)) < 0.5:
        raise ValueError(
            f"the processed lattice does not match the truth (A_true^-1 A_obs =\n{np.round(raw, 3)})"
        )
    return M.astype(int), residual


def in_truth_setting(A_obs: np.ndarray, M: np.ndarray) -> np.ndarray:
    """A of the processed crystal re-expressed in the truth basis (A_obs h_obs = A' h_true)."""
    return np.asarray(A_obs, dtype=np.float64) @ np.linalg.inv(M)


def cell_of(A: np.ndarray) -> gemmi.UnitCell:
    return cell_from_real_space(np.linalg.inv(A))


def orientation_of(A: np.ndarray) -> np.ndarray:
    """U = A B^-1 with B from A's own cell (a proper rotation for a right-handed basis)."""
    return A @ np.linalg.inv(b_matrix(cell_of(A)))


def misorientation_deg(U1: np.ndarray, U2: np.ndarray) -> float:
    """Angle of the rotation U1 U2^T, degrees."""
    R = np.asarray(U1) @ np.asarray(U2).T
    cos = (np.trace(R) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def _params(cell: gemmi.UnitCell) -> tuple[float, ...]:
    return (cell.a, cell.b, cell.c, cell.alpha, cell.beta, cell.gamma)


def compare_crystal(truth: Crystal, crystal: Crystal) -> CrystalComparison:
    """Cell errors and misorientation of `crystal` against `truth`, in the truth setting."""
    M, residual = setting_matrix(truth.A, crystal.A)
    A = in_truth_setting(crystal.A, M)
    cell, cell_t = _params(cell_of(A)), _params(truth.unit_cell)
    U_true = orientation_of(truth.A)
    mis = misorientation_deg(orientation_of(A), U_true)
    mis_max = mis
    if crystal.A_at_scan_points is not None:
        mis_max = max(misorientation_deg(orientation_of(in_truth_setting(a, M)), U_true) for a in crystal.A_at_scan_points)
    return CrystalComparison(
        M=M,
        M_residual=residual,
        cell=cell,
        cell_true=cell_t,
        cell_error_pct=tuple(100.0 * (cell[i] - cell_t[i]) / cell_t[i] for i in range(3)),  # type: ignore[arg-type]
        angle_error_deg=tuple(cell[i] - cell_t[i] for i in range(3, 6)),  # type: ignore[arg-type]
        misorientation_deg=mis,
        misorientation_max_deg=float(mis_max),
    )
