"""Evaluate candidate lattices and pick the best (algorithms.md 4.4 steps 4-5).

Each candidate is indexed against the spots used in the basis search, tested for a
non-primitive basis (systematic absences), refined with a short linear least-squares fit
of A (rlp ~ A h, re-indexing in between) and scored with DIALS' "weighted" scorer:
[log2 V - min] + [log2 rmsd_xy - min] + [max log2 f - log2 f] (lower is better).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from braggflow.algorithms.indexing.assign import assign_indices, fit_A
from braggflow.algorithms.indexing.basis import niggli_reduce, smaller_basis_for_absences
from braggflow.algorithms.indexing.known_symmetry import TargetSymmetry, find_setting, symmetrize_A
from braggflow.algorithms.indexing.params import IndexingParams
from braggflow.algorithms.indexing.spots import Spots, rmsds_px
from braggflow.model import Crystal, Experiment

MAX_RMSD_XY_PX = 6.0
MIN_INDEXED = 5


@dataclass(frozen=True)
class Solution:
    crystal: Crystal
    n_indexed: int
    fraction_indexed: float
    rmsd_xy_px: float
    rmsds: tuple[float, float, float]
    score: float = 0.0
    scores: tuple[float, float, float] = (0.0, 0.0, 0.0)  # volume, fraction, rmsd

    @property
    def volume(self) -> float:
        return float(self.crystal.unit_cell.volume)


def same_lattice(A1: np.ndarray, A2: np.ndarray, tol: float = 0.05) -> bool:
    """True if A2 = A1 M for an integer unimodular M (same lattice, any basis)."""
    M = np.linalg.solve(A1, A2)
    Mr = np.rint(M)
    return bool(np.allclose(M, Mr, atol=tol) and abs(round(np.linalg.det(Mr))) == 1)


def same_lattice_any(stack: list[np.ndarray], A2: np.ndarray, tol: float = 0.05) -> bool:
    """same_lattice(A1, A2) for any A1 in `stack`, vectorized."""
    if not stack:
        return False
    M = np.linalg.solve(np.asarray(stack), np.broadcast_to(A2, (len(stack), 3, 3)))
    Mr = np.rint(M)
    close = np.all(np.abs(M - Mr) <= tol, axis=(1, 2))
    if not close.any():
        return False
    return bool(np.any(np.abs(np.rint(np.linalg.det(Mr[close]))) == 1))


def misorientation_deg(A1: np.ndarray, A2: np.ndarray) -> float:
    """Rotation angle (deg) between two lattices after matching bases (inf if no match)."""
    M = np.rint(np.linalg.solve(A1, A2))
    if abs(round(np.linalg.det(M))) != 1:
        return np.inf
    u, _, vt = np.linalg.svd(A2 @ np.linalg.inv(A1 @ M))
    R = u @ vt
    return float(np.degrees(np.arccos(np.clip((np.trace(R) - 1) / 2, -1, 1))))


def refine_linear(A: np.ndarray, spots: Spots, eligible: np.ndarray, hkl_tolerance: float, *,
                  target: TargetSymmetry | None, n_cycles: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Alternate index assignment and a robust linear fit of A. Returns (A, hkl, indexed)."""
    asg = assign_indices(spots.rlp, spots.phi, [A], hkl_tolerance=hkl_tolerance, eligible=eligible,
                         imageset_id=spots.imageset)
    for _ in range(n_cycles):
        rows = np.nonzero(asg.indexed)[0]
        if len(rows) < MIN_INDEXED:
            break
        h = asg.miller_index[rows]
        if np.linalg.matrix_rank(h.astype(np.float64)) < 3:
            break
        resid = np.linalg.norm(h @ A.T - spots.rlp[rows], axis=1)
        med = np.median(resid)
        good = resid <= max(5.0 * med, 1e-12) if len(rows) > 10 else np.ones(len(rows), dtype=bool)
        A_new = fit_A(h[good], spots.rlp[rows[good]])
        if target is not None:
            A_new = symmetrize_A(A_new, target.space_group)
        if not np.all(np.isfinite(A_new)) or abs(np.linalg.det(A_new)) < 1e-12:
            break
        A = A_new
        asg = assign_indices(spots.rlp, spots.phi, [A], hkl_tolerance=hkl_tolerance, eligible=eligible,
                             imageset_id=spots.imageset)
    return A, asg.miller_index, asg.indexed


def evaluate(crystal: Crystal, spots: Spots, sweeps: list[Experiment], eligible: np.ndarray,
             params: IndexingParams, target: TargetSymmetry | None) -> Solution | None:
    """Index, refine (linear), and measure one candidate; None if it is not acceptable."""
    tol = params.index_assignment.simple.hkl_tolerance
    if target is None:
        asg = assign_indices(spots.rlp, spots.phi, [crystal.A], hkl_tolerance=tol, eligible=eligible,
                             imageset_id=spots.imageset)
        P = smaller_basis_for_absences(asg.miller_index[asg.indexed], params.basis_vector_combinations.sys_absent_threshold)
        if P is not None:
            crystal, _ = niggli_reduce(crystal.change_basis(P))
    A, hkl, indexed = refine_linear(crystal.A, spots, eligible, tol, target=target)
    n_idx = int(indexed.sum())
    if n_idx < MIN_INDEXED:
        return None
    rows = np.nonzero(indexed)[0]
    rx, ry, rz, _ = rmsds_px(sweeps, A, spots, hkl, rows)
    rxy = float(np.hypot(rx, ry))
    if not np.isfinite(rxy) or rxy > MAX_RMSD_XY_PX:
        return None
    new = crystal.replace(A=A)
    if target is None:
        new, _ = niggli_reduce(new)
    return Solution(new, n_idx, n_idx / max(int(eligible.sum()), 1), rxy, (rx, ry, rz))


def score_solutions(solutions: list[Solution], params: IndexingParams) -> list[Solution]:
    """Weighted scores; returns the solutions sorted best first."""
    if not solutions:
        return []
    w = params.basis_vector_combinations.weighted
    lv = np.log2([s.volume for s in solutions])
    lr = np.log2([max(s.rmsd_xy_px, 1e-6) for s in solutions])
    lf = np.log2([max(s.fraction_indexed, 1e-9) for s in solutions])
    sv = w.volume_weight * (lv - lv.min())
    sr = w.rmsd_weight * (lr - lr.min())
    sf = w.n_indexed_weight * (lf.max() - lf)
    total = sv**w.power + sr**w.power + sf**w.power
    scored = [replace(s, score=float(t), scores=(float(a), float(b), float(c)))
              for s, t, a, b, c in zip(solutions, total, sv, sf, sr)]
    return sorted(scored, key=lambda s: s.score)


def to_target_setting(crystal: Crystal, target: TargetSymmetry | None, params: IndexingParams) -> Crystal | None:
    """The candidate in the known-symmetry setting (None if it does not fit); unchanged if no target."""
    if target is None:
        return crystal
    match = find_setting(crystal, target, params.known_symmetry)
    return None if match is None else match.crystal


__all__ = ["Solution", "evaluate", "misorientation_deg", "refine_linear", "same_lattice", "same_lattice_any", "score_solutions",
           "to_target_setting"]
