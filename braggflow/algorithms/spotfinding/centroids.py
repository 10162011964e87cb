"""Per-spot statistics from labelled strong pixels: centroid, variance, intensity, bbox, peak.

Everything is computed from the pixels of each spot in (z, y, x) raster order, so the numbers
depend only on the set of pixels and never on how the sweep was split into blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ONE_TWELFTH = 1.0 / 12.0
PER_SPOT = ("first_key", "n_signal", "bbox", "intensity", "centroid_px", "variance_px", "peak_px")


@dataclass(frozen=True, slots=True)
class SpotPixels:
    """The pixels of n spots, ragged: spot i owns keys/values[offsets[i]:offsets[i+1]].

    keys : (p,) int64 linear keys (z*ny + y)*nx + x in raster order inside each spot
    values : (p,) float32 counts (what a DIALS shoebox stores)
    """

    offsets: np.ndarray
    keys: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)

    def select(self, sel: np.ndarray) -> SpotPixels:
        from braggflow.model.shoebox import ragged_index

        rows = np.arange(len(self))[np.asarray(sel)]
        sizes = np.diff(self.offsets)[rows]
        pix = ragged_index(self.offsets[:-1][rows], sizes)
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        return SpotPixels(offsets, self.keys[pix], self.values[pix])


def empty_pixels() -> SpotPixels:
    return SpotPixels(np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))


def concat_pixels(parts: list[SpotPixels]) -> SpotPixels:
    if not parts:
        return empty_pixels()
    if len(parts) == 1:
        return parts[0]
    sizes = np.concatenate([np.diff(p.offsets) for p in parts])
    return SpotPixels(
        np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        np.concatenate([p.keys for p in parts]),
        np.concatenate([p.values for p in parts]),
    )


@dataclass(frozen=True, slots=True)
class SpotStats:
    """Per-spot arrays for n spots (one panel or several).

    first_key : (n,) int64   linear key (z*ny + y)*nx + x of the spot's first pixel
    n_signal : (n,) int64    number of pixels
    bbox : (n, 6) int64      x0, x1, y0, y1, z0, z1 (half-open; z in local frame units)
    intensity : (n,) float64 sum of counts
    centroid_px : (n, 3)     x, y, z of the count-weighted pixel-centre mean
    variance_px : (n, 3)     unbiased variance / S + 1/12 (1/12 for a single-pixel spot)
    peak_px : (n, 3)         centre of the first pixel with the maximum count
    pixels : the spots' pixels (for shoeboxes) when asked for, else None
    """

    first_key: np.ndarray
    n_signal: np.ndarray
    bbox: np.ndarray
    intensity: np.ndarray
    centroid_px: np.ndarray
    variance_px: np.ndarray
    peak_px: np.ndarray
    pixels: SpotPixels | None = None

    def __len__(self) -> int:
        return int(self.n_signal.shape[0])

    def select(self, sel: np.ndarray) -> SpotStats:
        pixels = None if self.pixels is None else self.pixels.select(sel)
        return SpotStats(*(getattr(self, f)[sel] for f in PER_SPOT), pixels=pixels)


def empty_stats(with_pixels: bool = False) -> SpotStats:
    z = np.zeros(0, dtype=np.int64)
    f = np.zeros((0, 3), dtype=np.float64)
    return SpotStats(
        z, z.copy(), np.zeros((0, 6), np.int64), np.zeros(0), f, f.copy(), f.copy(),
        pixels=empty_pixels() if with_pixels else None,
    )


def concat_stats(parts: list[SpotStats]) -> SpotStats:
    """One SpotStats of all parts (the part itself when there is only one; never mutated).

    Pixels are kept only when every part has them.
    """
    if not parts:
        return empty_stats()
    if len(parts) == 1:
        return parts[0]
    with_pixels = all(p.pixels is not None for p in parts)
    return SpotStats(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in PER_SPOT),
        pixels=concat_pixels([p.pixels for p in parts]) if with_pixels else None,
    )


def spot_stats(
    keys: np.ndarray, values: np.ndarray, labels: np.ndarray, height: int, width: int,
    *, with_pixels: bool = False,
) -> SpotStats:
    """Statistics of every label.

    Parameters
    ----------
    keys : (n,) int64 sorted linear pixel keys, key = (z*height + y)*width + x
    values : (n,) float64 pixel counts
    labels : (n,) int64 component labels 0..L-1, numbered by first pixel (as `label_pixels`)
    with_pixels : also keep every spot's pixels (`SpotStats.pixels`, for shoeboxes)
    """
    n_lab = int(labels.max()) + 1 if labels.size else 0
    if n_lab == 0:
        return empty_stats(with_pixels)
    order = np.argsort(labels, kind="stable")  # raster order kept inside each label
    keys, values, labels = keys[order], values[order], labels[order]
    frame = height * width
    coords = np.stack(
        [keys % width, (keys % frame) // width, keys // frame], axis=1
    ).astype(np.int64)
    starts = np.searchsorted(labels, np.arange(n_lab))
    n_signal = np.diff(np.append(starts, labels.size))
    s = np.bincount(labels, weights=values, minlength=n_lab)
    s2 = np.bincount(labels, weights=values * values, minlength=n_lab)
    centre = coords + 0.5
    centroid = np.empty((n_lab, 3))
    sum_dsq = np.empty((n_lab, 3))
    for a in range(3):
        centroid[:, a] = np.bincount(labels, weights=values * centre[:, a], minlength=n_lab) / s
        delta = centre[:, a] - centroid[labels, a]
        sum_dsq[:, a] = np.bincount(labels, weights=values * delta * delta, minlength=n_lab)
    denom = s * s - s2
    with np.errstate(divide="ignore", invalid="ignore"):
        unbiased = np.where(denom[:, None] > 0, sum_dsq * s[:, None] / denom[:, None], 0.0)
    variance = unbiased / s[:, None] + ONE_TWELFTH
    lo = np.minimum.reduceat(coords, starts, axis=0)
    hi = np.maximum.reduceat(coords, starts, axis=0) + 1
    bbox = np.stack([lo[:, 0], hi[:, 0], lo[:, 1], hi[:, 1], lo[:, 2], hi[:, 2]], axis=1)
    peak = _peak_index(values, labels, starts, n_lab)
    return SpotStats(
        first_key=keys[starts],
        n_signal=n_signal.astype(np.int64),
        bbox=bbox.astype(np.int64),
        intensity=s,
        centroid_px=centroid,
        variance_px=variance,
        peak_px=centre[peak],
        pixels=SpotPixels(
            np.append(starts, labels.size).astype(np.int64), keys, values.astype(np.float32)
        ) if with_pixels else None,
    )


def _peak_index(values, labels, starts, n_lab):
    """Index of the first maximum of each label (labels sorted, raster order inside)."""
    vmax = np.maximum.reduceat(values, starts)
    is_max = values == vmax[labels]
    idx = np.flatnonzero(is_max)
    first = np.searchsorted(labels[idx], np.arange(n_lab))
    return idx[first]


__all__ = ["SpotPixels", "SpotStats", "spot_stats", "concat_stats", "empty_stats"]
