"""Known symmetry: put a P1 solution in the setting of `known_symmetry.space_group`/`unit_cell`.

A P1 (Niggli) crystal is re-expressed in every basis [a' b' c'] = [a b c] P made of short
lattice vectors with det P = (number of centring translations of the target group) and all
centring translations on lattice points. A basis is accepted when its metric is invariant
under the target point group within `max_delta` (angles, degrees; lengths within the
relative tolerance) and, if a unit cell is given, matches it within the tolerances. The best
such P and the symmetrized crystal are returned. The symmetrized A keeps the orientation
(closest rotation) and imposes the metric averaged over the point group.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import gemmi
import numpy as np

from braggflow.algorithms.indexing.params import KnownSymmetryParams
from braggflow.errors import ParameterError
from braggflow.model import Crystal, b_matrix


@dataclass(frozen=True)
class TargetSymmetry:
    space_group: gemmi.SpaceGroup
    unit_cell: gemmi.UnitCell | None

    @property
    def n_centring(self) -> int:
        return len(self.space_group.operations().cen_ops)


def target_symmetry(params: KnownSymmetryParams) -> TargetSymmetry | None:
    """Parse/validate the known symmetry; None if neither space group nor cell is given."""
    if params.space_group is None and params.unit_cell is None:
        return None
    try:
        sg = gemmi.SpaceGroup(params.space_group) if params.space_group else gemmi.SpaceGroup("P 1")
    except (ValueError, RuntimeError) as exc:
        raise ParameterError(
            f"indexing.known_symmetry.space_group = {params.space_group}: unknown space group"
            " (use a symbol such as P4 or 'P 21 21 21')") from exc
    cell = None
    if params.unit_cell is not None:
        cell = gemmi.UnitCell(*params.unit_cell)
        if cell.volume <= 0 or not np.isfinite(cell.volume):
            raise ParameterError(
                f"indexing.known_symmetry.unit_cell = {params.unit_cell}: not a valid cell"
                " (need a,b,c > 0 and angles that make a positive volume)")
        if not cell.is_compatible_with_spacegroup(sg, 1e-3):
            raise ParameterError(
                f"indexing.known_symmetry.unit_cell = {','.join(f'{v:g}' for v in params.unit_cell)}"
                f" is impossible in space group {sg.xhm()}: the cell must obey the lattice"
                " constraints (e.g. a = b, gamma = 120 for hexagonal); fix the cell or the space group")
    return TargetSymmetry(sg, cell)


def primitive_cell(target: TargetSymmetry) -> gemmi.UnitCell | None:
    """Niggli-reduced primitive cell of the target (None without a unit cell)."""
    if target.unit_cell is None:
        return None
    gv = gemmi.GruberVector(target.unit_cell, target.space_group.centring_type(), False)
    gv.niggli_reduce()
    return gv.get_cell()


def point_group_rotations(sg: gemmi.SpaceGroup) -> np.ndarray:
    """(m, 3, 3) rotation parts W (fractional, x' = W x) of the space group operations."""
    ops = sg.operations()
    rots = {tuple(np.array(op.rot).ravel() // op.DEN) for op in ops.sym_ops}
    return np.array([np.array(r, dtype=np.float64).reshape(3, 3) for r in sorted(rots)])


def metric_from_real(real: np.ndarray) -> np.ndarray:
    return real @ real.T


def cell_from_metric(G: np.ndarray) -> np.ndarray:
    """(..., 6) a, b, c, alpha, beta, gamma (deg) from real-space metric tensors (..., 3, 3)."""
    a, b, c = (np.sqrt(G[..., i, i]) for i in range(3))
    al = np.degrees(np.arccos(np.clip(G[..., 1, 2] / (b * c), -1, 1)))
    be = np.degrees(np.arccos(np.clip(G[..., 0, 2] / (a * c), -1, 1)))
    ga = np.degrees(np.arccos(np.clip(G[..., 0, 1] / (a * b), -1, 1)))
    return np.stack([a, b, c, al, be, ga], axis=-1)


def symmetrize_metric(G: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """Point-group average of W^T G W; G (..., 3, 3)."""
    return np.mean([W.T @ G @ W for W in rotations], axis=0) if G.ndim == 2 else \
        np.mean(np.einsum("mji,njk,mkl->mnil", rotations, G, rotations), axis=0)


def symmetrize_A(A: np.ndarray, sg: gemmi.SpaceGroup) -> np.ndarray:
    """Closest A = U B with B from the point-group averaged metric (U from polar decomposition)."""
    real = np.linalg.inv(A)
    G = symmetrize_metric(metric_from_real(real), point_group_rotations(sg))
    cell = gemmi.UnitCell(*cell_from_metric(G))
    B = b_matrix(cell)
    u, _, vt = np.linalg.svd(A @ np.linalg.inv(B))
    U = u @ vt
    if np.linalg.det(U) < 0:
        U = -U
    return U @ B


def cell_may_match(crystal: Crystal, target: TargetSymmetry | None, params: KnownSymmetryParams) -> bool:
    """Cheap pre-test: sorted Niggli lengths and volume of a P1 candidate against the target's
    primitive cell (True when there is no target cell)."""
    if target is None or target.unit_cell is None:
        return True
    prim = primitive_cell(target)
    c = crystal.unit_cell
    tol = params.relative_length_tolerance
    lc, lt = np.sort(c.parameters[:3]), np.sort(prim.parameters[:3])  # type: ignore[union-attr]
    if np.any(np.abs(lc - lt) / lt > 2 * tol):
        return False
    return abs(c.volume - prim.volume) / prim.volume <= 3 * tol  # type: ignore[union-attr]


@dataclass(frozen=True)
class SettingMatch:
    P: np.ndarray  # [a' b' c'] = [a b c] P
    crystal: Crystal  # in the target setting, symmetrized, with the target space group
    delta_deg: float  # largest angle change caused by the symmetrization
    length_dev: float  # largest relative length change (or deviation from the given cell)


def _short_vectors(real: np.ndarray, n_max: int = 24, coeff: int = 2) -> np.ndarray:
    c = np.array([v for v in itertools.product(range(-coeff, coeff + 1), repeat=3) if any(v)], dtype=np.float64)
    # keep one of each +-pair
    first = c[np.arange(len(c)), np.argmax(c != 0, axis=1)]
    c = c[first > 0]
    lengths = np.linalg.norm(c @ real, axis=1)
    return c[np.argsort(lengths, kind="stable")[:n_max]]


def find_setting(crystal: Crystal, target: TargetSymmetry, params: KnownSymmetryParams) -> SettingMatch | None:
    """Best basis of `crystal` in the target setting, or None if none fits the tolerances."""
    real = crystal.real_space_vectors
    G0 = metric_from_real(real)
    coeffs = _short_vectors(real)
    rot = point_group_rotations(target.space_group)
    z = target.n_centring
    cen = [np.array(t, dtype=np.float64) / gemmi.Op.DEN for t in target.space_group.operations().cen_ops]
    m = len(coeffs)
    idx = np.array([t for t in itertools.permutations(range(m), 3)])
    P = np.stack([coeffs[idx[:, 0]], coeffs[idx[:, 1]], coeffs[idx[:, 2]]], axis=2)  # columns
    det = np.linalg.det(P)
    P[det < 0] *= -1
    keep = np.isclose(np.abs(det), z)
    P = P[keep]
    for t in cen:
        if np.any(t):
            x = P @ t
            P = P[np.all(np.abs(x - np.rint(x)) < 1e-6, axis=1)]
    if len(P) == 0:
        return None
    G = np.einsum("nji,jk,nkl->nil", P, G0, P)
    Gs = symmetrize_metric(G, rot)
    c_obs, c_sym = cell_from_metric(G), cell_from_metric(Gs)
    delta = np.max(np.abs(c_obs[:, 3:] - c_sym[:, 3:]), axis=1)
    ldev = np.max(np.abs(c_obs[:, :3] - c_sym[:, :3]) / c_sym[:, :3], axis=1)
    ok = (delta <= params.max_delta) & (ldev <= params.relative_length_tolerance)
    score = delta + 100.0 * ldev
    # ties between equivalent settings: prefer a <= b <= c and acute-free conventions
    score = score + 1e-3 * (c_sym[:, 0] > c_sym[:, 1] + 1e-6) + 1e-3 * (c_sym[:, 1] > c_sym[:, 2] + 1e-6)
    if target.unit_cell is not None:
        tc = np.array(target.unit_cell.parameters)
        tl = np.max(np.abs(c_sym[:, :3] - tc[:3]) / tc[:3], axis=1)
        ta = np.max(np.abs(c_sym[:, 3:] - tc[3:]), axis=1)
        ok &= (tl <= params.relative_length_tolerance) & (ta <= params.absolute_angle_tolerance)
        score = score + 100.0 * tl + ta
    if not np.any(ok):
        return None
    best = int(np.argmin(np.where(ok, score, np.inf)))
    Pb = P[best]
    new = crystal.change_basis(Pb, space_group=target.space_group)
    A = symmetrize_A(new.A, target.space_group)
    return SettingMatch(Pb, new.replace(A=A), float(delta[best]), float(ldev[best]))


__all__ = [
    "SettingMatch",
    "TargetSymmetry",
    "cell_may_match",
    "cell_from_metric",
    "find_setting",
    "point_group_rotations",
    "primitive_cell",
    "symmetrize_A",
    "symmetrize_metric",
    "target_symmetry",
]
