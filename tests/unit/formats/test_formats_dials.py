"""Geometry of every real image equals DIALS 3.12's own import of it (dials312_*/imported.expt).

The reference numbers are DIALS's: each test reads DIALS's imported.expt (converted to the lab
frame by braggflow.formats.expt_io) and compares every model field. A core subset runs on the
copies in tests/data/images; the rest needs ../shared/data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from braggflow.formats.base import find_format
from braggflow.formats.expt_io import read_experiments

# file -> (DIALS 3.12 format class, reference experiment list relative to reflections/)
SHARED_CASES = {
    "images/l_cysteine_sweep4/l-cyst_04_00001.cbf": ("FormatCBFFullPilatus", "dials312_l_cysteine_sweep4/imported.expt"),
    "images/thaumatin_grid/thau_3_2_0001.cbf.bz2": ("FormatCBFMiniPilatusDLS6MSN119", "dials312_thaumatin_grid/thau_3_2_0001/imported.expt"),
    "images/thaumatin_grid/thau_3_2_0004.cbf.bz2": ("FormatCBFMiniPilatusDLS6MSN119", "dials312_thaumatin_grid/thau_3_2_0004/imported.expt"),
    "images/single/DLS_I23_P12M_thau_00001.cbf.gz": ("FormatCBFMiniPilatusDLS12M", "dials312_single/DLS_I23_P12M_thau_00001/imported.expt"),
    "images/single/dlsnxs2cbf_therm_0001.cbf.gz": ("FormatCBFMiniEigerDLS16MSN160", "dials312_single/dlsnxs2cbf_therm_0001/imported.expt"),
    "images/single/DLS_I03_smargon_0001.cbf.gz": ("FormatCBFFullPilatus", "dials312_single/DLS_I03_smargon_0001/imported.expt"),
    "images/single/TIMEPIX_SU_512-stdgoni_0001.img": ("FormatSMVTimePix_SU_512x512", "dials312_single/TIMEPIX_SU_512-stdgoni_0001/imported.expt"),
    "images/single/TIMEPIX_SU_516-stdgoni_0001.img": ("FormatSMVTimePix_SU_516x516", "dials312_single/TIMEPIX_SU_516-stdgoni_0001/imported.expt"),
    "images/single/adsc_001.img.bz2": ("FormatSMVADSCSN", "dials312_single/adsc_001/imported.expt"),
    "images/single/phi_scan_001.cbf": ("FormatCBFFullPilatus", "dials312_single/phi_scan_001/imported.expt"),
}
# the same comparison on the committed copies (tests/data/images)
LOCAL_CASES = {
    "phi_scan_001.cbf": "dials312/phi_scan_001.expt",
    "TIMEPIX_SU_516-stdgoni_0001.img": "dials312/TIMEPIX_SU_516-stdgoni_0001.expt",
    "dlsnxs2cbf_therm_0001.cbf.gz": "dials312/dlsnxs2cbf_therm_0001.expt",
    "DLS_I03_smargon_0001.cbf.gz": "dials312/DLS_I03_smargon_0001.expt",
}


def assert_same_geometry(image: Path, reference: Path) -> None:
    fmt = find_format(image)
    ours = fmt.experiment_models(str(image))
    ref = read_experiments(reference)[0]
    # beam
    assert np.allclose(ours.beam.direction, ref.beam.direction, atol=1e-12)
    assert ours.beam.wavelength == pytest.approx(ref.beam.wavelength, abs=1e-12)
    assert ours.beam.polarization_fraction == pytest.approx(ref.beam.polarization_fraction)
    assert ours.beam.flux == pytest.approx(ref.beam.flux)
    assert ours.beam.transmission == pytest.approx(ref.beam.transmission)
    # detector: every panel field
    assert len(ours.detector) == len(ref.detector)
    for a, b in zip(ours.detector.panels, ref.detector.panels):
        assert np.allclose(a.fast_axis, b.fast_axis, atol=1e-9), a.name
        assert np.allclose(a.slow_axis, b.slow_axis, atol=1e-9), a.name
        assert np.allclose(a.origin, b.origin, atol=1e-6), (a.origin, b.origin)
        assert a.pixel_size == pytest.approx(b.pixel_size, abs=1e-12)
        assert a.image_size == b.image_size
        assert a.trusted_range == pytest.approx(b.trusted_range)  # DIALS' -1 (exclusive) reads as 0
        assert a.thickness == pytest.approx(b.thickness)
        assert a.material == b.material
        assert a.mu == pytest.approx(b.mu, rel=1e-12)
        assert a.identifier == b.identifier
        assert a.mask == b.mask
        assert a.gain == pytest.approx(b.gain)
        assert a.px_mm_strategy == b.px_mm_strategy
        assert a.type == b.type
        assert a.name == b.name
        assert a.raw_image_offset == b.raw_image_offset
    # goniometer
    g, h = ours.goniometer, ref.goniometer
    assert np.allclose(g.rotation_axis, h.rotation_axis, atol=1e-9)
    assert np.allclose(g.fixed_rotation, h.fixed_rotation, atol=1e-9)
    assert np.allclose(g.setting_rotation, h.setting_rotation, atol=1e-9)
    assert g.names == h.names and g.scan_axis == h.scan_axis
    # scan
    s, t = ours.scan, ref.scan
    if t.num_images > 1:  # a sweep: compare with DIALS's scan restricted to this image
        t = t.slice(*s.image_range)
    assert s.image_range == t.image_range
    assert s.oscillation_start_deg == pytest.approx(t.oscillation_start_deg)
    assert s.oscillation_width_deg == pytest.approx(t.oscillation_width_deg)
    assert np.allclose(s.exposure_times, t.exposure_times)
    assert np.allclose(s.epochs, t.epochs, atol=1e-3)
    assert s.batch_offset == t.batch_offset


@pytest.mark.parametrize("name", sorted(LOCAL_CASES))
def test_local_copy_geometry_equals_dials312(tests_data: Path, name: str) -> None:
    base = tests_data / "images"
    assert_same_geometry(base / name, base / LOCAL_CASES[name])


@pytest.mark.parametrize("name", sorted(SHARED_CASES))
def test_shared_image_geometry_equals_dials312(shared_data: Path, name: str) -> None:
    fmt_name, reference = SHARED_CASES[name]
    assert find_format(shared_data / name).name() == fmt_name
    assert_same_geometry(shared_data / name, shared_data / "reflections" / reference)


def test_omega_scan_is_dials_scan_with_reversed_axis(tests_data: Path, shared_data: Path) -> None:
    """omega_scan.cbf has a -0.5 deg increment. DIALS 3.12 reports (10, +0.5) about +x, which
    turns the crystal the wrong way; braggflow reports (10, +0.5) about -x (the same motion
    as the header's -10 - 0.5 z about +x)."""
    image = shared_data / "images/single/omega_scan.cbf"
    ours = find_format(image).experiment_models(str(image))
    ref = read_experiments(shared_data / "reflections/dials312_single/omega_scan/imported.expt")[0]
    assert (ours.scan.oscillation_start_deg, ours.scan.oscillation_width_deg) == (10.0, 0.5)
    assert (ref.scan.oscillation_start_deg, ref.scan.oscillation_width_deg) == (10.0, 0.5)
    assert np.allclose(ours.goniometer.rotation_axis, -ref.goniometer.rotation_axis)
    header = ref.goniometer.rotation(np.radians(-10.0 - 0.5 * 0.3))
    assert np.allclose(ours.goniometer.rotation(np.radians(10.0 + 0.5 * 0.3)), header, atol=1e-12)
    assert np.allclose(ours.detector[0].origin, ref.detector[0].origin, atol=1e-6)


def test_dials_reference_numbers_recorded_in_readme(shared_data: Path) -> None:
    """A few of the DIALS 3.12 figures from data/README.md, written out literally."""
    image = shared_data / "images/thaumatin_grid/thau_3_2_0001.cbf.bz2"
    m = find_format(image).experiment_models(str(image))
    assert np.allclose(m.detector[0].origin, (-216.99692, 224.79712, -351.0), atol=1e-9)
    assert m.detector[0].trusted_range == (0.0, 115897.0)
    assert np.allclose(m.goniometer.rotation_axis, (0, 1, 0))
    assert (m.scan.oscillation_start_deg, m.scan.oscillation_width_deg) == (89.9997, 0.0)
    assert m.detector[0].mu == pytest.approx(3.8326187041206916, rel=1e-14)
    lcys = shared_data / "images/l_cysteine_sweep4/l-cyst_04_00001.cbf"
    p = find_format(lcys).experiment_models(str(lcys)).detector[0]
    assert np.allclose(p.origin, (-148.78, -125.56, -160.0)) and np.allclose(p.fast_axis, (0, 1, 0))
    beam_mm = p.beam_centre_mm(np.array([0, 0, -1 / 0.6889]))
    assert np.allclose(beam_mm, (125.56, 148.78)) and np.allclose(np.array(beam_mm) / 0.172, (730.0, 865.0))
