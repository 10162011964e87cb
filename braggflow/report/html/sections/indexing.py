"""Indexing: the indexed fraction (overall and per image), unindexed spots on the detector,
and the reciprocal lattice viewed along a*, b* and c*."""

from __future__ import annotations

import numpy as np

from braggflow.model import ExperimentList
from braggflow.model.reflections import Flags, ReflectionTable
from braggflow.report.html.sections._common import (
    DetectorView, ReportOptions, Section, SectionBuilder, flag_set, image_numbers,
)
from braggflow.report.html.sections.spotfinding import detector_positions_plot, strong_rows
from braggflow.report.html.svg import Plot

__all__ = ["indexing_section", "indexed_mask", "reciprocal_lattice_points"]


def indexed_mask(table: ReflectionTable) -> np.ndarray:
    """Rows with a lattice: id >= 0 and a non-zero Miller index (or the indexed flag)."""
    ok = np.any(np.asarray(table["miller_index"]) != 0, axis=1)
    if "id" in table:
        ok &= np.asarray(table["id"]) >= 0
    flagged = flag_set(table, Flags.indexed)
    return ok | flagged if flagged.any() else ok


def reciprocal_lattice_points(table: ReflectionTable, experiments: ExperimentList | None) -> np.ndarray | None:
    """(n, 3) reciprocal-space positions at phi = 0 (1/A): column rlp, else from xyzobs.mm."""
    if "rlp" in table:
        return np.asarray(table["rlp"], dtype=np.float64)
    if not experiments or "xyzobs.mm.value" not in table or "panel" not in table:
        return None
    e = experiments[0]
    if e.beam is None or e.detector is None or e.goniometer is None:
        return None
    xyz = np.asarray(table["xyzobs.mm.value"])
    panels = np.asarray(table["panel"]).astype(np.int64)
    out = np.full((len(table), 3), np.nan)
    s0 = e.beam.s0
    for i, panel in enumerate(e.detector.panels):
        rows = np.flatnonzero(panels == i)
        if rows.size:
            lab = panel.get_lab_coord(xyz[rows, :2])
            s1 = lab / np.linalg.norm(lab, axis=1)[:, None] * np.linalg.norm(s0)
            R = np.atleast_3d(e.goniometer.rotation(xyz[rows, 2])).reshape(-1, 3, 3)
            out[rows] = np.einsum("nji,nj->ni", R, s1 - s0)  # R^T (s1 - s0); R is a rotation
    return out


def _fraction(b: SectionBuilder, table: ReflectionTable, indexed: np.ndarray) -> None:
    n, k = len(table), int(indexed.sum())
    rows = [("Strong spots", n), ("Indexed", k), ("Indexed (%)", 100.0 * k / n if n else float("nan"))]
    if "id" in table:
        ids = np.asarray(table["id"])
        for lattice in np.unique(ids[ids >= 0]):
            rows.append((f"Lattice {int(lattice)}", int(((ids == lattice) & indexed).sum())))
    b.table(rows)
    if "xyzobs.px.value" not in table:
        b.note("Indexed fraction per image: the reflection table has no column xyzobs.px.value.")
        return
    images = image_numbers(np.asarray(table["xyzobs.px.value"])[:, 2])
    if not images.size:
        return
    first = int(images.min())
    total = np.bincount(images - first)
    hit = np.bincount(images[indexed] - first, minlength=total.size)
    x = np.arange(first, first + total.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        percent = np.where(total > 0, 100.0 * hit / total, np.nan)
    plot = Plot("Indexed fraction per image", "image", "indexed (%)", ylim=(0, 105))
    plot.line(x, percent, label="indexed %", markers=total.size < 60)
    b.plot(plot, "fraction", "Percentage of the strong spots on each image that were indexed.", {"image": x, "percent_indexed": percent})


def _unindexed_on_detector(b: SectionBuilder, table: ReflectionTable, indexed: np.ndarray, experiments: ExperimentList | None, options: ReportOptions) -> None:
    if "xyzobs.px.value" not in table:
        b.note("Unindexed spots on the detector: the reflection table has no column xyzobs.px.value.")
        return
    if not experiments or experiments[0].detector is None or experiments[0].beam is None:
        b.note("Unindexed spots on the detector: needs the experiment geometry (an .expt with a detector and beam).")
        return
    view = DetectorView(experiments[0])
    panels = np.asarray(table["panel"]) if "panel" in table else np.zeros(len(table), dtype=np.int64)
    xy = view.px_to_view(panels, np.asarray(table["xyzobs.px.value"])[:, :2])
    plot = view.base_plot("Unindexed spots on the detector")
    plot.scatter(xy[indexed, 0], xy[indexed, 1], label=f"indexed ({int(indexed.sum())})", colour="#9ecae1", size=3.0)
    detector_positions_plot(view, xy[~indexed], "", options, label=f"unindexed ({int((~indexed).sum())})", colour="#d62728", plot=plot)
    b.plot(plot, "unindexed", "Unindexed spots (red) over the indexed ones (pale): rings of unindexed spots suggest ice, clusters a second lattice.")


def _lattice_views(b: SectionBuilder, table: ReflectionTable, indexed: np.ndarray, experiments: ExperimentList | None, options: ReportOptions) -> None:
    crystal = next((e.crystal for e in experiments or () if e.crystal is not None), None)
    if crystal is None:
        b.note("Reciprocal lattice views: needs a crystal model (an indexed .expt).")
        return
    rlp = reciprocal_lattice_points(table, experiments)
    if rlp is None:
        b.note("Reciprocal lattice views: needs column rlp, or xyzobs.mm.value and panel with the experiment geometry.")
        return
    axes = crystal.A.T  # rows a*, b*, c* (lab frame at phi = 0)
    rng = np.random.default_rng(options.seed)
    keep = np.arange(len(table))
    if len(keep) > options.max_scatter_points:
        keep = np.sort(rng.choice(keep, options.max_scatter_points, replace=False))
    for k, name in enumerate(("a*", "b*", "c*")):
        n = axes[k] / np.linalg.norm(axes[k])
        u = axes[(k + 1) % 3] - np.dot(axes[(k + 1) % 3], n) * n
        u /= np.linalg.norm(u)
        v = np.cross(n, u)
        p = rlp[keep] @ np.column_stack([u, v])
        sel = indexed[keep]
        plot = Plot(f"Reciprocal lattice along {name}", "Å⁻¹", "Å⁻¹", height=420, equal_aspect=True)
        plot.scatter(p[~sel, 0], p[~sel, 1], label="unindexed", colour="#d62728", size=3.0, opacity=0.6)
        plot.scatter(p[sel, 0], p[sel, 1], label="indexed", colour="#1f77b4", size=3.0, opacity=0.7)
        b.plot(plot, f"rlp-{name[0]}", f"Reciprocal lattice points projected along {name}: a good lattice shows a regular grid of columns.")


def indexing_section(experiments: ExperimentList | None, reflections: ReflectionTable | None,
                     options: ReportOptions | None = None) -> Section:
    options = options or ReportOptions()
    b = SectionBuilder("indexing", "Indexing")
    if not b.needs(reflections, ["miller_index"], "Indexing plots"):
        return b.build()
    table = reflections.select(strong_rows(reflections))
    indexed = indexed_mask(table)
    _fraction(b, table, indexed)
    _unindexed_on_detector(b, table, indexed, experiments, options)
    _lattice_views(b, table, indexed, experiments, options)
    return b.build()
