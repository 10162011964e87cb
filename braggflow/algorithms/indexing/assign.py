"""Index assignment, method `simple` (algorithms.md 4.5).

For each lattice k: h_f = A_k^-1 rlp, h = round(h_f), eps^2 = |h_f - h|^2; a spot goes to the
lattice with the smallest eps^2 if eps <= hkl_tolerance and h != 0. Spots sharing a
(lattice, h) within pi/4 in phi keep only the one with the smallest eps^2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Assignment:
    miller_index: np.ndarray  # (n, 3) int32, (0,0,0) where unindexed
    lattice: np.ndarray  # (n,) int32, -1 where unindexed
    eps_sq: np.ndarray  # (n,) squared distance of h_f from h for the assigned lattice

    @property
    def indexed(self) -> np.ndarray:
        return self.lattice >= 0

    @property
    def n_indexed(self) -> int:
        return int(np.count_nonzero(self.lattice >= 0))


def assign_indices(rlp: np.ndarray, phi_rad: np.ndarray, A_list: list[np.ndarray], *,
                   hkl_tolerance: float = 0.3, eligible: np.ndarray | None = None,
                   imageset_id: np.ndarray | None = None) -> Assignment:
    """Assign Miller indices to rlps (n, 3) for lattices with setting matrices A_list.

    eligible : (n,) bool, only these rows may be indexed (e.g. d >= d_min).
    imageset_id : duplicates are only looked for within one imageset.
    """
    n = len(rlp)
    best_eps = np.full(n, np.inf)
    best_lat = np.full(n, -1, dtype=np.int32)
    best_hkl = np.zeros((n, 3), dtype=np.int32)
    for k, A in enumerate(A_list):
        hf = rlp @ np.linalg.inv(A).T
        h = np.rint(hf)
        eps = np.einsum("ij,ij->i", hf - h, hf - h)
        better = eps < best_eps
        best_eps[better] = eps[better]
        best_lat[better] = k
        best_hkl[better] = h[better].astype(np.int32)
    ok = (best_eps <= hkl_tolerance**2) & np.any(best_hkl != 0, axis=1)
    if eligible is not None:
        ok &= eligible
    best_lat[~ok] = -1
    best_hkl[~ok] = 0
    iset = np.zeros(n, dtype=np.int64) if imageset_id is None else np.asarray(imageset_id, dtype=np.int64)
    _remove_duplicates(best_hkl, best_lat, best_eps, phi_rad, iset)
    return Assignment(best_hkl, best_lat, np.where(best_lat >= 0, best_eps, np.inf))


def _remove_duplicates(hkl: np.ndarray, lat: np.ndarray, eps: np.ndarray, phi: np.ndarray,
                       iset: np.ndarray) -> None:
    idx = np.nonzero(lat >= 0)[0]
    if len(idx) < 2:
        return
    key = np.column_stack([iset[idx], lat[idx], hkl[idx]])
    order = np.lexsort(key.T[::-1])
    ks = key[order]
    same = np.all(ks[1:] == ks[:-1], axis=1)
    if not same.any():
        return
    starts = np.nonzero(np.concatenate([[True], ~same]))[0]
    ends = np.concatenate([starts[1:], [len(ks)]])
    for s, e in zip(starts, ends):
        if e - s < 2:
            continue
        rows = idx[order[s:e]]
        rows = rows[np.argsort(eps[rows], kind="stable")]
        kept: list[int] = []
        for r in rows:
            if any(abs(phi[r] - phi[q]) <= np.pi / 4 for q in kept):
                lat[r] = -1
                hkl[r] = 0
            else:
                kept.append(int(r))


def fit_A(hkl: np.ndarray, rlp: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares A (3, 3) with rlp ~ A h from indexed pairs (needs >= 3 independent h)."""
    h = hkl.astype(np.float64)
    w = np.ones(len(h)) if weights is None else weights
    hh = (h * w[:, None]).T @ h
    rh = (rlp * w[:, None]).T @ h
    return rh @ np.linalg.inv(hh)


__all__ = ["Assignment", "assign_indices", "fit_A"]
