"""After scaling: scale and B against batch, then CC1/2, completeness, multiplicity and I/sigma
against resolution, a Wilson plot and the anomalous signal (from the scaled table itself)."""

from __future__ import annotations

import numpy as np

from braggflow.model import ExperimentList
from braggflow.model.reflections import Flags, ReflectionTable
from braggflow.report.html.sections._common import (
    ReportOptions, Section, SectionBuilder, d_spacing, flag_set, image_numbers, resolution_axis,
)
from braggflow.report.html.sections._merging import merging_by_resolution, wilson_b
from braggflow.report.html.svg import Plot

__all__ = ["scaling_section", "scaled_intensities"]


def scaled_intensities(table: ReflectionTable) -> tuple[np.ndarray, np.ndarray, str] | None:
    """(I, sigma, description): intensity.scale.*, else prf (or sum) x lp / qe / inverse_scale_factor."""
    if "intensity.scale.value" in table and "intensity.scale.variance" in table:
        var = np.asarray(table["intensity.scale.variance"], dtype=np.float64)
        return np.asarray(table["intensity.scale.value"], dtype=np.float64), np.sqrt(np.where(var > 0, var, np.nan)), "intensity.scale"
    if "inverse_scale_factor" not in table:
        return None
    kind = "prf" if "intensity.prf.value" in table else "sum"
    if f"intensity.{kind}.value" not in table or f"intensity.{kind}.variance" not in table:
        return None
    corr = np.ones(len(table))
    if "lp" in table:
        corr = corr * np.asarray(table["lp"])
    if "qe" in table:
        corr = corr / np.asarray(table["qe"])
    g = np.asarray(table["inverse_scale_factor"], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.asarray(table[f"intensity.{kind}.value"]) * corr / g
        var = np.asarray(table[f"intensity.{kind}.variance"]) * (corr / g) ** 2
    return value, np.sqrt(np.where(var > 0, var, np.nan)), f"intensity.{kind} x lp / qe / inverse_scale_factor"


def _usable_rows(table: ReflectionTable) -> np.ndarray:
    keep = ~flag_set(table, Flags.bad_for_scaling)
    scaled = flag_set(table, Flags.scaled)
    if scaled.any():
        keep &= scaled
    if "id" in table:
        keep &= np.asarray(table["id"]) >= 0
    return keep


def _batch_plots(b: SectionBuilder, table: ReflectionTable, experiments: ExperimentList | None, d: np.ndarray | None) -> None:
    column = "xyzobs.px.value" if "xyzobs.px.value" in table else "xyzcal.px"
    if column not in table:
        b.note("Scale against batch: the table has no column xyzobs.px.value or xyzcal.px (needed for the image number).")
        return
    offset = experiments[0].scan.batch_offset if experiments and experiments[0].scan is not None else 0
    batch = image_numbers(np.asarray(table[column])[:, 2]) + offset
    g = np.asarray(table["inverse_scale_factor"], dtype=np.float64)
    ok = np.isfinite(g) & (g > 0)
    first = int(batch[ok].min())
    idx = batch[ok] - first
    n = np.bincount(idx).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_g = np.bincount(idx, weights=g[ok], minlength=n.size) / n
    x = np.arange(first, first + n.size)
    plot = Plot("Scale against batch", "batch", "mean inverse scale factor")
    plot.line(x, mean_g, label="inverse_scale_factor", markers=x.size < 60)
    b.plot(plot, "scale-batch", "Mean inverse scale factor of the reflections on each image (batch).", {"batch": x, "scale": mean_g})
    if d is None:
        b.note("B against batch: needs column d (or the geometry) to fit the resolution dependence of the scale.")
        return
    s = 1.0 / (2.0 * d[ok] ** 2)
    B = np.full(n.size, np.nan)
    for k in range(n.size):
        sel = (idx == k) & np.isfinite(s)
        if sel.sum() >= 5 and np.ptp(s[sel]) > 0.01:
            B[k] = np.polyfit(s[sel], np.log(g[ok][sel]), 1)[0]
    plot = Plot("B against batch", "batch", "B (Å²)")
    plot.line(x, B, label="B fitted per batch", markers=x.size < 60)
    b.plot(plot, "b-batch", "Relative B factor per batch, fitted as ln g = ln C + B/(2d²) to the inverse scale factors g of that image.",
           {"batch": x, "B": B})


def _resolution_plots(b: SectionBuilder, table: ReflectionTable, experiments: ExperimentList | None, options: ReportOptions) -> None:
    crystal = next((e.crystal for e in experiments or () if e.crystal is not None), None)
    if crystal is None:
        b.note("Merging statistics: needs the crystal model (space group and cell) from the scaled .expt.")
        return
    got = scaled_intensities(table)
    if got is None:
        b.note("Merging statistics: needs scaled data (intensity.scale.value/variance, or inverse_scale_factor with intensity.prf or intensity.sum).")
        return
    value, sigma, source = got
    rows = _usable_rows(table)
    hkl = np.asarray(table["miller_index"])[rows]
    n_bins = max(2, min(options.n_resolution_bins, int(rows.sum()) // 20 or 2))
    st = merging_by_resolution(hkl, value[rows], sigma[rows], crystal.unit_cell, crystal.space_group, n_bins=n_bins, seed=options.seed)
    x, edges = st.inv_d2_centres, st.inv_d2_edges
    b.paragraph(f"Statistics from {int(st.n_obs.sum())} observations of {int(st.n_unique.sum())} unique reflections "
                f"({source}; space group {crystal.space_group.hm}), in {n_bins} bins of equal reciprocal volume.")
    panels = (
        ("cc-half", "CC1/2", "CC1/2", st.cc_half, (min(0.0, float(np.nanmin(st.cc_half))) if np.isfinite(st.cc_half).any() else 0.0, 1.02)),
        ("completeness", "Completeness", "completeness (%)", st.completeness, (0.0, 102.0)),
        ("multiplicity", "Multiplicity", "multiplicity", st.multiplicity, None),
        ("isigma", "Merged I/sigma", "<I/sigma(I)>", st.i_over_sigma, None),
    )
    for key, title, ylabel, values, ylim in panels:
        plot = Plot(f"{title} against resolution", "", ylabel, ylim=ylim)
        plot.line(x, values, label=title, markers=True)
        resolution_axis(plot, edges)
        b.plot(plot, key, f"{title} per resolution bin.", {"inv_d2_centre": x, key: values})
    _wilson(b, x, edges, st.mean_i)
    plot = Plot("Anomalous signal against resolution", "", "<|I+ − I−| / sigma>")
    plot.line(x, st.anom_signal, label="acentric Bijvoet pairs", markers=True)
    plot.hline(np.sqrt(2 / np.pi), label="no signal (0.80)")
    resolution_axis(plot, edges)
    b.plot(plot, "anomalous", "Mean Bijvoet difference over its sigma; values clearly above 0.8 indicate an anomalous signal.",
           {"anom_signal": st.anom_signal, "n_pairs": st.n_anom_pairs})


def _wilson(b: SectionBuilder, x: np.ndarray, edges: np.ndarray, mean_i: np.ndarray) -> None:
    with np.errstate(invalid="ignore", divide="ignore"):
        ln_i = np.where(mean_i > 0, np.log(mean_i), np.nan)
    plot = Plot("Wilson plot", "", "ln <I>")
    plot.line(x, ln_i, label="ln <I>", markers=True)
    fit = wilson_b(x, mean_i)
    caption = "Logarithm of the mean merged intensity per resolution bin."
    if fit is not None:
        B, lnk = fit
        plot.line(edges, lnk - B * edges / 2.0, label=f"fit, B = {B:.1f} Å²", colour="#7f7f7f", dash="5 3")
        caption += f" Straight-line fit (d < 4.5 Å where possible): Wilson B = {B:.1f} Å²."
    resolution_axis(plot, edges)
    b.plot(plot, "wilson", caption, {"ln_mean_i": ln_i, "wilson_b": fit[0] if fit else None})


def scaling_section(experiments: ExperimentList | None, reflections: ReflectionTable | None,
                    options: ReportOptions | None = None) -> Section:
    options = options or ReportOptions()
    b = SectionBuilder("scaling", "After scaling")
    if not b.needs(reflections, ["inverse_scale_factor", "miller_index"], "Scaling plots (needs scaled data)"):
        return b.build()
    d = d_spacing(reflections, experiments, "xyzcal.px" if "xyzcal.px" in reflections else "xyzobs.px.value")
    _batch_plots(b, reflections, experiments, d)
    _resolution_plots(b, reflections, experiments, options)
    return b.build()
