"""Estimate max_cell from nearest-neighbour distances in reciprocal space (algorithms.md 4.2).

Spots are split by imageset, 45 deg phi blocks and entering/exiting; within each group the
nearest other rlp gives a direct-space distance 1/|drlp|. The histogram (log bins by default)
of those distances gives the longest "typical" neighbour distance, times `multiplier` (1.3).
Ice-ring spots and spots with overlapping bounding boxes are left out first, because both
produce short reciprocal distances (long fake cells; dials #47, #213). If the histogram
rule fails, a 95th-percentile estimate is used instead and the log says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import gemmi
import numpy as np
from scipy.spatial import cKDTree

from braggflow.algorithms.indexing.params import MaxCellEstimationParams
from braggflow.errors import StageFailed

ICE_CELL = (4.498, 4.498, 7.338, 90.0, 90.0, 120.0)
ICE_SPACE_GROUP = "P 63/m m c"
ICE_WIDTH_DSTAR_SQ = 0.004  # full width of an ice ring in 1/d^2 (1/A^2)
MIN_DISTANCES = 10


@dataclass(frozen=True)
class MaxCellResult:
    """max_cell (A) with the histogram it came from (for the log and reports)."""

    max_cell: float
    distances: np.ndarray  # direct-space NN distances used (A), sorted
    bin_edges: np.ndarray  # (n_bins + 1,) A
    frequency: np.ndarray  # (n_bins,) counts per A
    n_used: int
    n_ice: int
    n_overlaps: int
    method: str  # "histogram" or "percentile"


def ice_ring_d_star_sq(d_min: float = 0.5) -> np.ndarray:
    """1/d^2 of the allowed reflections of hexagonal ice down to d_min (A)."""
    cell = gemmi.UnitCell(*ICE_CELL)
    ops = gemmi.SpaceGroup(ICE_SPACE_GROUP).operations()
    hmax = [int(np.ceil(v / d_min)) for v in ICE_CELL[:3]]
    values = set()
    for h in range(0, hmax[0] + 1):
        for k in range(-hmax[1], hmax[1] + 1):
            for l in range(-hmax[2], hmax[2] + 1):
                if (h, k, l) == (0, 0, 0) or ops.is_systematically_absent([h, k, l]):
                    continue
                dss = cell.calculate_1_d2([h, k, l])
                if dss <= 1.0 / d_min**2:
                    values.add(round(dss, 6))
    return np.array(sorted(values))


def in_ice_rings(rlp: np.ndarray, width: float = ICE_WIDTH_DSTAR_SQ) -> np.ndarray:
    """(n,) bool: |rlp|^2 within width/2 of an ice ring."""
    dss = np.einsum("ij,ij->i", rlp, rlp)
    rings = ice_ring_d_star_sq()
    idx = np.searchsorted(rings, dss)
    lo = np.abs(dss - rings[np.clip(idx - 1, 0, len(rings) - 1)])
    hi = np.abs(dss - rings[np.clip(idx, 0, len(rings) - 1)])
    return np.minimum(lo, hi) <= width / 2


def overlapping_bboxes(bbox: np.ndarray, panel: np.ndarray, border: int = 0) -> np.ndarray:
    """(n,) bool: the 3D bounding box (x0,x1,y0,y1,z0,z1) overlaps another on the same panel."""
    n = len(bbox)
    out = np.zeros(n, dtype=bool)
    if n < 2:
        return out
    b = bbox.astype(np.float64)
    lo = b[:, [0, 2, 4]] - np.array([border, border, 0])
    hi = b[:, [1, 3, 5]] + np.array([border, border, 0])
    centre = 0.5 * (lo + hi)
    half = 0.5 * (hi - lo)
    scale = np.maximum(2.0 * half.max(axis=0), 1e-9)
    tree = cKDTree(np.column_stack([centre / scale, panel.astype(np.float64) * 1e3]))
    pairs = tree.query_pairs(r=1.0, p=np.inf, output_type="ndarray")
    if len(pairs) == 0:
        return out
    i, j = pairs[:, 0], pairs[:, 1]
    ok = (panel[i] == panel[j]) & np.all((lo[i] < hi[j]) & (lo[j] < hi[i]), axis=1)
    out[i[ok]] = True
    out[j[ok]] = True
    return out


def nearest_neighbour_distances(rlp: np.ndarray, phi_rad: np.ndarray, entering: np.ndarray,
                                imageset_id: np.ndarray, step_deg: float) -> np.ndarray:
    """Direct-space NN distances (A) within (imageset, phi block, entering) groups."""
    out = []
    phi_deg = np.degrees(phi_rad)
    for iset in np.unique(imageset_id):
        s_iset = imageset_id == iset
        p0, p1 = phi_deg[s_iset].min(), phi_deg[s_iset].max()
        n_steps = max(int(np.ceil((p1 - p0) / step_deg)), 1)
        block = np.minimum(((phi_deg - p0) / step_deg).astype(np.int64), n_steps - 1)
        for n in range(n_steps):
            for ent in (True, False):
                sel = s_iset & (block == n) & (entering == ent)
                if sel.sum() < 2:
                    continue
                pts = rlp[sel]
                dist, _ = cKDTree(pts).query(pts, k=2)
                d = dist[:, 1]
                with np.errstate(divide="ignore"):
                    out.append(np.where(d > 0, 1.0 / d, np.inf))
    return np.concatenate(out) if out else np.zeros(0)


def estimate_max_cell(rlp: np.ndarray, phi_rad: np.ndarray, entering: np.ndarray,
                      imageset_id: np.ndarray, params: MaxCellEstimationParams, *,
                      bbox: np.ndarray | None = None, panel: np.ndarray | None = None) -> MaxCellResult:
    """max_cell (A) from spots mapped to reciprocal space; raises StageFailed if too few."""
    keep = np.ones(len(rlp), dtype=bool)
    n_ice = n_ovl = 0
    if params.filter_ice:
        ice = in_ice_rings(rlp)
        if (~ice).sum() >= MIN_DISTANCES:  # never filter everything away
            keep &= ~ice
            n_ice = int(ice.sum())
    if params.filter_overlaps and bbox is not None and panel is not None:
        ovl = overlapping_bboxes(bbox, panel, params.overlaps_border) & keep
        if (keep & ~ovl).sum() >= max(MIN_DISTANCES, 0.1 * keep.sum()):
            keep &= ~ovl
            n_ovl = int(ovl.sum())
    direct = nearest_neighbour_distances(rlp[keep], phi_rad[keep], entering[keep],
                                         imageset_id[keep], params.step_size)
    direct = np.sort(direct[np.isfinite(direct) & (direct > 1.0)])
    if len(direct) <= MIN_DISTANCES:
        raise StageFailed(
            f"indexing: too few spots for the nearest-neighbour max_cell estimate "
            f"({len(direct)} usable distances from {len(rlp)} spots, {n_ice} in ice rings, "
            f"{n_ovl} overlapping); set indexing.max_cell=<longest cell axis x 1.3> or find more spots"
        )
    if params.nearest_neighbor_percentile is None:
        direct = direct[: int(np.floor(0.99 * len(direct)))]
    edges, freq = _histogram(direct, params)
    if params.nearest_neighbor_percentile is not None:
        q = float(np.quantile(direct, params.nearest_neighbor_percentile))
        return MaxCellResult(params.multiplier * q, direct, edges, freq, len(direct), n_ice, n_ovl, "percentile")
    above = np.nonzero(freq > params.max_height_fraction * freq.max())[0]
    if len(above) == 0:  # cannot happen with a non-empty histogram; keep a safe fallback
        q = float(np.quantile(direct, 0.95))
        return MaxCellResult(params.multiplier * q, direct, edges, freq, len(direct), n_ice, n_ovl, "percentile")
    upper = float(edges[above.max() + 1])
    return MaxCellResult(params.multiplier * upper, direct, edges, freq, len(direct), n_ice, n_ovl, "histogram")


def _histogram(direct: np.ndarray, params: MaxCellEstimationParams) -> tuple[np.ndarray, np.ndarray]:
    n_bins = max(int(len(direct) / params.nn_per_bin), 1)
    if params.histogram_binning == "log":
        counts, log_edges = np.histogram(np.log10(direct), bins=n_bins)
        edges = 10.0**log_edges
    else:
        counts, edges = np.histogram(direct, bins=n_bins)
    return edges, counts / np.diff(edges)


def histogram_lines(result: MaxCellResult, n_rows: int = 12) -> list[str]:
    """A compact text histogram of the NN distances (printed when indexing fails)."""
    edges, counts = result.bin_edges, result.frequency * np.diff(result.bin_edges)
    step = max(1, int(np.ceil(len(counts) / n_rows)))
    lines = ["Nearest-neighbour distance histogram (A: count)"]
    top = max(float(counts.max()), 1.0)
    for i in range(0, len(counts), step):
        c = float(counts[i:i + step].sum())
        lines.append(f"{edges[i]:8.1f}-{edges[min(i + step, len(counts))]:8.1f}: {int(c):6d} "
                     + "#" * int(round(40 * c / (top * step))))
    return lines


__all__ = [
    "MaxCellResult",
    "estimate_max_cell",
    "histogram_lines",
    "in_ice_rings",
    "ice_ring_d_star_sq",
    "nearest_neighbour_distances",
    "overlapping_bboxes",
]
