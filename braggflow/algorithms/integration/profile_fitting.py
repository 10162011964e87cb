"""Reference profiles in Kabsch's coordinate frame and how reflections are fitted with them.

A reference profile is a 2-D density on a (2G + 1)^2 grid in (c1, c2) (radians; G =
OVERSAMPLE x grid_size, step 4.5 sigma_b / (G + 0.5); each pixel sample is added to its
nearest cell and the profile is read back with bilinear interpolation, so it is smoothed
once), learned from strong, fully recorded reference reflections; its e3
(rocking) part is the Gaussian of the profile model (fraction of the rocking curve on each
frame), so the 3-D profile of a pixel on frame j is P2D(pixel) x f_j. Profiles sit on a
`regular_grid`: 3 x 3 detector regions per panel x ceil(scan width / scan_step) scan blocks.
Each reference is added to every profile with weight exp(-4 ln2 d^2) (d: distance to the
profile's position in grid steps; weights < 0.02 skipped); each reflection is fitted with
the nearest profile that learned from at least `MIN_REFERENCES` reflections.

Each pixel contributes its counts / Kabsch area at its centre, so the learned density is the
true profile convolved once with the pixel footprint; fitting reads that density at each
pixel centre times the pixel's Kabsch area, which is then the pixel integral of the true
profile (integrating over the pixel again would broaden the profile and inflate I).
Fitting is done per pixel, so
the pixel variances stay Poisson: I from iterated weighted least squares, variance
1/sum(p^2/v) plus the background-estimate term (or DIALS's |I| + |sum b|).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


__all__ = ["ReferenceGrid", "make_reference_grid", "profile_weights", "nearest_profile", "ReferenceProfiles",
           "finalize_profiles", "MIN_REFERENCES", "N_PRIME", "NSUB"]

MIN_REFERENCES = 10
N_PRIME = 4.5  # the grid reaches 1.5 x n_sigma (3) sigma_b
NSUB = 1  # pixel-centre samples: the learned density is already pixel-averaged (see docstring)
OVERSAMPLE = 2  # the grid is OVERSAMPLE x finer than DIALS's (2 grid_size + 1)^2 in (e1, e2)


@dataclass(frozen=True)
class ReferenceGrid:
    """Profile positions: xyz (m, 3) px/px/frame, panel (m,), cell size (3,) px/px/frames."""

    xyz: np.ndarray
    panel: np.ndarray
    cell: np.ndarray  # (n_panels, 3)
    grid_size: int
    step_rad: float

    @property
    def n_profiles(self) -> int:
        return len(self.xyz)

    @property
    def shape(self) -> tuple[int, int]:
        return (2 * self.grid_size + 1, 2 * self.grid_size + 1)


def make_reference_grid(image_sizes: np.ndarray, array_range: tuple[int, int], width_deg: float, *,
                        grid_method: str, scan_step_deg: float, grid_size: int, sigma_b_rad: float) -> ReferenceGrid:
    """Positions of the reference profiles (`single` = one per panel, else regular_grid)."""
    nf = array_range[1] - array_range[0]
    n_det = 1 if grid_method == "single" else 3
    n_scan = 1 if grid_method == "single" else max(1, int(math.ceil(abs(width_deg) * nf / scan_step_deg)))
    xyz, pan, cells = [], [], []
    for p, (nx, ny) in enumerate(image_sizes):
        cells.append((nx / n_det, ny / n_det, nf / n_scan))
        for k in range(n_scan):
            for j in range(n_det):
                for i in range(n_det):
                    xyz.append(((i + 0.5) * nx / n_det, (j + 0.5) * ny / n_det, array_range[0] + (k + 0.5) * nf / n_scan))
                    pan.append(p)
    half = OVERSAMPLE * grid_size
    step = N_PRIME * sigma_b_rad / (half + 0.5)
    return ReferenceGrid(np.array(xyz, dtype=float), np.array(pan, dtype=np.int64), np.array(cells, dtype=float),
                         half, step)


def _distances(grid: ReferenceGrid, xyz: np.ndarray, panel: np.ndarray) -> np.ndarray:
    """(n, m) distance in grid steps (inf for other panels)."""
    cell = grid.cell[panel]  # (n, 3)
    d = (xyz[:, None, :] - grid.xyz[None, :, :]) / cell[:, None, :]
    dist = np.sqrt(np.sum(d * d, axis=2))
    dist[panel[:, None] != grid.panel[None, :]] = np.inf
    return dist


def profile_weights(grid: ReferenceGrid, xyz: np.ndarray, panel: np.ndarray, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(targets, weights) (n, k): the k highest exp(-4 ln2 d^2) weights (-1 / 0 if < 0.02)."""
    dist = _distances(grid, xyz, panel)
    w = np.exp(-4.0 * math.log(2.0) * dist**2)
    k = min(k, grid.n_profiles)
    idx = np.argsort(-w, axis=1)[:, :k]
    wt = np.take_along_axis(w, idx, axis=1)
    idx = np.where(wt >= 0.02, idx, -1)
    wt = np.where(wt >= 0.02, wt, 0.0)
    return np.ascontiguousarray(idx, dtype=np.int64), np.ascontiguousarray(wt)


def nearest_profile(grid: ReferenceGrid, xyz: np.ndarray, panel: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Index of the nearest usable profile per reflection (-1 if none on its panel)."""
    if not np.any(usable):
        return np.full(len(xyz), -1, dtype=np.int64)
    out = np.empty(len(xyz), dtype=np.int64)
    for start in range(0, len(xyz), 20000):
        sl = slice(start, start + 20000)
        dist = _distances(grid, xyz[sl], panel[sl])
        dist[:, ~usable] = np.inf
        best = np.argmin(dist, axis=1)
        ok = np.isfinite(dist[np.arange(len(best)), best])
        out[sl] = np.where(ok, best, -1)
    return out


@dataclass(frozen=True)
class ReferenceProfiles:
    grid: ReferenceGrid
    density: np.ndarray  # (m, G, G), sum(density) * step^2 = 1
    n_references: np.ndarray  # (m,) references that contributed (weight >= 0.5 counted as 1)
    usable: np.ndarray  # (m,) bool


def finalize_profiles(grid: ReferenceGrid, num: np.ndarray, den: np.ndarray, counts: np.ndarray) -> ReferenceProfiles:
    """num/den -> densities normalised to unit integral (negatives kept), then negatives to 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        dens = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    total = dens.sum(axis=(1, 2)) * grid.step_rad**2  # noise in the tails averages out before clipping
    usable = (counts >= MIN_REFERENCES) & (total > 0)
    dens = np.where(total[:, None, None] > 0, dens / np.where(total > 0, total, 1.0)[:, None, None], 0.0)
    dens = np.maximum(dens, 0.0)
    return ReferenceProfiles(grid, np.ascontiguousarray(dens), counts, usable)
