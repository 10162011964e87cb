"""3D FFT basis-vector search (algorithms.md 4.3, Bricogne 1986 / Campbell 1998).

The rlps are put on an N^3 Cartesian grid (spacing 2/(N d_min), set not added, weighted by
exp(-B |rlp|^2 / 4)); |FFT|^2 is the Patterson-like real-space map whose peaks are lattice
vectors. Peaks are found by thresholding at rmsd_cutoff x rms and labelling connected
regions with periodic boundaries; their centres of mass, in Angstrom, are the candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft
from scipy import ndimage

from braggflow.algorithms.indexing.params import FFT3DParams
from braggflow.algorithms.indexing.vectors import CandidateVectors, select_candidate_vectors
from braggflow.errors import StageFailed


def fft_friendly_size(n: int, max_prime: int = 5) -> int:
    """Smallest m >= n whose prime factors are all <= max_prime."""
    primes = [p for p in (2, 3, 5, 7, 11, 13) if p <= max_prime]
    m = max(int(n), 1)
    while True:
        k = m
        for p in primes:
            while k % p == 0:
                k //= p
        if k == 1:
            return m
        m += 1


@dataclass(frozen=True)
class FFT3DResult:
    candidates: CandidateVectors
    d_min: float
    n_points: int
    n_used: int  # centroids placed on the grid
    used: np.ndarray  # (n,) bool, rlps on the grid


def fft3d_d_min(rlp: np.ndarray, max_cell: float, n_points: int) -> float:
    """Auto d_min = max(5 max_cell / N, smallest d of the spots)."""
    norms = np.linalg.norm(rlp, axis=1)
    d_spots = 1.0 / norms[norms > 0].max() if np.any(norms > 0) else np.inf
    return max(5.0 * max_cell / n_points, float(d_spots))


def grid_rlps(rlp: np.ndarray, d_min: float, n_points: int, b_iso: float) -> tuple[np.ndarray, np.ndarray]:
    """(grid (N,N,N) float32, used (n,) bool): set each rlp node to exp(-B|rlp|^2/4)."""
    grid = np.zeros((n_points,) * 3, dtype=np.float32)
    norms_sq = np.einsum("ij,ij->i", rlp, rlp)
    delta = 2.0 / (n_points * d_min)
    node = np.rint(rlp / delta).astype(np.int64) + n_points // 2
    used = (norms_sq <= (1.0 + 1e-9) / d_min**2) & np.all((node >= 0) & (node < n_points), axis=1)
    t = np.exp(-b_iso * norms_sq[used] / 4.0).astype(np.float32)
    grid[node[used, 0], node[used, 1], node[used, 2]] = t
    return grid, used


def power_map(grid: np.ndarray, workers: int = -1) -> np.ndarray:
    """Re(FFT(grid))^2 on the full N^3 grid (float32), from a half-complex transform.

    As DIALS (fft3d.py), the map is the squared real part, not |F|^2: its background has a
    smaller spread relative to the lattice peaks, which matters with few spots.
    """
    n = grid.shape[0]
    half = scipy.fft.rfftn(grid, workers=workers)
    p_half = np.square(half.real, dtype=np.float32)
    del half
    full = np.empty(grid.shape, dtype=np.float32)
    m = p_half.shape[2]
    full[:, :, :m] = p_half
    # P(-k) = P(k): full[i, j, k] = p_half[-i, -j, n - k] for k >= m, i.e. flip all three
    # axes of p_half[:, :, 1:n-m+1] and roll the first two by one (index -i mod n)
    if n > m:
        mirrored = np.flip(p_half[:, :, 1:n - m + 1], axis=(0, 1, 2))
        full[:, :, m:] = np.roll(mirrored, shift=(1, 1), axis=(0, 1))
    return full


def find_peaks(power: np.ndarray, rmsd_cutoff: float, peak_volume_cutoff: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """(sites_frac (k, 3) in [-0.5, 0.5), volumes (k,)) of the periodic peak regions."""
    n = power.shape[0]
    mean = float(power.mean(dtype=np.float64))
    rms = float(np.sqrt(np.mean(np.square(power - mean, dtype=np.float64))))
    binary = power >= rmsd_cutoff * rms
    labels, n_lab = ndimage.label(binary)
    if n_lab == 0:
        return np.zeros((0, 3)), np.zeros(0, dtype=np.int64)
    labels = _merge_periodic(labels, n_lab)
    coords = np.nonzero(labels)
    lab = labels[coords]
    uniq, inv = np.unique(lab, return_inverse=True)
    if len(uniq) < 4:
        return np.zeros((0, 3)), np.zeros(0, dtype=np.int64)
    pts = np.column_stack(coords).astype(np.float64)
    first = np.full(len(uniq), -1, dtype=np.int64)
    first[inv[::-1]] = np.arange(len(inv))[::-1]
    ref = pts[first]
    delta = pts - ref[inv]
    delta -= n * np.round(delta / n)
    vol = np.bincount(inv, minlength=len(uniq))
    com = ref + np.column_stack([np.bincount(inv, weights=delta[:, k], minlength=len(uniq)) for k in range(3)]) / vol[:, None]
    q1, q3 = np.percentile(vol, [25, 75])
    normal = vol <= q3 + 5 * (q3 - q1)
    vmax = vol[normal].max() if np.any(normal) else vol.max()
    keep = vol > int(peak_volume_cutoff * vmax)
    frac = com[keep] / n
    frac = frac - np.floor(frac + 0.5)
    return frac, vol[keep]


def _merge_periodic(labels: np.ndarray, n_lab: int) -> np.ndarray:
    """Relabel so regions touching across the periodic faces share one label."""
    parent = np.arange(n_lab + 1)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for axis in range(3):
        a = np.take(labels, 0, axis=axis).ravel()
        b = np.take(labels, -1, axis=axis).ravel()
        both = (a > 0) & (b > 0)
        for x, y in set(zip(a[both].tolist(), b[both].tolist())):
            rx, ry = root(x), root(y)
            if rx != ry:
                parent[max(rx, ry)] = min(rx, ry)
    roots = np.array([root(i) for i in range(n_lab + 1)])
    return roots[labels]


def fft3d_search(rlp: np.ndarray, max_cell: float, params: FFT3DParams, *, min_cell: float = 3.0,
                 workers: int = -1) -> FFT3DResult:
    """Candidate real-space basis vectors (A) from the 3D FFT of the rlp density; `workers`
    threads for the FFT (indexing.nproc; -1: all cores)."""
    n_points = fft_friendly_size(params.reciprocal_space_grid.n_points)
    d_min = params.reciprocal_space_grid.d_min or fft3d_d_min(rlp, max_cell, n_points)
    b_iso = params.b_iso if params.b_iso is not None else -4.0 * d_min**2 * np.log(0.05)
    grid, used = grid_rlps(rlp, d_min, n_points, b_iso)
    n_used = int(np.count_nonzero(grid))
    power = power_map(grid, workers)
    del grid
    sites, volumes = find_peaks(power, params.rmsd_cutoff, params.peak_volume_cutoff)
    del power
    if len(sites) < 4:
        raise StageFailed(
            f"indexing: fft3d peak search found too few peaks ({len(sites)}) with {n_used} "
            f"centroids used (d_min {d_min:.2f} A, max_cell {max_cell:.1f} A); check max_cell "
            "(indexing.max_cell=...), the beam centre, or try indexing.method=fft1d"
        )
    vectors = sites * (n_points * d_min / 2.0)
    cands = select_candidate_vectors(vectors, volumes.astype(np.float64), min_cell=min_cell, max_cell=max_cell)
    return FFT3DResult(cands, d_min, n_points, n_used, used)


__all__ = ["FFT3DResult", "fft3d_d_min", "fft3d_search", "fft_friendly_size", "find_peaks", "grid_rlps", "power_map"]
