"""Candidate bases from real-space vectors, Niggli reduction, non-primitive test (algorithms.md 4.4).

Change of basis convention (algorithms.md 1.6): [a' b' c'] = [a b c] P, h' = P^T h,
A' = A (P^T)^-1. gemmi's GruberVector(track_change_of_basis=True) gives P as the rotation
part of `change_of_basis` (checked by tests/unit/algorithms/indexing/test_basis.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import gemmi
import numpy as np

from braggflow.model import Crystal


def niggli_reduce(crystal: Crystal) -> tuple[Crystal, np.ndarray]:
    """(Niggli-reduced P1 crystal, P) with [a' b' c'] = [a b c] P, det P = 1."""
    gv = gemmi.GruberVector(crystal.unit_cell, None, True)
    gv.niggli_reduce(epsilon=1e-5 * max(crystal.unit_cell.a, 1.0) ** 2, iteration_limit=1000)
    op = gv.change_of_basis
    P = np.array(op.rot, dtype=np.float64) / op.DEN
    return crystal.change_basis(P), P


def _angle(u: np.ndarray, v: np.ndarray) -> float:
    return float(np.arccos(np.clip(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v)), -1, 1)))


def candidate_crystals(vectors: np.ndarray, *, max_combinations: int | None = None,
                       min_cell_volume: float = 25.0) -> Iterator[Crystal]:
    """Niggli-reduced P1 crystals from triples of candidate vectors (best combinations first)."""
    n = min(len(vectors), 100)
    vecs = np.asarray(vectors[:n], dtype=np.float64)
    triples = [(i, j, k) for i, j, k in itertools.product(range(n), repeat=3) if i < j < k]
    triples.sort(key=lambda t: (t[0] ** 2 + t[1] ** 2 + t[2] ** 2, t))
    if max_combinations is not None:
        triples = triples[:max_combinations]
    min_angle, half_pi = np.radians(20.0), np.pi / 2
    for i, j, k in triples:
        a, b, c = vecs[i].copy(), vecs[j].copy(), vecs[k].copy()
        gamma = _angle(a, b)
        if gamma < min_angle or np.pi - gamma < min_angle:
            continue
        if gamma < half_pi:
            b = -b
        axb = np.cross(a, b)
        if abs(half_pi - _angle(axb, c)) < min_angle:
            continue
        if _angle(b, c) < half_pi:
            c = -c
        if np.dot(np.cross(a, b), c) < 0:
            a, b, c = -a, -b, -c
        crystal, _ = niggli_reduce(Crystal.from_real_space_vectors(a, b, c))
        cell = crystal.unit_cell
        if cell.volume > cell.a * cell.b * cell.c / 100 and cell.volume >= min_cell_volume:
            yield crystal


def _centring_translations() -> list[tuple[np.ndarray, int]]:
    ts = []
    for denom in (2, 3):
        for t in itertools.product(range(denom), repeat=3):
            if any(t) and np.gcd.reduce(list(t) + [denom]) == 1:
                ts.append((np.array(t, dtype=np.float64) / denom, denom))
    return ts


_TRANSLATIONS = _centring_translations()


def smaller_basis_for_absences(hkl: np.ndarray, threshold: float) -> np.ndarray | None:
    """P (det < 1) to a smaller cell if more than `threshold` of the indices obey a centring
    condition h . t = integer for a fractional translation t, else None."""
    if len(hkl) == 0:
        return None
    h = hkl.astype(np.float64)
    best, best_frac, denom = None, threshold, 2
    for t, d in _TRANSLATIONS:
        x = h @ t
        frac = float(np.mean(np.abs(x - np.rint(x)) < 1e-6))
        if frac > best_frac:
            best, best_frac, denom = t, frac, d
    if best is None:
        return None
    if not np.any(np.isclose(best, 1.0 / denom)):
        best = np.mod(-best, 1.0)
    col = int(np.nonzero(np.isclose(best, 1.0 / denom))[0][0])
    P = np.eye(3)
    P[:, col] = best
    return P


__all__ = ["candidate_crystals", "niggli_reduce", "smaller_basis_for_absences"]
