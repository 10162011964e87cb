"""Templates, the attenuation table, and NXmx / DECTRIS HDF5 geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from braggflow.errors import InputDataError
from braggflow.formats.attenuation import mu_per_mm
from braggflow.formats.base import find_format
from braggflow.formats.template import expand_template, image_numbers_on_disk, paths_from_template, template_from_path


@pytest.mark.parametrize("name,template,number", [
    ("/d/th_8_2_0001.cbf", "/d/th_8_2_####.cbf", 1),
    ("thau_3_2_0017.cbf.bz2", "thau_3_2_####.cbf.bz2", 17),
    ("l-cyst_04_00015.cbf", "l-cyst_04_#####.cbf", 15),
    ("TIMEPIX_SU_512-stdgoni_0001.img", "TIMEPIX_SU_512-stdgoni_####.img", 1),
    ("x.0042", "x.####", 42),
])
def test_template_round_trip(name: str, template: str, number: int) -> None:
    assert template_from_path(name) == (template, number)
    assert expand_template(template, number) == name


def test_name_without_number_is_its_own_template() -> None:
    assert template_from_path("omega_scan.cbf") == ("omega_scan.cbf", None)
    assert expand_template("omega_scan.cbf", 1) == "omega_scan.cbf"


def test_image_numbers_on_disk_and_missing_range(tmp_path: Path) -> None:
    for n in (1, 2, 3, 7):
        (tmp_path / f"img_{n:03d}.cbf").write_bytes(b"")
    (tmp_path / "img_0004.cbf").write_bytes(b"")  # wrong width: not part of the template
    template = str(tmp_path / "img_###.cbf")
    assert image_numbers_on_disk(template) == [1, 2, 3, 7]
    assert paths_from_template(template, (1, 3))[-1].endswith("img_003.cbf")
    with pytest.raises(InputDataError, match="img_004.cbf"):
        paths_from_template(template, (3, 5))


def test_mu_matches_dials_and_is_zero_outside_table() -> None:
    assert mu_per_mm("Si", 0.6889) == pytest.approx(1.4153536370336604, rel=1e-14)  # DIALS 3.12 l-cysteine
    assert mu_per_mm("Si", 2.7552) == pytest.approx(76.29757805861905, rel=1e-14)  # DIALS 3.12 I23
    assert mu_per_mm("Si", 0.0251) == 0.0  # 494 keV electrons: off the table
    assert mu_per_mm("CdTe", 0.5) > 5 * mu_per_mm("Si", 0.5)
    assert mu_per_mm("", 1.0) == 0.0


def test_nxmx_geometry_matches_the_cbf_of_the_same_dataset(tests_data: Path) -> None:
    nxs = tests_data / "images/Therm_6_2.nxs"
    fmt = find_format(nxs)
    assert fmt.name() == "FormatNXmx"
    m = fmt.experiment_models(str(nxs))
    cbf = tests_data / "images/dlsnxs2cbf_therm_0001.cbf.gz"
    c = find_format(cbf).experiment_models(str(cbf))
    p, q = m.detector[0], c.detector[0]
    assert np.allclose(p.fast_axis, (1, 0, 0)) and np.allclose(p.slow_axis, (0, -1, 0))  # McStas flipped
    assert np.allclose(p.origin, q.origin, atol=2e-3)  # header rounding of 213.96 / Beam_xy
    assert p.image_size == (4148, 4362) and p.pixel_size == pytest.approx((0.075, 0.075))
    assert m.beam.wavelength == pytest.approx(0.98027, abs=1e-5)
    assert np.allclose(m.beam.direction, (0, 0, 1))
    assert m.scan.image_range == (1, 488)
    assert (m.scan.oscillation_start_deg, m.scan.oscillation_width_deg) == (174.0, 0.25)
    assert m.goniometer.names == ("phi", "chi", "omega") and m.goniometer.scan_axis == 2
    assert np.allclose(m.goniometer.lab_rotation_axis, (1, 0, 0))  # omega (-1,0,0) McStas
    assert fmt.num_frames(str(nxs)) == 488
    with pytest.raises(InputDataError, match="Therm_6_2_000001.h5.*missing"):
        fmt.read(str(nxs), 0, m.detector)


def test_dectris_master_geometry_and_missing_data(shared_data: Path) -> None:
    path = shared_data / "nexus/dectris_eiger_master.h5"
    fmt = find_format(path)
    assert fmt.name() == "FormatHDF5EigerNearlyNexus"
    m = fmt.experiment_models(str(path))
    p = m.detector[0]
    assert p.image_size == (3110, 3269)
    assert np.allclose(p.origin, (-1607.415 * 0.075, 1586.4314 * 0.075, -134.255), atol=1e-3)
    assert (m.scan.oscillation_start_deg, m.scan.oscillation_width_deg) == (0.0, 0.5)
    mask = fmt.pixel_mask(str(path), m.detector)[0]
    assert mask.shape == (3269, 3110) and mask.dtype == bool  # slimmed file: all zeros
    with pytest.raises(InputDataError, match="dectris_eiger_data_000001.h5.*missing"):
        fmt.read(str(path), 0, m.detector)


def test_dials_export_nxs_is_not_an_image_file(shared_data: Path) -> None:
    with pytest.raises(InputDataError, match="unknown image format"):
        find_format(shared_data / "nexus/thaumatin_integrated.nxs")
