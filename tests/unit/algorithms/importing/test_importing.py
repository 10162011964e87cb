"""Sweep grouping and geometry overrides on synthetic image records (no files)."""

from __future__ import annotations

import numpy as np
import pytest

from braggflow.algorithms.importing import GeometryOverrides, ImageRecord, apply_overrides, build_experiments, group_into_sweeps, summarise
from braggflow.errors import InputDataError, ParameterError
from braggflow.formats.base import ImageModels
from braggflow.model import Beam, Detector, Goniometer, Panel, Scan


def _detector(origin=(-200.0, 210.0, -300.0), size=(2463, 2527)) -> Detector:
    return Detector((Panel(fast_axis=(1, 0, 0), slow_axis=(0, -1, 0), origin=origin, pixel_size=(0.172, 0.172), image_size=size),))


def _record(n: int, start: float, width: float = 0.1, template: str = "/d/x_####.cbf", **kw) -> ImageRecord:
    beam = kw.get("beam", Beam(direction=(0, 0, 1), wavelength=1.0))
    det = kw.get("detector", _detector())
    scan = Scan(image_range=(n, n), oscillation_start_deg=start, oscillation_width_deg=width, epochs=np.array([float(n)]))
    return ImageRecord(f"/d/x_{n:04d}.cbf", "FormatCBFMiniPilatus", template, n, ImageModels(beam, det, Goniometer(), scan))


def test_contiguous_images_form_one_sweep() -> None:
    groups = group_into_sweeps([_record(n, 0.1 * (n - 1)) for n in (3, 1, 2, 4)])
    assert len(groups) == 1
    (exp,) = build_experiments(groups)
    assert exp.scan.image_range == (1, 4) and exp.scan.oscillation_width_deg == pytest.approx(0.1)
    assert exp.scan.epochs.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert exp.imageset.template == "/d/x_####.cbf"


def test_gap_in_numbers_or_angle_gives_two_sweeps() -> None:
    by_number = group_into_sweeps([_record(n, 0.1 * (n - 1)) for n in (1, 2, 5, 6)])
    assert [len(g.records) for g in by_number] == [2, 2]
    by_angle = group_into_sweeps([_record(1, 0.0), _record(2, 0.1), _record(3, 5.0), _record(4, 5.1)])
    assert [len(g.records) for g in by_angle] == [2, 2]
    assert summarise(by_angle)["num_sweeps"] == 2


def test_changed_beam_starts_new_sweep() -> None:
    other = Beam(direction=(0, 0, 1), wavelength=1.1)
    groups = group_into_sweeps([_record(1, 0.0), _record(2, 0.1, beam=other)])
    assert len(groups) == 2


def test_zero_width_images_are_stills() -> None:
    groups = group_into_sweeps([_record(n, 90.0, width=0.0) for n in (1, 2, 3)])
    info = summarise(groups)
    assert (info["num_stills"], info["num_sweeps"], info["num_images"]) == (3, 0, 3)
    assert [e.scan.image_range for e in build_experiments(groups)] == [(1, 1), (2, 2), (3, 3)]


def test_backwards_oscillation_is_an_error() -> None:
    with pytest.raises(InputDataError, match="x_0002.cbf: oscillation goes backwards"):
        group_into_sweeps([_record(1, 0.1), _record(2, 0.0)])


def test_mixed_detector_sizes_in_one_template_is_an_error() -> None:
    with pytest.raises(InputDataError, match="x_0002.cbf: detector differs"):
        group_into_sweeps([_record(1, 0.0), _record(2, 0.1, detector=_detector(size=(1475, 1679)))])


def test_overrides_distance_beam_centre_wavelength_and_scan() -> None:
    (exp,) = build_experiments(group_into_sweeps([_record(n, 0.1 * (n - 1)) for n in range(1, 11)]))
    ov = GeometryOverrides(wavelength=0.9, distance=250.0, fast_slow_beam_centre=(1200.5, 1300.25),
                           image_range=(3, 5), oscillation=(10.0, 0.2), goniometer_axes=(0.0, 1.0, 0.0))
    (new,) = apply_overrides([exp], ov)
    p = new.detector[0]
    assert p.distance == pytest.approx(250.0)
    assert np.array(p.beam_centre_mm(new.beam.s0)) / 0.172 == pytest.approx((1200.5, 1300.25))
    assert new.beam.wavelength == 0.9 and exp.beam.wavelength == 1.0
    assert new.scan.image_range == (3, 5) and new.scan.batch_offset == 2
    assert (new.scan.oscillation_start_deg, new.scan.oscillation_width_deg) == (10.0, 0.2)
    assert np.allclose(new.goniometer.rotation_axis, (0, 1, 0))
    with pytest.raises(ParameterError, match="geometry.scan.image_range"):
        apply_overrides([exp], GeometryOverrides(image_range=(5, 20)))
