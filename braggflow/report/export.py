"""Renderables for braggflow.export: the filtering log lines and the MTZ file summary.

The log lines are those of the DIALS tutorial ("Removing N reflections with negative
variance", "Removing N profile reflections with negative variance", "Removing N incomplete
reflections") mixed with the extra lines DIALS 3.12 prints; the summary is laid out like
iotbx.mtz's show_summary (Title, space group, batches, crystals, the column table).
"""

from __future__ import annotations

from rich.text import Text

from braggflow.algorithms.export import FilterReport, MtzSummary
from braggflow.algorithms.export._io import COLUMN_TYPE_NAMES

__all__ = ["filter_log_lines", "mtz_summary", "summary_lines"]

_SELECTED = {
    ("sum", "prf"): "reflections integrated by profile and summation methods",
    ("prf",): "profile integrated reflections",
    ("sum",): "summation integrated reflections",
    ("scale",): "scaled reflections",
}
_TABLE_NAME = {"sum": "intensity.sum.value", "prf": "intensity.prf.value", "scale": "intensity.scale.value"}
_NEGATIVE = {"sum": "reflections", "prf": "profile reflections", "scale": "scaled reflections"}


def filter_log_lines(report: FilterReport, min_isigi: float | None = -5.0) -> list[str]:
    """Lines describing what filtering removed, in processing order."""
    lines = list(report.notes)
    lines.append(f"Read {report.n_read} predicted reflections")
    what = _SELECTED.get(tuple(k for k in report.kinds if k != "scale") or ("scale",), "reflections")
    lines.append(f"Selected {report.n_selected} {what}")
    if report.n_bad_scale:
        lines.append(f"Removed {report.n_bad_scale} reflections with zero or negative inverse scale factors")
    for kind, n in report.negative_variance.items():
        lines.append(f"Removing {n} {_NEGATIVE[kind]} with negative variance")
    if report.n_ice:
        lines.append(f"Removed {report.n_ice} reflections in ice ring resolutions")
    if report.n_d_min:
        lines.append(f"Removed {report.n_d_min} reflections below d_min")
    if report.n_bad_qe:
        lines.append(f"{report.n_bad_qe} reflections filtered due to bad dqe/qe value")
    if report.n_zero_partiality:
        lines.append(f"Removed {report.n_zero_partiality} reflections with zero partiality")
    if report.n_combined:
        lines.append(f"Combined {report.n_combined} partial reflections with other partial reflections")
    lines.append(f"Removing {report.n_incomplete} incomplete reflections")
    for kind, n in report.low_isigi.items():
        lines.append(f"Removed {n} {_TABLE_NAME[kind]} reflections with I/Sig(I) < {min_isigi}")
    return lines


def _column_table(dataset) -> list[str]:  # type: ignore[no-untyped-def]
    cols = dataset.columns
    wl = max([len("label"), *(len(c.label) for c in cols)])
    wn = max([len("#valid"), *(len(str(c.n_valid)) for c in cols)])
    wv = max([5, *(len(f"{v:.2f}") for c in cols for v in (c.min_value, c.max_value))])
    out = [f"{'label':<{wl}} {'#valid':>{wn}}  %valid {'min':>{wv}} {'max':>{wv}} type"]
    for c in cols:
        desc = COLUMN_TYPE_NAMES.get(c.type, "")
        out.append(
            f"{c.label:<{wl}} {c.n_valid:>{wn}} {c.percent_valid:6.2f}% {c.min_value:>{wv}.2f} "
            f"{c.max_value:>{wv}.2f} {c.type}: {desc}"
        )
    return out


def summary_lines(summary: MtzSummary) -> list[str]:
    """The file summary as plain lines (the tutorial's layout)."""
    lo, hi = summary.resolution_range
    lines = [
        f"Title: {summary.title}",
        f"Space group symbol from file: {summary.space_group_symbol}",
        f"Space group number from file: {summary.space_group_number}",
        f"Space group from matrices: {summary.space_group_name}",
        f"Point group symbol from file: {summary.point_group_symbol}",
        f"Number of batches: {summary.n_batches}",
        f"Number of crystals: {len(summary.crystals)}",
        f"Number of Miller indices: {summary.n_reflections}",
        f"Resolution range: {lo:.6g} {hi:.6g}",
        "History:",
        *(f"  {h}" for h in summary.history),
    ]
    for crystal in summary.crystals:
        cell = ", ".join(f"{v:.6g}" for v in crystal.cell)
        lines += [
            f"Crystal {crystal.id}:",
            f"  Name: {crystal.name}",
            f"  Project: {crystal.project}",
            f"  Id: {crystal.id}",
            f"  Unit cell: ({cell})",
            f"  Number of datasets: {len(crystal.datasets)}",
        ]
        for k, ds in enumerate(crystal.datasets, start=1):
            lines += [
                f"  Dataset {k}:",
                f"    Name: {ds.name}",
                f"    Id: {ds.id}",
                f"    Wavelength: {ds.wavelength:.6g}",
                f"    Number of columns: {len(ds.columns)}",
                *(f"    {row}" for row in _column_table(ds)),
            ]
    return lines


def mtz_summary(summary: MtzSummary) -> Text:
    """A renderable of `summary_lines` (no markup interpretation)."""
    return Text("\n".join(summary_lines(summary)))
