"""Real-space grid search for a known cell (Gildea et al. 2014; algorithms.md 4.3 alternatives).

For each direction t on a hemisphere (spacing `characteristic_grid` rad) and each distinct
primitive cell length L, the vector v = L t scores sum_i cos(2 pi rlp_i . v): a real lattice
vector makes every rlp . v an integer. The best `max_vectors` distinct vectors are returned.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from braggflow.algorithms.indexing.directions import hemisphere_directions
from braggflow.algorithms.indexing.params import RealSpaceGridSearchParams
from braggflow.algorithms.indexing.vectors import CandidateVectors

MAX_SPOTS = 5000  # the score is a sum; a fixed random subset keeps the cost bounded
CHUNK = 2048


def real_space_grid_search(rlp: np.ndarray, lengths: list[float], params: RealSpaceGridSearchParams,
                           *, seed: int = 42, workers: int = 1) -> CandidateVectors:
    """Best-scoring real-space vectors (A) with the given lengths; the score chunks run in
    `workers` threads (numpy's matmul and cos release the GIL)."""
    if len(rlp) > MAX_SPOTS:
        rng = np.random.default_rng(seed)
        rlp = rlp[rng.choice(len(rlp), MAX_SPOTS, replace=False)]
    dirs = hemisphere_directions(params.characteristic_grid)
    vecs, scores = [], []
    two_pi_rlp_t = (2.0 * np.pi * rlp.T).astype(np.float32)  # phases < ~2000 rad: float32 is ample
    for L in lengths:
        v = dirs * L
        v32 = v.astype(np.float32)
        s = np.empty(len(v))

        def score(i: int, v32: np.ndarray = v32, s: np.ndarray = s) -> None:
            s[i:i + CHUNK] = np.cos(v32[i:i + CHUNK] @ two_pi_rlp_t).sum(axis=1, dtype=np.float64)

        starts = range(0, len(v), CHUNK)
        if workers > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(score, starts))
        else:
            for i in starts:
                score(i)
        vecs.append(v)
        scores.append(s)
    v = np.concatenate(vecs)
    s = np.concatenate(scores)
    order = np.argsort(-s, kind="stable")
    keep: list[int] = []
    cos_sep = np.cos(np.radians(5.0))
    for i in order:
        u = v[i] / np.linalg.norm(v[i])
        if all(abs(float(u @ (v[j] / np.linalg.norm(v[j])))) < cos_sep
               or abs(np.linalg.norm(v[j]) - np.linalg.norm(v[i])) > 0.05 * np.linalg.norm(v[i]) for j in keep):
            keep.append(int(i))
        if len(keep) >= params.max_vectors:
            break
    return CandidateVectors(v[keep], s[keep])


__all__ = ["real_space_grid_search"]
