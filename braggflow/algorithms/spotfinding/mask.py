"""Pure mask builders: True means "valid pixel". Arrays are (ny, nx) = (slow, fast)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import gemmi
import numpy as np

from braggflow.algorithms.spotfinding.params import FilterParams, IceRingsParams
from braggflow.errors import ParameterError


def trusted_range_mask(data: np.ndarray, trusted_range: tuple[float, float]) -> np.ndarray:
    """Valid where low < value < high (dxtbx semantics: both ends excluded)."""
    low, high = trusted_range
    return (data > low) & (data < high)


def border_mask(shape: tuple[int, int], border: int) -> np.ndarray:
    """Invalid within `border` pixels of each panel edge."""
    mask = np.ones(shape, dtype=bool)
    if border > 0:
        mask[:border, :] = False
        mask[-border:, :] = False
        mask[:, :border] = False
        mask[:, -border:] = False
    return mask


def _pixel_centres(shape):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return xx + 0.5, yy + 0.5


def circle_mask(shape: tuple[int, int], xc: float, yc: float, radius: float) -> np.ndarray:
    """Invalid where the pixel centre lies within `radius` px of (xc, yc)."""
    x, y = _pixel_centres(shape)
    return (x - xc) ** 2 + (y - yc) ** 2 > radius**2


def rectangle_mask(shape: tuple[int, int], x0: int, x1: int, y0: int, y1: int) -> np.ndarray:
    """Invalid for x0 <= x < x1 and y0 <= y < y1 (pixel indices, half-open)."""
    mask = np.ones(shape, dtype=bool)
    mask[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = False
    return mask


def polygon_mask(shape: tuple[int, int], vertices: Sequence[tuple[float, float]]) -> np.ndarray:
    """Invalid where the pixel centre is inside the polygon (even-odd rule); vertices (x, y)."""
    x, y = _pixel_centres(shape)
    inside = np.zeros(shape, dtype=bool)
    n = len(vertices)
    for k in range(n):
        xa, ya = vertices[k]
        xb, yb = vertices[(k + 1) % n]
        if ya == yb:
            continue
        crosses = (ya > y) != (yb > y)
        x_cross = xa + (y - ya) * (xb - xa) / (yb - ya)
        inside ^= crosses & (x < x_cross)
    return ~inside


def untrusted_mask(shape: tuple[int, int], regions: Iterable, panel: int) -> np.ndarray:
    """Combine `spotfinder.filter.untrusted` regions that apply to `panel` (None = panel 0).

    A region with no geometry masks the whole panel.
    """
    mask = np.ones(shape, dtype=bool)
    for region in regions:
        if (region.panel if region.panel is not None else 0) != panel:
            continue
        geometric = (region.circle, region.rectangle, region.polygon, region.pixel)
        if all(g is None for g in geometric):
            mask[:] = False
            continue
        if region.circle is not None:
            mask &= circle_mask(shape, *region.circle)
        if region.rectangle is not None:
            mask &= rectangle_mask(shape, *region.rectangle)
        if region.polygon is not None:
            if len(region.polygon) % 2 or len(region.polygon) < 6:
                raise ParameterError(
                    f"spotfinder.filter.untrusted.polygon = {region.polygon}: give at least"
                    " three x,y pairs"
                )
            pts = list(zip(region.polygon[0::2], region.polygon[1::2]))
            mask &= polygon_mask(shape, pts)
        if region.pixel is not None:
            y, x = region.pixel
            if 0 <= y < shape[0] and 0 <= x < shape[1]:
                mask[y, x] = False
    return mask


def resolution_mask(
    d_spacing: np.ndarray,
    *,
    d_min: float | None = None,
    d_max: float | None = None,
    excluded_ranges: Iterable[tuple[float, float]] = (),
) -> np.ndarray:
    """Valid where d_min <= d <= d_max and d is outside every excluded (lo, hi) range.

    `d_spacing` is the per-pixel resolution in Angstrom (inf at the beam centre is fine).
    """
    if d_min is not None and d_max is not None and d_min > d_max:
        raise ParameterError(
            f"spotfinder.filter.d_min = {d_min} > d_max = {d_max}: no spots would be found;"
            " swap or remove one of them"
        )
    mask = np.ones(d_spacing.shape, dtype=bool)
    if d_min is not None:
        mask &= d_spacing >= d_min
    if d_max is not None:
        mask &= d_spacing <= d_max
    for lo, hi in excluded_ranges:
        lo, hi = min(lo, hi), max(lo, hi)
        mask &= ~((d_spacing >= lo) & (d_spacing <= hi))
    return mask


def ice_ring_d_ranges(params: IceRingsParams, d_min: float) -> list[tuple[float, float]]:
    """(d_lo, d_hi) Angstrom of each powder ring, width `params.width` in 1/d^2."""
    cell = gemmi.UnitCell(*params.unit_cell)
    try:
        sg = gemmi.SpaceGroup(str(params.space_group))
    except ValueError as exc:
        raise ParameterError(
            f"spotfinder.filter.ice_rings.space_group = {params.space_group}: unknown space"
            " group; give a number or a Hermann-Mauguin symbol"
        ) from exc
    hkl = gemmi.make_miller_array(cell, sg, d_min, unique=True)
    d_rings = np.unique(np.round(cell.calculate_d_array(hkl), 8))[::-1]
    half = 0.5 * params.width
    ranges = []
    for d in d_rings:
        inv = 1.0 / (d * d)
        d_hi = np.sqrt(1.0 / (inv - half)) if inv > half else np.inf
        ranges.append((float(np.sqrt(1.0 / (inv + half))), float(d_hi)))
    return ranges


def ice_ring_mask(d_spacing: np.ndarray, params: IceRingsParams) -> np.ndarray:
    """Invalid within `width/2` (in 1/d^2) of a hexagonal-ice ring; all valid if not filtering."""
    if not params.filter:
        return np.ones(d_spacing.shape, dtype=bool)
    finite = d_spacing[np.isfinite(d_spacing) & (d_spacing > 0)]
    d_min = params.d_min if params.d_min is not None else float(finite.min(initial=1.0))
    return resolution_mask(d_spacing, excluded_ranges=ice_ring_d_ranges(params, d_min))


def static_mask(
    shape: tuple[int, int],
    params: FilterParams,
    *,
    panel: int = 0,
    d_spacing: np.ndarray | None = None,
) -> np.ndarray:
    """The combined static "valid" mask of one panel from `spotfinder.filter`.

    `d_spacing` (per-pixel d in Angstrom) is needed only for d_min, d_max, resolution_range
    and ice rings; passing None with any of those set raises ParameterError.
    """
    mask = border_mask(shape, params.border) & untrusted_mask(shape, params.untrusted, panel)
    needs_d = (
        params.d_min is not None
        or params.d_max is not None
        or bool(params.resolution_range)
        or params.ice_rings.filter
    )
    if needs_d:
        if d_spacing is None:
            raise ParameterError(
                "spotfinder.filter: d_min/d_max/resolution_range/ice_rings need the detector"
                " geometry (a per-pixel d-spacing array)"
            )
        mask &= resolution_mask(
            d_spacing,
            d_min=params.d_min,
            d_max=params.d_max,
            excluded_ranges=params.resolution_range,
        )
        mask &= ice_ring_mask(d_spacing, params.ice_rings)
    return mask


__all__ = [
    "trusted_range_mask",
    "border_mask",
    "circle_mask",
    "rectangle_mask",
    "polygon_mask",
    "untrusted_mask",
    "resolution_mask",
    "ice_ring_d_ranges",
    "ice_ring_mask",
    "static_mask",
]
