"""Spot filters (size, peak-centroid separation) with the counts DIALS logs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from braggflow.algorithms.spotfinding.centroids import SpotStats


@dataclass(frozen=True, slots=True)
class FilterCounts:
    """n_extracted -> (- n_too_small - n_too_large) = n_centroids -> n_after_separation."""

    n_extracted: int
    n_too_small: int
    n_too_large: int
    n_centroids: int
    n_after_separation: int


def size_selection(n_signal: np.ndarray, min_spot_size: int, max_spot_size: int) -> np.ndarray:
    """True for spots with min_spot_size <= n_signal <= max_spot_size."""
    return (n_signal >= min_spot_size) & (n_signal <= max_spot_size)


def separation_selection(stats: SpotStats, max_separation: float) -> np.ndarray:
    """True where |peak - centroid| (3-D, px/frames) <= max_separation."""
    delta = stats.peak_px - stats.centroid_px
    return np.sqrt(np.sum(delta * delta, axis=1)) <= max_separation


def filter_spots(
    stats: SpotStats, *, min_spot_size: int, max_spot_size: int, max_separation: float
) -> tuple[np.ndarray, FilterCounts]:
    """Size filters then the peak-centroid filter, in DIALS' order.

    Returns the indices (into `stats`) of the spots kept and the counts for the log.
    """
    n = len(stats)
    too_small = int(np.count_nonzero(stats.n_signal < min_spot_size))
    too_large = int(np.count_nonzero(stats.n_signal > max_spot_size))
    sized = np.flatnonzero(size_selection(stats.n_signal, min_spot_size, max_spot_size))
    kept = sized[separation_selection(stats, max_separation)[sized]]
    return kept, FilterCounts(n, too_small, too_large, sized.size, kept.size)


__all__ = ["FilterCounts", "size_selection", "separation_selection", "filter_spots"]
