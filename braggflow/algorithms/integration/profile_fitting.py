"""Reference profiles in Kabsch's coordinate frame and how reflections are fitted with them.

A reference profile is a 2-D density on a (2G + 1)^2 grid in (c1, c2) (radians; G =
oversample x grid_size, step 4.5 sigma_b / (G + 0.5); each pixel sample is shared
bilinearly by its 4 nearest cells and the profile is read back with bilinear interpolation;
`oversample_for` picks 2-4 from the references per profile: finer cells blur less but need
more references to fill), learned from strong, fully recorded reference reflections; its e3
(rocking) part is the Gaussian of the profile model (fraction of the rocking curve on each
frame), so the 3-D profile of a pixel on frame j is P2D(pixel) x f_j. Profiles sit on a
`regular_grid`: 3 x 3 detector regions per panel x ceil(scan width / scan_step) scan blocks,
plus one *pooled* profile per panel that every reference of the panel feeds (what
grid_method=single learns). Each reference is added to every grid profile with weight
exp(-4 ln2 d^2) (d: distance to the profile's position in grid steps; weights < 0.02
skipped) and to its panel's pooled profile with weight 1, both times its reference weight
(partiality: partially recorded references with P >= 0.5 have the same (c1, c2) shape, only
fewer counts). A grid profile is usable from `MIN_REFERENCES` references, a pooled one from
`MIN_POOLED_REFERENCES`. `choose_profiles` fits each reflection with its nearest grid profile
when that (or an adjacent one) is usable, else with the pooled profile of its panel, else
with the nearest usable grid profile. DIALS instead uses any profile that received one
reference and fails the reflections whose grid cell received none; with the 3 x 3 grid and
~10 references (small molecules, narrow wedges: L-cysteine has 8 full + 8 partial) no grid
profile reached `MIN_REFERENCES` and nothing was profile fitted before the pooled fallback.

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


__all__ = ["ReferenceGrid", "make_reference_grid", "profile_weights", "nearest_profile", "choose_profiles",
           "ReferenceProfiles", "finalize_profiles", "profile_support", "oversample_for", "MIN_REFERENCES",
           "MIN_POOLED_REFERENCES", "N_PRIME", "NSUB"]

MIN_REFERENCES = 10  # per grid profile (references with weight >= 0.5)
MIN_POOLED_REFERENCES = 3  # per pooled (whole-panel) profile: DIALS uses a profile from 1
ADJACENT_STEPS = 1.75  # a grid profile this many grid steps away is a neighbour (sqrt(3) = diagonal)
N_PRIME = 4.5  # the grid reaches 1.5 x n_sigma (3) sigma_b
NSUB = 1  # pixel-centre samples: the learned density is already pixel-averaged (see docstring)
SUPPORT_THRESHOLD = 0.002  # of the maximum: see profile_support
DETECTOR_REGIONS = 3  # regular_grid: n x n profiles per panel (DIALS: 3)
OVERSAMPLE = 2  # default: the grid is 2 x finer than DIALS's (2 grid_size + 1)^2 in (e1, e2)
MAX_OVERSAMPLE = 4


def oversample_for(refs_per_profile: float) -> int:
    """Grid refinement for the expected references per profile: about sqrt(n / 8), 2..4
    (measured: ~35 references per profile -> 2 best, ~130 -> 4 best for strong-spot prf)."""
    return int(np.clip(round(math.sqrt(max(refs_per_profile, 0.0) / 8.0)), OVERSAMPLE, MAX_OVERSAMPLE))


@dataclass(frozen=True)
class ReferenceGrid:
    """Profile positions: xyz (m, 3) px/px/frame, panel (m,), cell size (3,) px/px/frames;
    pooled (m,) bool marks the whole-panel profiles (None: none)."""

    xyz: np.ndarray
    panel: np.ndarray
    cell: np.ndarray  # (n_panels, 3)
    grid_size: int
    step_rad: float
    pooled: np.ndarray | None = None

    @property
    def n_profiles(self) -> int:
        return len(self.xyz)

    @property
    def is_pooled(self) -> np.ndarray:
        return np.zeros(len(self.xyz), bool) if self.pooled is None else np.asarray(self.pooled, bool)

    @property
    def shape(self) -> tuple[int, int]:
        return (2 * self.grid_size + 1, 2 * self.grid_size + 1)


def make_reference_grid(image_sizes: np.ndarray, array_range: tuple[int, int], width_deg: float, *,
                        grid_method: str, scan_step_deg: float, grid_size: int, sigma_b_rad: float,
                        oversample: int = OVERSAMPLE, pooled: bool = True) -> ReferenceGrid:
    """Positions of the reference profiles (`single` = one per panel, else regular_grid; with
    ``pooled`` a regular grid gets one pooled profile per panel after the grid profiles)."""
    nf = array_range[1] - array_range[0]
    single = grid_method == "single"
    n_det = 1 if single else DETECTOR_REGIONS
    n_scan = 1 if single else max(1, int(math.ceil(abs(width_deg) * nf / scan_step_deg)))
    xyz, pan, cells = [], [], []
    for p, (nx, ny) in enumerate(image_sizes):
        cells.append((nx / n_det, ny / n_det, nf / n_scan))
        for k in range(n_scan):
            for j in range(n_det):
                for i in range(n_det):
                    xyz.append(((i + 0.5) * nx / n_det, (j + 0.5) * ny / n_det, array_range[0] + (k + 0.5) * nf / n_scan))
                    pan.append(p)
    is_pooled = [single] * len(xyz)
    if pooled and not single:
        for p, (nx, ny) in enumerate(image_sizes):
            xyz.append((0.5 * nx, 0.5 * ny, array_range[0] + 0.5 * nf))
            pan.append(p)
            is_pooled.append(True)
    half = oversample * grid_size
    step = N_PRIME * sigma_b_rad / (half + 0.5)
    return ReferenceGrid(np.array(xyz, dtype=float), np.array(pan, dtype=np.int64), np.array(cells, dtype=float),
                         half, step, np.array(is_pooled, dtype=bool))


def _distances(grid: ReferenceGrid, xyz: np.ndarray, panel: np.ndarray) -> np.ndarray:
    """(n, m) distance in grid steps (inf for other panels and for pooled profiles, except
    in a grid made only of pooled profiles, grid_method=single)."""
    cell = grid.cell[panel]  # (n, 3)
    d = (xyz[:, None, :] - grid.xyz[None, :, :]) / cell[:, None, :]
    dist = np.sqrt(np.sum(d * d, axis=2))
    dist[panel[:, None] != grid.panel[None, :]] = np.inf
    pooled = grid.is_pooled
    if not np.all(pooled):
        dist[:, pooled] = np.inf
    return dist


def _pooled_of(grid: ReferenceGrid, panel: np.ndarray) -> np.ndarray:
    """Index of each panel's pooled profile (-1: none) for the given panels."""
    table = np.full(int(grid.panel.max()) + 1 if grid.n_profiles else 1, -1, dtype=np.int64)
    pooled = grid.is_pooled
    if not np.all(pooled):  # grid_method=single: the profiles are the grid, not a fallback
        table[grid.panel[pooled]] = np.nonzero(pooled)[0]
    ok = (panel >= 0) & (panel < len(table))
    return np.where(ok, table[np.where(ok, panel, 0)], -1)


def profile_weights(grid: ReferenceGrid, xyz: np.ndarray, panel: np.ndarray, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(targets, weights) (n, k [+ 1]): the k highest exp(-4 ln2 d^2) weights over the grid
    profiles (-1 / 0 if < 0.02), then, when the grid has pooled profiles, the reflection's
    panel's pooled profile with weight 1."""
    dist = _distances(grid, xyz, panel)
    w = np.exp(-4.0 * math.log(2.0) * dist**2)
    k = min(k, grid.n_profiles)
    idx = np.argsort(-w, axis=1)[:, :k]
    wt = np.take_along_axis(w, idx, axis=1)
    idx = np.where(wt >= 0.02, idx, -1)
    wt = np.where(wt >= 0.02, wt, 0.0)
    if grid.pooled is not None and np.any(grid.is_pooled) and not np.all(grid.is_pooled):
        extra = _pooled_of(grid, panel)
        idx = np.column_stack([idx, extra])
        wt = np.column_stack([wt, np.where(extra >= 0, 1.0, 0.0)])
    return np.ascontiguousarray(idx, dtype=np.int64), np.ascontiguousarray(wt)


def nearest_profile(grid: ReferenceGrid, xyz: np.ndarray, panel: np.ndarray, usable: np.ndarray,
                    max_steps: float = np.inf) -> np.ndarray:
    """Index of the nearest usable grid profile per reflection, within ``max_steps`` grid
    steps (-1 if none on its panel)."""
    if not np.any(usable):
        return np.full(len(xyz), -1, dtype=np.int64)
    out = np.empty(len(xyz), dtype=np.int64)
    for start in range(0, len(xyz), 20000):
        sl = slice(start, start + 20000)
        dist = _distances(grid, xyz[sl], panel[sl])
        dist[:, ~usable] = np.inf
        best = np.argmin(dist, axis=1)
        d_best = dist[np.arange(len(best)), best]
        out[sl] = np.where(np.isfinite(d_best) & (d_best <= max_steps), best, -1)
    return out


def choose_profiles(grid: ReferenceGrid, xyz: np.ndarray, panel: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Profile per reflection (-1: none): the nearest usable grid profile if it is the
    reflection's own or an adjacent one (<= `ADJACENT_STEPS` grid steps), else the pooled
    profile of its panel if usable, else the nearest usable grid profile at any distance."""
    xyz, panel, usable = np.asarray(xyz, float), np.asarray(panel, np.int64), np.asarray(usable, bool)
    out = nearest_profile(grid, xyz, panel, usable, ADJACENT_STEPS)
    todo = out < 0
    if np.any(todo):
        pooled = _pooled_of(grid, panel[todo])
        ok = pooled >= 0
        ok[ok] = usable[pooled[ok]]
        out[todo] = np.where(ok, pooled, -1)
    todo = out < 0
    if np.any(todo):
        out[todo] = nearest_profile(grid, xyz[todo], panel[todo], usable)
    return out


@dataclass(frozen=True)
class ReferenceProfiles:
    grid: ReferenceGrid
    density: np.ndarray  # (m, G, G), sum(density) * step^2 = 1
    n_references: np.ndarray  # (m,) references that contributed (weight >= 0.5 counted as 1)
    usable: np.ndarray  # (m,) bool


def profile_support(dens: np.ndarray, threshold: float = SUPPORT_THRESHOLD) -> np.ndarray:
    """(m, G, G) bool: the cells of each density above ``threshold`` x its maximum that are
    8-connected to the maximum, grown by one cell. Outside it the learned density is only
    background noise (and the reference reflections' background-estimate error)."""
    from scipy import ndimage

    out = np.zeros(dens.shape, dtype=bool)
    for k, d in enumerate(dens):
        top = float(d.max()) if d.size else 0.0
        if top <= 0:
            continue
        lab, _ = ndimage.label(d > threshold * top, structure=np.ones((3, 3)))
        peak = lab.flat[int(np.argmax(d))]
        out[k] = ndimage.binary_dilation(lab == peak, structure=np.ones((3, 3)))
    return out


def finalize_profiles(grid: ReferenceGrid, num: np.ndarray, den: np.ndarray, counts: np.ndarray) -> ReferenceProfiles:
    """num/den -> densities restricted to their support (`profile_support`), normalised to
    unit integral, then negatives to 0.

    Normalising before dropping the noisy tails (the old rule) made each profile integrate to
    1 + (negative tail mass), 0.2-2 % too much on small spots, so prf intensities came out low
    by as much; cutting the tails first leaves only the (< 0.1 %) true tail beyond the support.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        dens = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    dens = np.where(profile_support(dens), dens, 0.0)
    total = dens.sum(axis=(1, 2)) * grid.step_rad**2  # signed: noise inside the support averages out
    need = np.where(grid.is_pooled, MIN_POOLED_REFERENCES, MIN_REFERENCES)
    usable = (np.asarray(counts) >= need) & (total > 0)
    dens = np.where(total[:, None, None] > 0, dens / np.where(total > 0, total, 1.0)[:, None, None], 0.0)
    return ReferenceProfiles(grid, np.ascontiguousarray(np.maximum(dens, 0.0)), counts, usable)
