"""Integration: I/sigma against resolution (sum and prf), CC prf, background and I/sigma against
image, and the profile model."""

from __future__ import annotations

import numpy as np

from braggflow.model import ExperimentList
from braggflow.model.reflections import Flags, ReflectionTable
from braggflow.report.html.sections._common import (
    ReportOptions, Section, SectionBuilder, binned_means, d_spacing, equal_volume_bins, flag_set, image_numbers,
    resolution_axis,
)
from braggflow.report.html.svg import Plot

__all__ = ["integration_section", "i_over_sigma"]


def i_over_sigma(table: ReflectionTable, kind: str) -> np.ndarray | None:
    """I/sigma of intensity.<kind> for rows integrated that way (NaN elsewhere); None if absent."""
    value, variance = f"intensity.{kind}.value", f"intensity.{kind}.variance"
    if value not in table or variance not in table:
        return None
    v = np.asarray(table[value], dtype=np.float64)
    var = np.asarray(table[variance], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(var > 0, v / np.sqrt(var), np.nan)
    flag = {"sum": Flags.integrated_sum, "prf": Flags.integrated_prf}.get(kind)
    if flag is not None and "flags" in table and flag_set(table, flag).any():
        out = np.where(flag_set(table, flag), out, np.nan)
    return out


def _summary(b: SectionBuilder, table: ReflectionTable) -> None:
    rows: list[tuple[str, object]] = [("Reflections", len(table))]
    if "flags" in table:
        for name, flag in (("Integrated by summation", Flags.integrated_sum), ("Integrated by profile fitting", Flags.integrated_prf),
                           ("Overloaded", Flags.overloaded), ("In ice rings", Flags.in_powder_ring),
                           ("Failed background modelling", Flags.failed_during_background_modelling),
                           ("Failed summation", Flags.failed_during_summation),
                           ("Failed profile fitting", Flags.failed_during_profile_fitting)):
            rows.append((name, int(flag_set(table, flag).sum())))
    if "partiality" in table:
        p = np.asarray(table["partiality"])
        rows.append(("Fully recorded (partiality > 0.99)", int((p > 0.99).sum())))
        rows.append(("Partially recorded", int((p <= 0.99).sum())))
    b.table(rows)


def _vs_resolution(b: SectionBuilder, table: ReflectionTable, d: np.ndarray | None, options: ReportOptions) -> None:
    if d is None:
        b.note("I/sigma against resolution: needs column d (or xyzcal.px, panel and the experiment geometry).")
        return
    edges = equal_volume_bins(d, options.n_resolution_bins)
    if not edges.size:
        b.note("I/sigma against resolution: no reflection has a finite resolution.")
        return
    with np.errstate(divide="ignore"):
        inv = 1.0 / d**2
    plot = Plot("I/sigma against resolution", "", "<I/sigma>")
    data: dict[str, object] = {"inv_d2_centre": 0.5 * (edges[:-1] + edges[1:])}
    for kind in ("sum", "prf"):
        ios = i_over_sigma(table, kind)
        if ios is None:
            b.note(f"I/sigma ({kind}) against resolution: the table has no intensity.{kind}.value/variance.")
            continue
        x, mean, _ = binned_means(inv, ios, edges)
        plot.line(x, mean, label=kind, markers=True)
        data[f"i_over_sigma_{kind}"] = mean
    resolution_axis(plot, edges)
    b.plot(plot, "isigma-resolution", "Mean I/sigma of the integrated reflections in resolution bins of equal reciprocal volume.", data)
    if "profile.correlation" in table:
        cc = np.asarray(table["profile.correlation"], dtype=np.float64)
        fitted = flag_set(table, Flags.integrated_prf)
        if fitted.any():
            cc = np.where(fitted, cc, np.nan)
        x, mean, _ = binned_means(inv, cc, edges)
        plot = Plot("CC prf against resolution", "", "<CC prf>", ylim=(min(0.0, float(np.nanmin(mean)) if np.isfinite(mean).any() else 0.0), 1.0))
        plot.line(x, mean, label="CC prf", markers=True)
        resolution_axis(plot, edges)
        b.plot(plot, "ccprf-resolution", "Mean correlation between the observed spots and the fitted profiles.", {"cc_prf": mean})
    else:
        b.note("CC prf: the table has no column profile.correlation.")


def _per_image(values: np.ndarray, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(values)
    first = int(images.min())
    idx = images - first
    n = np.bincount(idx[ok], minlength=int(idx.max()) + 1).astype(np.float64)
    s = np.bincount(idx[ok], weights=values[ok], minlength=n.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.arange(first, first + n.size), np.where(n > 0, s / n, np.nan)


def _vs_image(b: SectionBuilder, table: ReflectionTable) -> None:
    column = "xyzcal.px" if "xyzcal.px" in table else "xyzobs.px.value"
    if column not in table:
        b.note("Plots against image: the table has no column xyzcal.px or xyzobs.px.value.")
        return
    integrated = flag_set(table, Flags.integrated, any_bit=True)
    if integrated.any():
        table = table.select(integrated)
    images = image_numbers(np.asarray(table[column])[:, 2])
    if not images.size:
        return
    plot = Plot("I/sigma against image", "image", "<I/sigma>")
    for kind in ("sum", "prf"):
        ios = i_over_sigma(table, kind)
        if ios is not None:
            x, mean = _per_image(ios, images)
            plot.line(x, mean, label=kind, markers=x.size < 60)
    b.plot(plot, "isigma-image", "Mean I/sigma of the reflections centred on each image.")
    if "background.mean" in table:
        x, mean = _per_image(np.asarray(table["background.mean"], dtype=np.float64), images)
        plot = Plot("Background against image", "image", "mean background (counts/pixel)")
        plot.line(x, mean, label="background.mean", markers=x.size < 60)
        b.plot(plot, "background-image", "Mean background per pixel under the reflections centred on each image.", {"image": x, "background": mean})
    else:
        b.note("Background against image: the table has no column background.mean.")


def _profile_model(b: SectionBuilder, experiments: ExperimentList | None) -> None:
    models = [(i, e.profile) for i, e in enumerate(experiments or ()) if e.profile is not None]
    if not models:
        b.note("Profile model: the experiments have no profile model (an integrated .expt has one).")
        return
    b.table([(f"Experiment {i}", f"{p.sigma_b_deg:.4f}", f"{p.sigma_m_deg:.4f}", f"{p.n_sigma:g}") for i, p in models],
            header=("", "sigma_b (deg)", "sigma_m (deg)", "n_sigma"), caption="Gaussian profile model (gaussian_rs)")
    i, p = models[0]
    limit = 1.2 * p.n_sigma * max(p.sigma_b_deg, p.sigma_m_deg)
    t = np.linspace(-limit, limit, 121)
    plot = Plot("Profile model", "angle from the reflection centre (deg)", "relative density", ylim=(0, 1.05))
    plot.line(t, np.exp(-0.5 * (t / p.sigma_b_deg) ** 2), label="beam divergence, e1/e2 (sigma_b)")
    plot.line(t, np.exp(-0.5 * (t / p.sigma_m_deg) ** 2), label="mosaicity, e3 (sigma_m)")
    for s, c in ((p.sigma_b_deg, "#1f77b4"), (p.sigma_m_deg, "#d62728")):
        plot.vband(-p.n_sigma * s, -p.n_sigma * s, colour=c, opacity=0.6)
        plot.vband(p.n_sigma * s, p.n_sigma * s, colour=c, opacity=0.6)
    b.plot(plot, "profile", f"Gaussian profile of experiment {i} in the Kabsch frame; thin bars mark the ±n_sigma foreground limits.",
           {"sigma_b_deg": p.sigma_b_deg, "sigma_m_deg": p.sigma_m_deg})


def integration_section(experiments: ExperimentList | None, reflections: ReflectionTable | None,
                        options: ReportOptions | None = None) -> Section:
    options = options or ReportOptions()
    b = SectionBuilder("integration", "Integration")
    if reflections is None:
        b.note("Integration plots: no integrated reflection table given.")
    else:
        _summary(b, reflections)
        _vs_resolution(b, reflections, d_spacing(reflections, experiments, "xyzcal.px"), options)
        _vs_image(b, reflections)
    _profile_model(b, experiments)
    return b.build()
