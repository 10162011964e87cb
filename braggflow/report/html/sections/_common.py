"""What every section module shares: the Section result, a builder, column checks and the
geometry helpers (resolution of observed spots, a 2D view of the detector)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from braggflow.model import Experiment, ExperimentList
from braggflow.model.reflections import Flags, ReflectionTable
from braggflow.report.html.svg import Plot, fmt, resolution_ticks

__all__ = [
    "Section", "SectionBuilder", "ReportOptions", "missing", "flag_set", "image_numbers",
    "d_spacing", "DetectorView", "resolution_axis", "binned_means", "equal_volume_bins",
]


@dataclass(frozen=True)
class ReportOptions:
    """The report PHIL, extracted (see braggflow/params/report.phil)."""

    grid_size: tuple[int, int] | None = None  # detector heat-map bins (fast, slow); None: from pixels_per_bin
    pixels_per_bin: int = 10
    max_scatter_points: int = 4000
    n_resolution_bins: int = 20
    seed: int = 0


@dataclass
class Section:
    """One report section: id (HTML anchor), title, body fragment, notes on what is missing,
    the ids of its plots and the plotted numbers (for output.json)."""

    id: str
    title: str
    html: str = ""
    notes: list[str] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


class SectionBuilder:
    """Collects paragraphs, key-value tables, plots and notes in order."""

    def __init__(self, section_id: str, title: str) -> None:
        self.section = Section(section_id, title)
        self._parts: list[str] = []

    def paragraph(self, text: str) -> None:
        self._parts.append(f"<p>{html.escape(text)}</p>")

    def note(self, text: str) -> None:
        """Something this section could not show (missing columns, inputs that disagree)."""
        self.section.notes.append(text)
        self._parts.append(f'<p class="note">{html.escape(text)}</p>')

    def needs(self, table: ReflectionTable | None, columns: Sequence[str], what: str) -> bool:
        """True if `table` has all `columns`; otherwise a note naming the missing ones."""
        if table is None:
            self.note(f"{what}: no reflection table for this section.")
            return False
        absent = missing(table, columns)
        if absent:
            self.note(f"{what}: the reflection table has no column {', '.join(absent)}.")
            return False
        return True

    def table(self, rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None, caption: str = "") -> None:
        out = ['<table class="kv">']
        if caption:
            out.append(f"<caption>{html.escape(caption)}</caption>")
        if header:
            out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
        for row in rows:
            cells = [f"<th>{html.escape(str(row[0]))}</th>"] + [f"<td>{html.escape(_cell(v))}</td>" for v in row[1:]]
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</table>")
        self._parts.append("".join(out))

    def plot(self, plot: Plot, key: str, caption: str = "", data: dict[str, Any] | None = None) -> None:
        pid = f"{self.section.id}-{key}"
        plot.plot_id = pid
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self._parts.append(f'<figure class="plot" id="{pid}">{plot.svg()}{cap}</figure>')
        self.section.plots.append(pid)
        if data is not None:
            self.section.data[key] = {k: _jsonable(v) for k, v in data.items()}

    def build(self) -> Section:
        self.section.html = "\n".join(self._parts)
        return self.section


def _cell(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return fmt(float(v), 5)
    return str(v)


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return [None if (isinstance(x, float) and not np.isfinite(x)) else x for x in v.tolist()]
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v


def missing(table: ReflectionTable, columns: Sequence[str]) -> list[str]:
    return [c for c in columns if c not in table]


def flag_set(table: ReflectionTable, flag: Flags, any_bit: bool = False) -> np.ndarray:
    """(n,) bool: rows with all (or, with any_bit, any) bits of `flag`; all False without flags."""
    if "flags" not in table:
        return np.zeros(len(table), dtype=bool)
    return table.get_flags(flag, all=not any_bit)


def image_numbers(z: np.ndarray) -> np.ndarray:
    """1-based image number of frame coordinate z (image n covers [n - 1, n))."""
    return np.floor(np.asarray(z, dtype=np.float64)).astype(np.int64) + 1


def _experiment_of_rows(table: ReflectionTable, experiments: ExperimentList) -> np.ndarray:
    ids = np.asarray(table["id"]) if "id" in table else np.zeros(len(table), dtype=np.int32)
    return np.where((ids >= 0) & (ids < len(experiments)), ids, 0 if len(experiments) else -1)


def d_spacing(table: ReflectionTable, experiments: ExperimentList | None, column: str = "xyzobs.px.value") -> np.ndarray | None:
    """d (A) per row: the `d` column, else from pixel positions and the geometry; None if neither."""
    if "d" in table:
        return np.asarray(table["d"], dtype=np.float64)
    if not experiments or column not in table or "panel" not in table:
        return None
    out = np.full(len(table), np.nan)
    which = _experiment_of_rows(table, experiments)
    panels = np.asarray(table["panel"]).astype(np.int64)
    xyz = np.asarray(table[column])
    for e_index, e in enumerate(experiments):
        if e.beam is None or e.detector is None:
            continue
        s0 = e.beam.s0
        for p_index, panel in enumerate(e.detector.panels):
            rows = np.flatnonzero((which == e_index) & (panels == p_index))
            if not rows.size:
                continue
            lab = panel.get_lab_coord(panel.pixel_to_millimeter(xyz[rows, :2]))
            s1 = lab / np.linalg.norm(lab, axis=1)[:, None] * np.linalg.norm(s0)
            q = np.linalg.norm(s1 - s0, axis=1)
            with np.errstate(divide="ignore"):
                out[rows] = np.where(q > 0, 1.0 / q, np.inf)
    return out


class DetectorView:
    """A 2D picture of the detector: everything is projected from the sample onto the plane of
    panel 0 (mm in its fast/slow frame, slow axis downwards); exact for single-panel detectors."""

    def __init__(self, experiment: Experiment) -> None:
        self.experiment = experiment
        self.detector = experiment.detector
        self.panel0 = self.detector.panels[0]
        self._D0 = self.panel0.D_matrix

    def _project(self, lab: np.ndarray) -> np.ndarray:
        v = np.atleast_2d(lab) @ self._D0.T
        with np.errstate(divide="ignore", invalid="ignore"):
            xy = v[:, :2] / v[:, 2:3]
        xy[v[:, 2] <= 0] = np.nan
        return xy

    def px_to_view(self, panel_index: np.ndarray, xy_px: np.ndarray) -> np.ndarray:
        """(n, 2) view mm of pixel positions on the given panels."""
        panel_index = np.asarray(panel_index).astype(np.int64)
        xy_px = np.asarray(xy_px, dtype=np.float64).reshape(-1, 2)
        out = np.full((len(xy_px), 2), np.nan)
        for i, panel in enumerate(self.detector.panels):
            rows = panel_index == i
            if rows.any():
                out[rows] = self._project(panel.get_lab_coord(panel.pixel_to_millimeter(xy_px[rows])))
        return out

    def outlines(self) -> list[np.ndarray]:
        """Corners (5, 2) of each panel, closed."""
        result = []
        for panel in self.detector.panels:
            nf, ns = panel.image_size
            corners = np.array([[0, 0], [nf, 0], [nf, ns], [0, ns], [0, 0]], dtype=np.float64)
            result.append(self._project(panel.get_lab_coord(corners * np.array(panel.pixel_size))))
        return result

    def beam_centre(self) -> tuple[float, float] | None:
        return self.panel0.beam_centre_mm(self.experiment.beam.s0)

    def ring(self, d: float, n: int = 180) -> np.ndarray:
        """(n, 2) view points where spots of resolution d land (NaN where off the plane)."""
        s0 = self.experiment.beam.s0
        k = np.linalg.norm(s0)
        ratio = 1.0 / (2.0 * d * k)
        if ratio >= 1:
            return np.zeros((0, 2))
        two_theta = 2.0 * np.arcsin(ratio)
        u = s0 / k
        a = np.cross(u, [1.0, 0.0, 0.0] if abs(u[0]) < 0.9 else [0.0, 1.0, 0.0])
        a /= np.linalg.norm(a)
        b = np.cross(u, a)
        psi = np.linspace(0, 2 * np.pi, n)
        dirs = np.cos(two_theta) * u + np.sin(two_theta) * (np.cos(psi)[:, None] * a + np.sin(psi)[:, None] * b)
        return self._project(dirs)

    def base_plot(self, title: str, rings: Sequence[float] = ()) -> Plot:
        plot = Plot(title, "fast (mm)", "slow (mm)", height=440, equal_aspect=True, invert_y=True)
        for corners in self.outlines():
            plot.polygon(corners[:, 0], corners[:, 1], colour="#444")
        for i, d in enumerate(rings):
            pts = self.ring(d)
            inside = _clip_to_box(pts, np.concatenate(self.outlines()))
            if np.isfinite(inside).all(axis=1).sum() > 2:
                plot.polygon(inside[:, 0], inside[:, 1], colour="#bbb", closed=False, dash="3 3")
                k = (45 + 22 * i) * len(inside) // 360  # stagger the labels round the rings
                if not np.isfinite(inside[k]).all():
                    k = int(np.flatnonzero(np.isfinite(inside).all(axis=1))[0])
                plot.text(float(inside[k, 0]), float(inside[k, 1]), f"{d:g} Å", colour="#888")
        return plot


def _clip_to_box(points: np.ndarray, box_points: np.ndarray) -> np.ndarray:
    lo, hi = np.nanmin(box_points, axis=0), np.nanmax(box_points, axis=0)
    pad = 0.02 * (hi - lo)
    out = points.copy()
    outside = np.any((points < lo - pad) | (points > hi + pad), axis=1)
    out[outside] = np.nan
    return out


def resolution_axis(plot: Plot, inv_d2: np.ndarray) -> Plot:
    """Label the x axis (1/d^2) in d."""
    finite = inv_d2[np.isfinite(inv_d2)]
    if finite.size:
        plot.xticks = resolution_ticks(float(finite.min()), float(finite.max()))
    plot.xlabel = plot.xlabel or "resolution (Å)"
    return plot


def equal_volume_bins(d: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin edges in 1/d^2 (ascending) of n bins equal in d*^3 over the finite d range."""
    finite = d[np.isfinite(d) & (d > 0)]
    if not finite.size or finite.max() == finite.min():
        return np.zeros(0)
    s_lo, s_hi = 1.0 / finite.max(), 1.0 / finite.min()
    cubes = np.linspace(s_lo ** 3, s_hi ** 3, max(n_bins, 1) + 1)
    return np.cbrt(cubes) ** 2


def binned_means(x: np.ndarray, y: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bin centres, mean of y per bin (NaN when empty), count per bin) for x in edges."""
    ok = np.isfinite(x) & np.isfinite(y)
    idx = np.clip(np.searchsorted(edges, x[ok], side="right") - 1, 0, len(edges) - 2)
    n = np.bincount(idx, minlength=len(edges) - 1).astype(np.float64)
    s = np.bincount(idx, weights=y[ok], minlength=len(edges) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, s / n, np.nan)
    return 0.5 * (edges[:-1] + edges[1:]), mean, n
