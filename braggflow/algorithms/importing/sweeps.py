"""Group classified images into sweeps (rotation scans) and stills, and build experiments.

Rules (as dials.import): images of one template with consecutive numbers whose oscillation
continues (start of image n+1 = end of image n, within `osc_tolerance` of the width) and
whose beam, detector and goniometer agree form one sweep. A gap in the numbers or in the
angles, or a change of beam/detector/goniometer, starts a new sweep. Zero-width images are
stills: one experiment each. Going backwards (or repeating an angle) between consecutive
images, or a change of detector size within a template, is an input error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from braggflow.algorithms.importing.classify import ImageRecord
from braggflow.errors import InputDataError
from braggflow.model import Experiment, ExperimentList, ImageSetRef, Scan


@dataclass(frozen=True)
class Tolerances:
    """input.tolerance.* of dials.import (scan oscillation as a fraction of the width)."""

    oscillation: float = 0.03
    wavelength: float = 1.0e-6
    direction_rad: float = 1.0e-6
    origin_mm: float = 5.0e-2
    axis: float = 1.0e-6


@dataclass
class Group:
    """Images forming one experiment (a sweep, or a single still)."""

    records: list[ImageRecord] = field(default_factory=list)

    @property
    def is_still(self) -> bool:
        return self.records[0].is_still and not self.records[0].multi_frame

    @property
    def first(self) -> ImageRecord:
        return self.records[0]


def _same_models(a: ImageRecord, b: ImageRecord, tol: Tolerances) -> bool:
    ma, mb = a.models, b.models
    if not ma.beam.is_similar_to(mb.beam, wavelength_tol=tol.wavelength, angle_tol_rad=tol.direction_rad):
        return False
    if not ma.detector.is_similar_to(mb.detector, tol_mm=tol.origin_mm):
        return False
    if (ma.goniometer is None) != (mb.goniometer is None):
        return False
    return ma.goniometer is None or ma.goniometer.is_similar_to(mb.goniometer, tol=tol.axis)  # type: ignore[arg-type]


def _check_detector_shape(prev: ImageRecord, rec: ImageRecord) -> None:
    shape_a = [p.image_size for p in prev.models.detector.panels]
    shape_b = [p.image_size for p in rec.models.detector.panels]
    if shape_a != shape_b:
        raise InputDataError(rec.path, f"detector differs from {prev.path} ({shape_b} vs {shape_a} px) within one image "
                             "template; import the two detectors separately")


def _continues(prev: ImageRecord, rec: ImageRecord, tol: Tolerances) -> bool:
    """True if `rec` extends the sweep ending with `prev`; raises on backwards angles."""
    if rec.template != prev.template or rec.image_number != prev.image_number + 1:
        return False
    _check_detector_shape(prev, rec)
    sa, sb = prev.models.scan, rec.models.scan
    if sa is None or sb is None or rec.is_still or prev.is_still:
        return False
    width = sa.oscillation_width_deg
    if abs(sb.oscillation_width_deg - width) > tol.oscillation * abs(width):
        return False
    step = sb.oscillation_start_deg - sa.oscillation_start_deg
    if step * width <= 0:
        raise InputDataError(rec.path, f"oscillation goes backwards or repeats: starts at {sb.oscillation_start_deg:g} deg "
                             f"after {prev.path} at {sa.oscillation_start_deg:g} deg (width {width:g}); check the image order")
    if abs(step - width) > tol.oscillation * abs(width):
        return False
    return _same_models(prev, rec, tol)


def group_into_sweeps(records: list[ImageRecord], tol: Tolerances = Tolerances()) -> list[Group]:
    """Sweeps and stills, in template and image-number order."""
    ordered = sorted(records, key=lambda r: (r.template, r.image_number))
    for a, b in zip(ordered, ordered[1:]):
        if a.template == b.template and a.image_number == b.image_number and not a.multi_frame:
            raise InputDataError(b.path, f"image number {b.image_number} given twice (also {a.path})")
    groups: list[Group] = []
    for rec in ordered:
        if groups and not rec.multi_frame and _continues(groups[-1].records[-1], rec, tol):
            groups[-1].records.append(rec)
        else:
            groups.append(Group([rec]))
    return groups


def merged_scan(group: Group) -> Scan | None:
    """One scan covering every image of the group (exposures and epochs concatenated)."""
    scans = [r.models.scan for r in group.records]
    if scans[0] is None:
        return None
    if len(scans) == 1:
        return scans[0]
    first, last = group.records[0].image_number, group.records[-1].image_number
    return Scan(
        image_range=(first, last), oscillation_start_deg=scans[0].oscillation_start_deg,
        oscillation_width_deg=scans[0].oscillation_width_deg,
        exposure_times=np.concatenate([s.exposure_times for s in scans]),  # type: ignore[union-attr]
        epochs=np.concatenate([s.epochs for s in scans]),  # type: ignore[union-attr]
        batch_offset=first - 1,
    )


def build_experiments(groups: list[Group]) -> ExperimentList:
    """One experiment per group; models come from the group's first image."""
    out = ExperimentList()
    for group in groups:
        rec = group.first
        scan = merged_scan(group)
        if rec.multi_frame:
            n = scan.num_images if scan is not None else 1
            ref = ImageSetRef(kind="ImageSequence", template=rec.path, single_file_indices=tuple(range(n)), format_name=rec.format_name)
        else:
            ref = ImageSetRef(kind="ImageSequence", template=rec.template, format_name=rec.format_name)
        m = rec.models
        out.append(Experiment(beam=m.beam, detector=m.detector, goniometer=m.goniometer, scan=scan, imageset=ref))
    return out


def summarise(groups: list[Group]) -> dict[str, object]:
    """Counts for the import report: format names, images, sweeps, stills."""
    formats = sorted({g.first.format_name for g in groups})
    n_images = sum(g.first.models.scan.num_images if g.first.multi_frame and g.first.models.scan else len(g.records) for g in groups)
    return {
        "formats": formats,
        "num_images": n_images,
        "num_sweeps": sum(1 for g in groups if not g.is_still),
        "num_stills": sum(1 for g in groups if g.is_still),
    }


__all__ = ["Group", "Tolerances", "build_experiments", "group_into_sweeps", "merged_scan", "summarise"]
