"""Geometry overrides of dials.import (`geometry.*`), applied to imported experiments.

Pure functions: each returns new models (frozen dataclasses) and never touches files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from braggflow.errors import ParameterError
from braggflow.formats.attenuation import mu_per_mm
from braggflow.model import Beam, Detector, Experiment, ExperimentList, Goniometer, Scan


@dataclass(frozen=True)
class GeometryOverrides:
    """Values from the geometry scope; None means 'keep what the image header says'."""

    wavelength: float | None = None
    direction: tuple[float, float, float] | None = None
    distance: float | None = None
    fast_slow_beam_centre: tuple[float, ...] | None = None
    slow_fast_beam_centre: tuple[float, ...] | None = None
    goniometer_axes: tuple[float, ...] | None = None
    image_range: tuple[int, int] | None = None
    oscillation: tuple[float, float] | None = None


def override_beam(beam: Beam, wavelength: float | None, direction: tuple[float, float, float] | None) -> Beam:
    changes: dict[str, object] = {}
    if wavelength is not None:
        if wavelength <= 0:
            raise ParameterError(f"geometry.beam.wavelength = {wavelength}: must be > 0 (Angstrom)")
        changes["wavelength"] = wavelength
    if direction is not None:
        if np.linalg.norm(direction) == 0:
            raise ParameterError("geometry.beam.direction = 0 0 0: needs a non-zero vector (sample to source)")
        changes["direction"] = np.asarray(direction, dtype=float)
    return beam.replace(**changes) if changes else beam


def _shift(detector: Detector, delta_mm: np.ndarray) -> Detector:
    return Detector(tuple(p.replace(origin=p.origin + delta_mm) for p in detector.panels), detector.hierarchy)


def set_distance(detector: Detector, distance_mm: float) -> Detector:
    """Move the whole detector along panel 0's normal so that panel 0 is `distance_mm` away."""
    if distance_mm <= 0:
        raise ParameterError(f"geometry.detector.distance = {distance_mm}: must be > 0 (mm)")
    p0 = detector[0]
    normal = p0.normal if np.dot(p0.normal, p0.origin) > 0 else -p0.normal
    return _shift(detector, (distance_mm - p0.distance) * normal)


def set_beam_centre(detector: Detector, beam: Beam, fast_px: float, slow_px: float, panel: int = 0) -> Detector:
    """Translate the detector in panel `panel`'s plane so the beam hits (fast_px, slow_px)."""
    if not 0 <= panel < len(detector):
        raise ParameterError(f"geometry.detector.fast_slow_beam_centre: panel {panel} does not exist ({len(detector)} panels)")
    p = detector[panel]
    current = p.beam_centre_mm(beam.s0)
    if current is None:
        raise ParameterError(f"geometry.detector.fast_slow_beam_centre: the beam does not hit panel {panel}")
    dx = fast_px * p.pixel_size[0] - current[0]
    dy = slow_px * p.pixel_size[1] - current[1]
    return _shift(detector, -dx * p.fast_axis - dy * p.slow_axis)


def override_goniometer(gonio: Goniometer | None, axes: tuple[float, ...] | None) -> Goniometer | None:
    if axes is None or gonio is None:
        return gonio
    values = [float(v) for v in axes]
    if gonio.is_multi_axis and len(values) == 3 * len(gonio.axes):
        vecs = [tuple(values[3 * k : 3 * k + 3]) for k in range(len(gonio.axes))]
        return Goniometer.from_axes(vecs, list(gonio.angles), list(gonio.names), gonio.scan_axis)  # type: ignore[arg-type]
    if len(values) == 3:
        if gonio.is_multi_axis:
            vecs = [tuple(a) for a in gonio.axes]
            vecs[gonio.scan_axis] = tuple(values)  # type: ignore[assignment]
            return Goniometer.from_axes(vecs, list(gonio.angles), list(gonio.names), gonio.scan_axis)  # type: ignore[arg-type]
        return gonio.replace(rotation_axis=np.asarray(values))
    n = 3 * len(gonio.axes) if gonio.is_multi_axis else 3
    raise ParameterError(f"geometry.goniometer.axes: {len(values)} numbers given, {n} expected (x y z per axis, innermost first)")


def override_scan(scan: Scan | None, image_range: tuple[int, int] | None, oscillation: tuple[float, float] | None) -> Scan | None:
    if scan is None:
        return None
    if image_range is not None:
        first, last = int(image_range[0]), int(image_range[1])
        lo, hi = scan.image_range
        if not lo <= first <= last <= hi:
            raise ParameterError(f"geometry.scan.image_range = {first},{last}: outside the images found ({lo}-{hi})")
        scan = scan.slice(first, last).replace(batch_offset=first - 1)
    if oscillation is not None:
        scan = scan.replace(oscillation_start_deg=float(oscillation[0]), oscillation_width_deg=float(oscillation[1]))
    return scan


def _recompute_mu(detector: Detector, wavelength: float) -> Detector:
    panels = tuple(p.replace(mu=mu_per_mm(p.material, wavelength)) if p.material else p for p in detector.panels)
    return Detector(panels, detector.hierarchy)


def apply_overrides(experiments: ExperimentList, ov: GeometryOverrides) -> ExperimentList:
    """New experiments with the overrides applied (shared models stay shared)."""
    out = ExperimentList()
    for e in experiments:
        beam = override_beam(e.beam, ov.wavelength, ov.direction)
        detector = e.detector
        if ov.wavelength is not None:
            detector = _recompute_mu(detector, beam.wavelength)
        if ov.distance is not None:
            detector = set_distance(detector, ov.distance)
        centre = ov.fast_slow_beam_centre
        if ov.slow_fast_beam_centre is not None:
            sf = list(ov.slow_fast_beam_centre)
            centre = (sf[1], sf[0], *sf[2:])
        if centre is not None:
            if len(centre) not in (2, 3):
                raise ParameterError("geometry.detector.fast_slow_beam_centre: give fast slow [panel]")
            detector = set_beam_centre(detector, beam, centre[0], centre[1], int(centre[2]) if len(centre) == 3 else 0)
        scan = override_scan(e.scan, ov.image_range, ov.oscillation)
        ref = e.imageset
        if ref is not None and ref.single_file_indices is not None and scan is not None and ov.image_range is not None:
            ref = type(ref)(**{**ref.__dict__, "single_file_indices": tuple(range(scan.image_range[0] - 1, scan.image_range[1]))})
        out.append(e.replace(beam=beam, detector=detector, goniometer=override_goniometer(e.goniometer, ov.goniometer_axes), scan=scan, imageset=ref))
    return out


__all__ = ["GeometryOverrides", "apply_overrides", "override_beam", "override_goniometer", "override_scan", "set_beam_centre", "set_distance"]
