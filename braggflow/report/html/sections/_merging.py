"""Merging statistics per resolution bin, small enough for the report: multiplicity,
completeness, merged <I/sigma>, CC1/2 (random half split), <I> for a Wilson plot and the
anomalous <|dI|/sigma(dI)>. Symmetry from gemmi (CCP4 ASU)."""

from __future__ import annotations

from dataclasses import dataclass

import gemmi
import numpy as np

from braggflow.algorithms.merging.unmerged import asu_and_isym

__all__ = ["asu_and_isym", "ResolutionStatistics", "merging_by_resolution", "wilson_b"]


@dataclass(frozen=True)
class ResolutionStatistics:
    """Per bin arrays (length n_bins); bins equal in reciprocal volume, low resolution first."""

    inv_d2_edges: np.ndarray
    n_obs: np.ndarray
    n_unique: np.ndarray
    n_possible: np.ndarray
    completeness: np.ndarray  # percent
    multiplicity: np.ndarray
    i_over_sigma: np.ndarray  # merged <I/sigma(I)>
    mean_i: np.ndarray
    cc_half: np.ndarray
    anom_signal: np.ndarray  # <|I+ - I-| / sigma>, acentric pairs
    n_anom_pairs: np.ndarray

    @property
    def inv_d2_centres(self) -> np.ndarray:
        return 0.5 * (self.inv_d2_edges[:-1] + self.inv_d2_edges[1:])


def _groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    packed = (keys[:, 0].astype(np.int64) + 1024) * 4194304 + (keys[:, 1].astype(np.int64) + 1024) * 2048 + (keys[:, 2].astype(np.int64) + 1024)
    if keys.shape[1] > 3:
        packed = packed * 2 + keys[:, 3]
    _, first, inverse = np.unique(packed, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


def _merge(inverse: np.ndarray, m: int, intensity: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w = 1.0 / sigma**2
    sw = np.bincount(inverse, weights=w, minlength=m)
    mean = np.bincount(inverse, weights=w * intensity, minlength=m) / sw
    return mean, 1.0 / np.sqrt(sw), np.bincount(inverse, minlength=m)


def _half_means(inverse: np.ndarray, n: np.ndarray, intensity: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((rng.random(len(inverse)), inverse))
    starts = np.concatenate([[0], np.cumsum(n)[:-1]])
    rank = np.empty(len(inverse), dtype=np.int64)
    rank[order] = np.arange(len(inverse)) - starts[inverse[order]]
    first_half = rank < (n[inverse] // 2)
    m = len(n)
    halves = []
    for sel in (first_half, ~first_half):
        cnt = np.bincount(inverse[sel], minlength=m)
        s = np.bincount(inverse[sel], weights=intensity[sel], minlength=m)
        with np.errstate(invalid="ignore", divide="ignore"):
            halves.append(np.where(cnt > 0, s / cnt, np.nan))
    return halves[0], halves[1]


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return float("nan")
    x, y = x[ok] - x[ok].mean(), y[ok] - y[ok].mean()
    den = np.sqrt(np.sum(x * x) * np.sum(y * y))
    return float(np.sum(x * y) / den) if den > 0 else float("nan")


def _per_bin(bins: np.ndarray, n_bins: int, values: np.ndarray) -> np.ndarray:
    ok = np.isfinite(values)
    n = np.bincount(bins[ok], minlength=n_bins)
    s = np.bincount(bins[ok], weights=values[ok], minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / n, np.nan)


def merging_by_resolution(hkl: np.ndarray, intensity: np.ndarray, sigma: np.ndarray, cell: gemmi.UnitCell,
                          space_group: gemmi.SpaceGroup, n_bins: int = 10, seed: int = 0) -> ResolutionStatistics:
    """Statistics of unmerged scaled observations (rows with sigma > 0) in n_bins resolution bins."""
    ok = np.isfinite(intensity) & np.isfinite(sigma) & (sigma > 0) & np.any(hkl != 0, axis=1)
    hkl, intensity, sigma = hkl[ok], intensity[ok], sigma[ok]
    asu, isym = asu_and_isym(hkl, space_group)
    first, inverse = _groups(asu)
    m = len(first)
    mean, sig, n = _merge(inverse, m, intensity, sigma)
    d = np.asarray(cell.calculate_d_array(asu[first]), dtype=np.float64)
    s_lo, s_hi = 1.0 / d.max(), 1.0 / d.min()
    edges = np.cbrt(np.linspace(s_lo**3, s_hi**3, n_bins + 1)) ** 2
    bins = np.clip(np.searchsorted(edges, 1.0 / d**2, side="right") - 1, 0, n_bins - 1)
    possible = gemmi.make_miller_array(cell, space_group, float(d.min()) * (1 - 1e-9), float(d.max()) * (1 + 1e-9), unique=True)
    pd = np.asarray(cell.calculate_d_array(possible), dtype=np.float64)
    n_possible = np.bincount(np.clip(np.searchsorted(edges, 1.0 / pd**2, side="right") - 1, 0, n_bins - 1), minlength=n_bins)
    n_unique = np.bincount(bins, minlength=n_bins)
    n_obs = np.bincount(bins, weights=n, minlength=n_bins)
    half_a, half_b = _half_means(inverse, n, intensity, np.random.default_rng(seed))
    cc = np.array([_pearson(half_a[bins == k], half_b[bins == k]) for k in range(n_bins)])
    anom, n_pairs = _anomalous(asu, isym, intensity, sigma, space_group, cell, edges)
    with np.errstate(invalid="ignore", divide="ignore"):
        return ResolutionStatistics(
            inv_d2_edges=edges, n_obs=n_obs, n_unique=n_unique, n_possible=n_possible,
            completeness=np.where(n_possible > 0, 100.0 * n_unique / n_possible, np.nan),
            multiplicity=np.where(n_unique > 0, n_obs / n_unique, np.nan),
            i_over_sigma=_per_bin(bins, n_bins, mean / sig), mean_i=_per_bin(bins, n_bins, mean),
            cc_half=cc, anom_signal=anom, n_anom_pairs=n_pairs,
        )


def _anomalous(asu: np.ndarray, isym: np.ndarray, intensity: np.ndarray, sigma: np.ndarray, space_group: gemmi.SpaceGroup,
               cell: gemmi.UnitCell, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n_bins = len(edges) - 1
    plus = (isym % 2 == 1).astype(np.int64)
    first, inverse = _groups(np.column_stack([asu, plus]))
    mean, sig, _ = _merge(inverse, len(first), intensity, sigma)
    keys = asu[first]
    is_plus = plus[first] == 1
    centric = np.asarray(space_group.operations().centric_flag_array(keys), dtype=bool)
    _, pair_first, pair_inv = np.unique(
        (keys[:, 0].astype(np.int64) + 1024) * 4194304 + (keys[:, 1].astype(np.int64) + 1024) * 2048 + keys[:, 2] + 1024,
        return_index=True, return_inverse=True)
    pair_inv = pair_inv.reshape(-1)
    k = len(pair_first)
    i_plus, i_minus = np.full(k, np.nan), np.full(k, np.nan)
    s_plus, s_minus = np.full(k, np.nan), np.full(k, np.nan)
    i_plus[pair_inv[is_plus]], s_plus[pair_inv[is_plus]] = mean[is_plus], sig[is_plus]
    i_minus[pair_inv[~is_plus]], s_minus[pair_inv[~is_plus]] = mean[~is_plus], sig[~is_plus]
    with np.errstate(invalid="ignore"):
        ratio = np.abs(i_plus - i_minus) / np.sqrt(s_plus**2 + s_minus**2)
    ratio[centric[pair_first]] = np.nan
    d = np.asarray(cell.calculate_d_array(keys[pair_first]), dtype=np.float64)
    bins = np.clip(np.searchsorted(edges, 1.0 / d**2, side="right") - 1, 0, n_bins - 1)
    return _per_bin(bins, n_bins, ratio), np.bincount(bins[np.isfinite(ratio)], minlength=n_bins)


def wilson_b(inv_d2: np.ndarray, mean_i: np.ndarray, d_max_fit: float = 4.5) -> tuple[float, float] | None:
    """(B, ln K) of ln<I> = ln K - B/(2 d^2) fitted to bins with d < d_max_fit (all bins if < 3)."""
    ok = np.isfinite(mean_i) & (mean_i > 0) & np.isfinite(inv_d2)
    high = ok & (inv_d2 > 1.0 / d_max_fit**2)
    use = high if high.sum() >= 3 else ok
    if use.sum() < 2:
        return None
    slope, intercept = np.polyfit(inv_d2[use], np.log(mean_i[use]), 1)
    return float(-2.0 * slope), float(intercept)
