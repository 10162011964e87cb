"""Conventional (reference-setting) cells of a lattice point group (algorithms.md 6, step 3).

Given a group H of proper rotations on a primitive basis with metric G, candidate conventional
bases are built from the symmetry axes (unique axis for monoclinic, the three two-folds for
orthorhombic, the principal axis plus an in-plane two-fold for tetragonal/trigonal/hexagonal,
the three four-folds for cubic). A candidate P (columns: the new basis in the primitive one) is
kept when P^-1 H P is exactly the holohedry of a Bravais type in its reference setting and the
primitive lattice gives exactly that type's centring vectors. Among the survivors the "best
cell" is chosen: monoclinic least oblique (I2 allowed if best_monoclinic_beta), orthorhombic
a <= b <= c (a <= b for C), then the basis closest to the identity.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass

import numpy as np

from braggflow.algorithms.bravais.lattice import Rot, as_matrix, axis_of, reciprocal_axis_of, trace
from braggflow.algorithms.bravais.types import FAMILY_TYPES, reference_centring, reference_rotations

_BOX = np.array([v for v in itertools.product(range(-3, 4), repeat=3) if any(v)], dtype=np.int64)
_DEN = 24


@dataclass(frozen=True)
class Conventional:
    """A Bravais type and the basis change P (integer) from the primitive basis to it."""

    bravais: str
    P: np.ndarray


def family_of(group: frozenset[Rot]) -> str | None:
    """Crystal family key of a proper rotation group if it is a holohedry, else None."""
    n = len(group)
    orders = Counter(trace(r) for r in group)  # 3: 1, -1: 2-fold, 0: 3-fold, 1: 4-fold, 2: 6-fold
    if n == 1:
        return "a"
    if n == 2:
        return "m"
    if n == 4 and orders[-1] == 3:
        return "o"
    if n == 8 and orders[1] == 2:
        return "t"
    if n == 6 and orders[0] == 2:
        return "hR"
    if n == 12 and orders[2] == 2:
        return "hP"
    if n == 24:
        return "c"
    return None


def _adjugate(P: np.ndarray) -> np.ndarray:
    """Integer adjugate: P^-1 = adj(P) / det(P); its rows are cross products of P's columns."""
    return np.array([np.cross(P[:, 1], P[:, 2]), np.cross(P[:, 2], P[:, 0]), np.cross(P[:, 0], P[:, 1])])


def _centring(adj: np.ndarray, det: int) -> frozenset[tuple[int, int, int]] | None:
    """Translations (1/24 units) of the primitive lattice in the new basis, None if not /24."""
    if _DEN % det:
        return None
    cols = adj * (_DEN // det)
    found = {(0, 0, 0)}
    frontier = [(0, 0, 0)]
    while frontier:
        new = []
        for t in frontier:
            for k in range(3):
                s = (int(t[0] + cols[0, k]) % _DEN, int(t[1] + cols[1, k]) % _DEN, int(t[2] + cols[2, k]) % _DEN)
                if s not in found:
                    found.add(s)
                    new.append(s)
        frontier = new
    return frozenset(found)


def _conjugate(group_mats: np.ndarray, P: np.ndarray, adj: np.ndarray, det: int) -> frozenset[Rot] | None:
    """{P^-1 R P} as integer rotations, None if any is not integral."""
    m = np.einsum("ij,njk,kl->nil", adj, group_mats, P)
    if np.any(m % det):
        return None
    return frozenset(tuple(int(v) for v in row) for row in (m // det).reshape(-1, 9))


def matching_types(P: np.ndarray, group_mats: np.ndarray, symbols: tuple[str, ...]) -> list[str]:
    """Bravais types whose reference holohedry and centring P^-1 H P and P reproduce."""
    det = int(round(np.linalg.det(P)))
    if det <= 0:
        return []
    adj = _adjugate(P)
    centring = _centring(adj, det)
    ok = [s for s in symbols if reference_centring(s) == centring]
    if not ok:
        return []
    conj = _conjugate(group_mats, P, adj, det)
    return [s for s in ok if conj == reference_rotations(s)]


def _plane_vectors(h: np.ndarray, G: np.ndarray) -> np.ndarray:
    """Lattice vectors x (small components) with h.x = 0, shortest first."""
    sel = _BOX[_BOX @ h == 0]
    lengths = np.einsum("ni,ij,nj->n", sel, G, sel)
    return sel[np.argsort(lengths, kind="stable")]


def _plane_basis(h: np.ndarray, G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    vs = _plane_vectors(h, G)
    p = vs[0]
    q = next(v for v in vs if np.any(np.cross(p, v)))
    return p, q


def _elements(group: frozenset[Rot], tr: int) -> list[Rot]:
    return sorted(r for r in group if trace(r) == tr and r != (1, 0, 0, 0, 1, 0, 0, 0, 1))


def _unique_axes(rots: list[Rot]) -> list[np.ndarray]:
    axes: list[np.ndarray] = []
    for r in rots:
        u = axis_of(r)
        if not any(np.array_equal(u, v) for v in axes):
            axes.append(u)
    return axes


def _monoclinic(group: frozenset[Rot], G: np.ndarray) -> list[np.ndarray]:
    (r2,) = _elements(group, -1)
    u, h = axis_of(r2), reciprocal_axis_of(r2)
    p, q = _plane_basis(h, G)
    plane = np.array([i * p + j * q for i in range(-2, 3) for j in range(-2, 3) if (i, j) != (0, 0)])
    ia, ic = np.nonzero(~np.eye(len(plane), dtype=bool))
    out = []
    for b in (u, -u):
        det = np.einsum("ni,ni->n", plane[ia], np.cross(np.broadcast_to(b, plane[ic].shape), plane[ic]))
        for k in np.nonzero((det == 1) | (det == 2))[0]:
            out.append(np.column_stack([plane[ia[k]], b, plane[ic[k]]]))
    return out


def _orthogonal_triples(axes: list[np.ndarray]) -> list[np.ndarray]:
    out = []
    for perm in itertools.permutations(axes, 3):
        for signs in itertools.product((1, -1), repeat=3):
            out.append(np.column_stack([s * v for s, v in zip(signs, perm)]))
    return out


def _principal(group: frozenset[Rot], main_trace: int, step_trace: int) -> list[np.ndarray]:
    """c along the principal axis, a along an in-plane two-fold, b = R a (R of trace step_trace)."""
    main = _elements(group, main_trace)
    steps = _elements(group, step_trace)
    u = axis_of(main[0])
    h = reciprocal_axis_of(main[0])
    in_plane = [axis_of(r) for r in _elements(group, -1) if axis_of(r) @ h == 0]
    out = []
    for a0 in in_plane:
        for a in (a0, -a0):
            for r in steps:
                b = as_matrix(r) @ a
                for c in (u, -u):
                    out.append(np.column_stack([a, b, c]))
    return out


def candidates(group: frozenset[Rot], family: str, G: np.ndarray) -> list[np.ndarray]:
    """Candidate conventional bases (integer P, primitive -> conventional)."""
    if family == "a":
        return [np.eye(3, dtype=np.int64)]
    if family == "m":
        return _monoclinic(group, G)
    if family == "o":
        return _orthogonal_triples(_unique_axes(_elements(group, -1)))
    if family == "t":
        return _principal(group, 1, 1)
    if family == "hP":
        return _principal(group, 2, 0)
    if family == "hR":
        return _principal(group, 0, 0)
    if family == "c":
        return _orthogonal_triples(_unique_axes(_elements(group, 1)))
    raise ValueError(family)


def conventional_settings(group: frozenset[Rot], G: np.ndarray) -> list[Conventional]:
    """All (type, P) conventional settings of `group` (empty if it is no Bravais holohedry)."""
    family = family_of(group)
    if family is None:
        return []
    mats = np.array([as_matrix(r) for r in sorted(group)], dtype=np.int64)
    out = []
    for P in candidates(group, family, G):
        P = np.asarray(P, dtype=np.int64)
        out.extend(Conventional(symbol, P) for symbol in matching_types(P, mats, FAMILY_TYPES[family]))
    return out


def cell_of_metric(G: np.ndarray) -> tuple[float, float, float, float, float, float]:
    """(a, b, c, alpha, beta, gamma) from a real-space metric tensor."""
    lengths = np.sqrt(np.diag(G))
    cos = [G[1, 2] / (lengths[1] * lengths[2]), G[0, 2] / (lengths[0] * lengths[2]), G[0, 1] / (lengths[0] * lengths[1])]
    angles = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    return (*(float(v) for v in lengths), *(float(v) for v in angles))  # type: ignore[return-value]


def _physical_key(conv: Conventional, G: np.ndarray, best_monoclinic_beta: bool) -> tuple:
    a, b, c, _al, beta, _ga = cell_of_metric(conv.P.T @ G @ conv.P)
    if conv.bravais in ("mP", "mC", "mI"):
        centring = {"mP": 0, "mC": 0, "mI": 1}[conv.bravais]
        if conv.bravais == "mI" and not best_monoclinic_beta:
            return (1,)
        return (0, round(abs(beta - 90.0), 6), centring, a > c and conv.bravais == "mP", beta < 90.0)
    if conv.bravais == "oC":
        return (0, a > b)
    if conv.bravais in ("oP", "oF", "oI"):
        return (0, a > b or b > c)
    return (0,)


def _closeness_key(P_inp: np.ndarray) -> tuple:
    return (-int(np.trace(P_inp)), tuple(int(v) for v in (-P_inp).reshape(9)))


def _similar(cell1: tuple, cell2: tuple, rel_length: float = 0.01, abs_angle: float = 1.0) -> bool:
    return all(abs(x - y) <= rel_length * max(x, y) for x, y in zip(cell1[:3], cell2[:3])) and all(
        abs(x - y) <= abs_angle for x, y in zip(cell1[3:], cell2[3:])
    )


def best_setting(
    settings: list[Conventional], G_red: np.ndarray, P_inp_red: np.ndarray, best_monoclinic_beta: bool = True
) -> Conventional | None:
    """The best cell among equivalent settings, with P relative to the *input* basis.

    As cctbx: the input basis itself is used when it is a reference setting of the same
    group and its cell is similar to the best cell (1 % lengths, 1 degree angles).
    """
    if not settings:
        return None
    in_input = [Conventional(s.bravais, P_inp_red @ s.P) for s in settings]
    G_inp = np.linalg.inv(P_inp_red).T @ G_red @ np.linalg.inv(P_inp_red)
    keyed = [
        (_physical_key(s, G_inp, best_monoclinic_beta), _closeness_key(s.P), i) for i, s in enumerate(in_input)
    ]
    keyed.sort()
    if keyed[0][0][0] != 0:
        return None
    best = in_input[keyed[0][2]]
    identity = [s for s in in_input if np.array_equal(s.P, np.eye(3, dtype=np.int64)) and s.bravais == best.bravais]
    if identity and _similar(cell_of_metric(best.P.T @ G_inp @ best.P), cell_of_metric(G_inp)):
        return identity[0]
    return best


__all__ = ["Conventional", "best_setting", "candidates", "cell_of_metric", "conventional_settings", "family_of"]
