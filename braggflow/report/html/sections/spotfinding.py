"""Spot finding: spots per image, spot positions on the detector, resolution histogram with
the hexagonal-ice rings marked."""

from __future__ import annotations

import numpy as np

from braggflow.model import ExperimentList
from braggflow.model.reflections import Flags, ReflectionTable
from braggflow.report.html.sections._common import (
    DetectorView, ReportOptions, Section, SectionBuilder, d_spacing, flag_set, image_numbers, resolution_axis,
)
from braggflow.report.html.svg import Plot

__all__ = ["spotfinding_section", "ICE_RING_BANDS", "in_ice_ring", "detector_positions_plot"]

# Hexagonal-ice bands in 1/d^2 (A^-2), as DIALS integration flags them (algorithms.md 7.3).
ICE_RING_BANDS = (
    (0.0640, 0.0690), (0.0710, 0.0780), (0.0825, 0.0880), (0.138, 0.144), (0.190, 0.205),
    (0.228, 0.240), (0.262, 0.266), (0.267, 0.278), (0.280, 0.288), (0.337, 0.341),
    (0.429, 0.435), (0.459, 0.466), (0.478, 0.486), (0.531, 0.537),
)


def in_ice_ring(d: np.ndarray) -> np.ndarray:
    inv = 1.0 / np.square(np.asarray(d, dtype=np.float64))
    out = np.zeros(inv.shape, dtype=bool)
    for lo, hi in ICE_RING_BANDS:
        out |= (inv >= lo) & (inv <= hi)
    return out


def strong_rows(table: ReflectionTable) -> np.ndarray:
    """Rows that are strong spots (all rows when nothing is flagged strong)."""
    strong = flag_set(table, Flags.strong)
    return strong if strong.any() else np.ones(len(table), dtype=bool)


def _per_image_plot(b: SectionBuilder, table: ReflectionTable, d: np.ndarray | None) -> None:
    z = np.asarray(table["xyzobs.px.value"])[:, 2]
    images = image_numbers(z)
    if not images.size:
        b.note("Spots per image: the table has no spots.")
        return
    first, last = int(images.min()), int(images.max())
    edges = np.arange(first, last + 2) - 0.5
    counts = np.bincount(images - first, minlength=last - first + 1)
    plot = Plot("Spots per image", "image", "number of spots")
    plot.bars(edges, counts, label="all spots")
    data = {"image": np.arange(first, last + 1), "n_spots": counts}
    if d is not None:
        keep = np.isfinite(d) & (d > 4.0) & ~in_ice_ring(d)
        n4 = np.bincount(images[keep] - first, minlength=last - first + 1)
        plot.line(np.arange(first, last + 1), n4, label="d > 4 Å, not in ice rings", colour="#d62728", markers=len(n4) < 60)
        data["n_spots_4A_no_ice"] = n4
    b.plot(plot, "per-image", "Strong spots found on each image.", data)


def detector_positions_plot(view: DetectorView, xy: np.ndarray, title: str, options: ReportOptions, label: str = "", colour: str | None = None, plot: Plot | None = None) -> Plot:
    """Points in view mm on the detector outline: a scatter, or a heat map when there are many."""
    plot = plot or view.base_plot(title)
    ok = np.isfinite(xy).all(axis=1)
    xy = xy[ok]
    if len(xy) <= options.max_scatter_points:
        plot.scatter(xy[:, 0], xy[:, 1], label=label or f"{len(xy)} spots", colour=colour, size=3.0)
        return plot
    outline = np.concatenate(view.outlines())
    lo, hi = np.nanmin(outline, axis=0), np.nanmax(outline, axis=0)
    if options.grid_size:
        nx, ny = options.grid_size
    else:
        p = view.panel0
        step = np.array(p.pixel_size) * max(options.pixels_per_bin, 1)
        nx, ny = (int(v) for v in np.clip(np.ceil((hi - lo) / step), 1, 400))
    counts, _, _ = np.histogram2d(xy[:, 1], xy[:, 0], bins=(ny, nx), range=((lo[1], hi[1]), (lo[0], hi[0])))
    values = np.where(counts > 0, counts, np.nan)
    plot.heatmap(values, (lo[0], hi[0], lo[1], hi[1]), label=label or "spots per bin")
    return plot


def _positions(b: SectionBuilder, table: ReflectionTable, experiments: ExperimentList | None, options: ReportOptions) -> None:
    xyz = np.asarray(table["xyzobs.px.value"])
    if not experiments or experiments[0].detector is None or experiments[0].beam is None:
        b.note("Spot positions on the detector: needs the experiment geometry (an .expt with a detector and beam).")
        return
    view = DetectorView(experiments[0])
    panels = np.asarray(table["panel"]) if "panel" in table else np.zeros(len(table), dtype=np.int64)
    xy = view.px_to_view(panels, xyz[:, :2])
    plot = detector_positions_plot(view, xy, "Spot positions on the detector", options)
    centre = view.beam_centre()
    if centre is not None:
        plot.marker(centre[0], centre[1], label="beam centre")
    b.plot(plot, "positions", "Observed spot centroids on the detector (a density map when there are many spots).")


def _resolution_histogram(b: SectionBuilder, d: np.ndarray | None, options: ReportOptions) -> None:
    if d is None:
        b.note("Resolution histogram: needs column d or xyzobs.px.value, panel and the experiment geometry.")
        return
    good = d[np.isfinite(d) & (d > 0)]
    if not good.size:
        b.note("Resolution histogram: no spot has a finite resolution.")
        return
    inv = 1.0 / good**2
    edges = np.linspace(0.0, float(inv.max()) * 1.02, 61)
    counts, _ = np.histogram(inv, bins=edges)
    plot = Plot("Spot resolution (ice rings shaded)", "", "number of spots")
    for lo, hi in ICE_RING_BANDS:
        if hi <= edges[-1]:
            plot.vband(lo, hi, label="")
    plot.bars(edges, counts, label=f"{good.size} spots")
    resolution_axis(plot, edges)
    n_ice = int(in_ice_ring(good).sum())
    b.plot(plot, "resolution", f"Spots against resolution (x axis linear in 1/d²); {n_ice} of {good.size} spots lie in hexagonal-ice bands (shaded).",
           {"inv_d2_edges": edges, "counts": counts, "n_in_ice_rings": n_ice})


def spotfinding_section(experiments: ExperimentList | None, reflections: ReflectionTable | None,
                        options: ReportOptions | None = None) -> Section:
    options = options or ReportOptions()
    b = SectionBuilder("spotfinding", "Spot finding")
    if not b.needs(reflections, ["xyzobs.px.value"], "Spot finding plots"):
        return b.build()
    table = reflections.select(strong_rows(reflections))
    d = d_spacing(table, experiments)
    b.table([("Strong spots", len(table)),
             ("Median resolution (Å)", float(np.nanmedian(d)) if d is not None and len(d) else "n/a"),
             ("Highest resolution (Å)", float(np.nanmin(d)) if d is not None and np.isfinite(d).any() else "n/a")])
    _per_image_plot(b, table, d)
    _positions(b, table, experiments, options)
    _resolution_histogram(b, d, options)
    return b.build()
