"""1D FFT basis-vector search (Steller, Bolotovsky & Rossmann 1997; algorithms.md 4.3).

For each direction t on a hemisphere (~7000 at 0.029 rad) the rlps are projected on t and
histogrammed; the FFT of that 1D density peaks at the real-space repeat L along t when t is
a lattice direction. The strongest directions (peak height over the zero-frequency term)
give candidate vectors L t. Memory is O(directions x bins), far less than the 3D grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from braggflow.algorithms.indexing.directions import hemisphere_directions
from braggflow.algorithms.indexing.params import FFT1DParams
from braggflow.algorithms.indexing.vectors import CandidateVectors, select_candidate_vectors

DEFAULT_GRID = 0.029
N_BINS = 256
MAX_SPOTS = 20000
N_KEEP = 300
CHUNK = 128


@dataclass(frozen=True)
class FFT1DResult:
    candidates: CandidateVectors
    d_min: float
    n_used: int


def fft1d_search(rlp: np.ndarray, max_cell: float, params: FFT1DParams, *, min_cell: float = 3.0,
                 seed: int = 42) -> FFT1DResult:
    """Candidate real-space vectors from 1D FFTs of projected rlps."""
    norms = np.linalg.norm(rlp, axis=1)
    d_min = max(5.0 * max_cell / N_BINS, 1.0 / norms.max())
    use = rlp[norms <= 1.0 / d_min]
    if len(use) > MAX_SPOTS:
        use = use[np.random.default_rng(seed).choice(len(use), MAX_SPOTS, replace=False)]
    n_used = len(use)
    b_iso = -4.0 * d_min**2 * np.log(0.05)
    weight = np.exp(-b_iso * np.einsum("ij,ij->i", use, use) / 4.0)
    dirs = hemisphere_directions(params.characteristic_grid or DEFAULT_GRID)
    delta = 2.0 / (N_BINS * d_min)  # bin width in 1/A; the FFT frequency k is a repeat of k/(N delta) A
    repeat = np.arange(N_BINS // 2 + 1) / (N_BINS * delta)
    k_ok = (repeat > min_cell) & (repeat < 2.0 * max_cell)
    best_k = np.zeros(len(dirs), dtype=np.int64)
    best_s = np.zeros(len(dirs))
    for i in range(0, len(dirs), CHUNK):
        t = dirs[i:i + CHUNK]
        x = np.rint(use @ t.T / delta).astype(np.int64) + N_BINS // 2  # (n, m)
        x = np.clip(x, 0, N_BINS - 1)
        m = t.shape[0]
        flat = (np.arange(m)[None, :] * N_BINS + x).ravel()
        dens = np.bincount(flat, weights=np.repeat(weight, m), minlength=m * N_BINS).reshape(m, N_BINS)
        amp = np.abs(np.fft.rfft(dens, axis=1))
        amp[:, ~k_ok] = 0.0
        k = np.argmax(amp, axis=1)
        best_k[i:i + CHUNK] = k
        best_s[i:i + CHUNK] = amp[np.arange(m), k] / np.maximum(dens.sum(axis=1), 1e-12)
    order = np.argsort(-best_s, kind="stable")[:N_KEEP]
    vectors = dirs[order] * repeat[best_k[order]][:, None]
    cands = select_candidate_vectors(vectors, best_s[order], min_cell=min_cell, max_cell=max_cell)
    return FFT1DResult(cands, d_min, n_used)


__all__ = ["FFT1DResult", "fft1d_search"]
