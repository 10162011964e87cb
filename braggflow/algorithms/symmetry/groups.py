"""Group bookkeeping for the symmetry search: lattice rotations, symmetry elements, subgroups,
and naming a rotation group through gemmi's tables (never hand-written tables).

Rotations are 3×3 integer matrices acting on fractional coordinates of the data's basis
(gemmi ``Op.rot`` / ``Op.DEN``); Miller indices transform as h' = h R.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import gemmi
import numpy as np

__all__ = [
    "SymmetryElement",
    "lattice_rotations",
    "symmetry_elements",
    "enumerate_subgroups",
    "name_group",
    "GroupName",
]

Rot = tuple[int, ...]  # 9 ints, row-major


_DEN = 24  # gemmi.Op.DEN: rotations are stored in these units (centred lattices have halves)


def _key(m: np.ndarray) -> Rot:
    return tuple(int(v) for v in np.rint(np.asarray(m, float) * _DEN).astype(int).reshape(-1))


def _mat(k: Rot) -> np.ndarray:
    return np.array(k, dtype=np.float64).reshape(3, 3) / _DEN


IDENTITY: Rot = _key(np.eye(3))


def lattice_rotations(cell: gemmi.UnitCell, centring: str, max_delta_deg: float) -> tuple[list[Rot], list[list[int]]]:
    """Rotations of the lattice point group (gemmi.find_lattice_symmetry) and the centring
    translations (gemmi units of 1/24)."""
    ops = gemmi.find_lattice_symmetry(cell, centring, max_delta_deg)
    rots = []
    for op in ops.sym_ops:
        r = np.array(op.rot, dtype=np.float64) / op.DEN
        if round(np.linalg.det(r)) == 1:
            rots.append(_key(r))
    return sorted(set(rots)), [list(t) for t in ops.cen_ops]


def _order(r: np.ndarray) -> int:
    m = np.eye(3)
    for k in range(1, 7):
        m = m @ r
        if np.allclose(m, np.eye(3), atol=1e-9):
            return k
    raise ValueError("not a crystallographic rotation")


def _axis(r: np.ndarray) -> tuple[int, int, int]:
    """Direction of the rotation axis (smallest integer vector, first non-zero positive)."""
    w, v = np.linalg.eig(r.astype(float))
    i = int(np.argmin(np.abs(w - 1)))
    a = np.real(v[:, i])
    a = a / np.max(np.abs(a))
    for scale in range(1, 7):
        b = a * scale
        if np.allclose(b, np.rint(b), atol=1e-6):
            a = np.rint(b).astype(int)
            break
    else:
        a = np.rint(a * 6).astype(int)
    g = np.gcd.reduce(np.abs(a[a != 0])) if np.any(a) else 1
    a = a // g
    nz = a[np.nonzero(a)[0][0]]
    if nz < 0:
        a = -a
    return (int(a[0]), int(a[1]), int(a[2]))


@dataclass(frozen=True)
class SymmetryElement:
    """A rotation axis of one order: all its non-identity powers of that exact order."""

    order: int
    axis: tuple[int, int, int]  # direct-space direction in the data's basis
    ops: tuple[Rot, ...]

    @property
    def label(self) -> str:
        return f"{self.order}-fold [{self.axis[0]} {self.axis[1]} {self.axis[2]}]"


def symmetry_elements(rotations: list[Rot]) -> list[SymmetryElement]:
    """One element per (axis, order); e.g. a 4-fold holds 4+ and 4−, its 2-fold is separate."""
    groups: dict[tuple, list[Rot]] = {}
    for k in rotations:
        if k == IDENTITY:
            continue
        r = _mat(k)
        key = (_order(r), _axis(r))
        groups.setdefault(key, []).append(k)
    out = [SymmetryElement(order, axis, tuple(sorted(ops))) for (order, axis), ops in groups.items()]
    return sorted(out, key=lambda e: (-e.order, e.axis))


def _closure(gens: set[Rot]) -> frozenset[Rot]:
    group = {IDENTITY} | set(gens)
    while True:
        new = {_key(_mat(a) @ _mat(b)) for a in group for b in group} - group
        if not new:
            return frozenset(group)
        group |= new


def enumerate_subgroups(rotations: list[Rot]) -> list[frozenset[Rot]]:
    """All subgroups of the lattice rotation group (closures of element sets), largest first.
    Works on a precomputed multiplication table of the (at most 24) rotations."""
    rots = list(rotations)
    if IDENTITY not in rots:
        rots.append(IDENTITY)
    index = {k: i for i, k in enumerate(rots)}
    mats = [_mat(k) for k in rots]
    table = [[index[_key(mats[i] @ mats[j])] for j in range(len(rots))] for i in range(len(rots))]
    e = index[IDENTITY]

    def closure(members: frozenset[int]) -> frozenset[int]:
        group = set(members) | {e}
        while True:
            new = {table[i][j] for i in group for j in group} - group
            if not new:
                return frozenset(group)
            group |= new

    start = frozenset({e})
    found = {start}
    frontier = [start]
    while frontier:
        nxt = []
        for g in frontier:
            for k in range(len(rots)):
                if k in g:
                    continue
                h = closure(g | {k})
                if h not in found:
                    found.add(h)
                    nxt.append(h)
        frontier = nxt
    groups = [frozenset(rots[i] for i in g) for g in found]
    return sorted(groups, key=lambda g: (-len(g), sorted(g)))


@dataclass(frozen=True)
class GroupName:
    """A rotation group placed in gemmi's tables: the symmorphic Sohncke space group in a
    tabulated setting, with the change of basis (as a gemmi Op, real-space 'abc' sense:
    new basis = old basis · P) that takes the data there (identity when none is needed)."""

    space_group: gemmi.SpaceGroup
    P: np.ndarray  # (a' b' c') = (a b c) P; Miller indices h' = h P
    laue: str
    patterson: str


def _group_ops(rots: frozenset[Rot] | list[Rot], cen: list[list[int]]) -> gemmi.GroupOps:
    ops = []
    for k in sorted(rots):
        for t in cen:
            op = gemmi.Op("x,y,z")
            op.rot = [list(k[0:3]), list(k[3:6]), list(k[6:9])]
            op.tran = list(t)
            ops.append(op)
    return gemmi.GroupOps(ops)


def _try_name(rots: frozenset[Rot], cen: list[list[int]]) -> gemmi.SpaceGroup | None:
    try:
        return gemmi.find_spacegroup_by_ops(_group_ops(rots, cen))
    except (RuntimeError, ValueError):
        return None


_CANDIDATE_P: list[np.ndarray] | None = None


def _candidate_bases() -> list[np.ndarray]:
    global _CANDIDATE_P
    if _CANDIDATE_P is None:
        mats = np.array(list(itertools.product((-1, 0, 1), repeat=9)), dtype=np.int64).reshape(-1, 3, 3)
        det = np.rint(np.linalg.det(mats)).astype(int)
        keep = (det >= 1) & (det <= 4)
        mats, det = mats[keep], det[keep]
        _CANDIDATE_P = [m for _, m in sorted(zip(det, mats), key=lambda x: (x[0], np.abs(x[1]).sum()))]
    return _CANDIDATE_P


def _transform(rots: frozenset[Rot], cen: list[list[int]], P: np.ndarray) -> tuple[frozenset[Rot], list[list[int]]] | None:
    """Rotations and centring in the basis (a' b' c') = (a b c) P: x' = P⁻¹ x."""
    Pi = np.linalg.inv(P.astype(float))
    new = []
    for k in rots:
        r = Pi @ _mat(k) @ P
        if not np.allclose(r, np.rint(r), atol=1e-6):
            return None
        new.append(_key(r))
    # lattice translations of the old basis (unit + centring) in new fractional coordinates
    det = int(round(abs(np.linalg.det(P))))
    trans = set()
    old = [np.array(t, float) / 24.0 for t in cen]
    for t in old:
        for shift in itertools.product(range(-det, det + 1), repeat=3):
            x = Pi @ (t + np.array(shift, float))
            x = x - np.floor(x + 1e-9)
            if np.allclose(x * 24, np.rint(x * 24), atol=1e-6):
                trans.add(tuple(int(v) % 24 for v in np.rint(x * 24)))
    return frozenset(new), [list(t) for t in sorted(trans)]


def _primitive(rots: frozenset[Rot], cen: list[list[int]]) -> tuple[frozenset[Rot], list[list[int]], np.ndarray]:
    """Rotations in a primitive basis of a centred lattice (gemmi's centred_to_primitive)."""
    if len(cen) <= 1:
        return rots, cen, np.eye(3)
    tr = {tuple(t) for t in cen}
    letter = next((c for c, sg in (("A", "A 1"), ("B", "B 1 1 2"), ("C", "C 1 2 1"), ("I", "I 2 2 2"), ("F", "F 2 2 2"), ("R", "R 3:H"))
                   if {tuple(t) for t in gemmi.SpaceGroup(sg).operations().cen_ops} == tr), None)
    if letter is None:
        return rots, cen, np.eye(3)
    sgname = {"A": "A 1", "B": "B 1 1 2", "C": "C 1 2 1", "I": "I 2 2 2", "F": "F 2 2 2", "R": "R 3:H"}[letter]
    op = gemmi.SpaceGroup(sgname).centred_to_primitive()
    R = np.array(op.rot, dtype=float) / op.DEN
    # the primitive basis (a b c) Q must make every centring vector a lattice vector
    Q = None
    for cand in (R, R.T, np.linalg.inv(R), np.linalg.inv(R).T):
        Qi = np.linalg.inv(cand)
        if all(np.allclose(Qi @ (np.array(t) / 24.0), np.rint(Qi @ (np.array(t) / 24.0)), atol=1e-6) for t in cen) and abs(abs(np.linalg.det(cand)) * len(cen) - 1) < 1e-6:
            Q = cand
            break
    if Q is None:
        return rots, cen, np.eye(3)
    M = np.linalg.inv(Q)
    return frozenset(_key(M @ _mat(k) @ Q) for k in rots), [[0, 0, 0]], Q


def name_group(rots: frozenset[Rot], cen: list[list[int]], cell: gemmi.UnitCell | None = None, search: bool = True, max_tries: int = 200) -> GroupName | None:
    """The tabulated symmorphic space group of these rotations (+ lattice centring); searches
    small change-of-basis matrices when the current basis is not a tabulated setting."""
    sg = _try_name(rots, cen)
    if sg is not None:
        return GroupName(sg, np.eye(3, dtype=np.int64), sg.laue_str(), _patterson(sg))
    if not search:
        return None
    prots, pcen, Q = _primitive(rots, cen)
    R = np.array([_mat(k) for k in sorted(prots)], dtype=float)  # (m,3,3)
    Ps = _candidate_array()
    Pis = _candidate_inverses()
    # integrality of Pi R P for every candidate and rotation, vectorised
    T = np.einsum("pij,mjk,pkl->pmil", Pis, R, Ps.astype(float))
    ok = np.all(np.abs(T - np.rint(T)) < 1e-6, axis=(1, 2, 3))
    ok &= np.all(np.abs(T) < 1 + 1e-6, axis=(1, 2, 3))  # tabulated settings use 0, ±1 only
    dets = np.rint(np.linalg.det(Ps.astype(float))).astype(int)
    best = None
    for det in (1, 2, 3, 4):
        for tried, idx in enumerate(np.flatnonzero(ok & (dets == det))):
            if tried >= max_tries:
                break
            P = Ps[idx]
            t = _transform(prots, pcen, P)
            if t is None:
                continue
            sg = _try_name(*t)
            if sg is None:
                continue
            full = Q @ P
            score = (0 if sg.is_reference_setting() else 1, _distortion(cell, full) if cell is not None else 0.0)
            if best is None or score < best[0]:
                best = (score, sg, full)
            if score[0] == 0:
                break
        if best is not None and best[0][0] == 0:
            break
    if best is None:
        return None
    _, sg, full = best
    return GroupName(sg, full, sg.laue_str(), _patterson(sg))


_P_ARRAY: np.ndarray | None = None
_P_INV: np.ndarray | None = None


def _candidate_array() -> np.ndarray:
    global _P_ARRAY, _P_INV
    if _P_ARRAY is None:
        _P_ARRAY = np.array(_candidate_bases())
        _P_INV = np.linalg.inv(_P_ARRAY.astype(float))
    return _P_ARRAY


def _candidate_inverses() -> np.ndarray:
    _candidate_array()
    return _P_INV  # type: ignore[return-value]


def _distortion(cell: gemmi.UnitCell, P: np.ndarray) -> float:
    """How far the transformed cell's angles are from 90/120 (a tie-breaker only)."""
    orth = np.array(cell.orth.mat.tolist())
    new = orth @ P
    lengths = np.linalg.norm(new, axis=0)
    cosines = [new[:, i] @ new[:, j] / (lengths[i] * lengths[j]) for i, j in ((1, 2), (0, 2), (0, 1))]
    return float(sum(min(abs(c), abs(c + 0.5)) for c in cosines))


def _patterson(sg: gemmi.SpaceGroup) -> str:
    return f"{sg.centring_type()} {sg.laue_str()}"
