"""Import: a geometry summary per experiment and the detector outline with the beam centre."""

from __future__ import annotations

import numpy as np

from braggflow.model import ExperimentList
from braggflow.model.reflections import ReflectionTable
from braggflow.report.html.sections._common import DetectorView, ReportOptions, Section, SectionBuilder

__all__ = ["import_section"]


def _vec(v: np.ndarray) -> str:
    return "(" + ", ".join(f"{x:.4f}" for x in np.asarray(v)) + ")"


def _geometry_rows(i: int, e) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    rows: list[tuple[str, str]] = []
    if e.beam is not None:
        rows.append(("Wavelength (Å)", f"{e.beam.wavelength:.5f}"))
        rows.append(("Beam direction (sample to source)", _vec(e.beam.direction)))
    if e.detector is not None:
        panels = e.detector.panels
        p0 = panels[0]
        rows.append(("Detector panels", f"{len(panels)} x {p0.image_size[0]} x {p0.image_size[1]} px ({p0.type})"))
        rows.append(("Pixel size (mm)", f"{p0.pixel_size[0]:.4f} x {p0.pixel_size[1]:.4f}"))
        rows.append(("Distance (mm)", f"{p0.distance:.2f}"))
        rows.append(("Trusted range", f"{p0.trusted_range[0]:g} to {p0.trusted_range[1]:g}"))
        if e.beam is not None:
            centre = p0.beam_centre_mm(e.beam.s0)
            if centre is not None:
                px = (centre[0] / p0.pixel_size[0], centre[1] / p0.pixel_size[1])
                rows.append(("Beam centre (mm, panel 0)", f"{centre[0]:.2f}, {centre[1]:.2f}"))
                rows.append(("Beam centre (px, panel 0)", f"{px[0]:.2f}, {px[1]:.2f}"))
    if e.goniometer is not None:
        rows.append(("Rotation axis (lab)", _vec(e.goniometer.lab_rotation_axis)))
    if e.scan is not None:
        lo, hi = e.scan.oscillation_range_deg
        rows.append(("Images", f"{e.scan.image_range[0]} to {e.scan.image_range[1]} ({e.scan.num_images})"))
        rows.append(("Oscillation (deg)", f"{lo:.3f} to {hi:.3f}, {e.scan.oscillation_width_deg:.4g} per image"))
    if e.imageset is not None and (e.imageset.template or e.imageset.paths):
        rows.append(("Images from", e.imageset.template or f"{e.imageset.paths[0]} (+{len(e.imageset.paths) - 1})"))
    if e.crystal is not None:
        c = e.crystal.unit_cell
        rows.append(("Space group", e.crystal.space_group.hm))
        rows.append(("Unit cell", f"{c.a:.4f}, {c.b:.4f}, {c.c:.4f}, {c.alpha:.3f}, {c.beta:.3f}, {c.gamma:.3f}"))
    return rows


def import_section(experiments: ExperimentList | None, reflections: ReflectionTable | None = None,
                   options: ReportOptions | None = None) -> Section:
    b = SectionBuilder("import", "Import: experimental geometry")
    if not experiments:
        b.note("Geometry: no experiment list given (an .expt file is needed).")
        return b.build()
    for i, e in enumerate(experiments):
        rows = _geometry_rows(i, e)
        b.table(rows, caption=f"Experiment {i}" + (f" ({e.identifier})" if e.identifier else ""))
    seen: list = []
    for i, e in enumerate(experiments):
        if e.detector is None or e.beam is None or any(e.detector is d for d in seen):
            continue
        seen.append(e.detector)
        view = DetectorView(e)
        plot = view.base_plot(f"Detector and beam centre (experiment {i})", rings=(10.0, 5.0, 3.0, 2.0, 1.5))
        centre = view.beam_centre()
        if centre is not None:
            plot.marker(centre[0], centre[1], label="beam centre")
        b.plot(plot, f"detector-{i}", "Panel outlines as seen from the sample, with resolution rings (Å) and the direct-beam position.",
               data={"beam_centre_mm": list(centre) if centre else None})
    if not seen:
        b.note("Detector outline: the experiments have no detector or beam model.")
    return b.build()
