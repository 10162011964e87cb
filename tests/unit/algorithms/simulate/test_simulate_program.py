"""braggflow.simulate end to end on a tiny sweep: files, headers, truth, errors."""

from __future__ import annotations

import fabio
import gemmi
import numpy as np
import pytest

from braggflow.formats.expt_io import read_experiments
from braggflow.formats.refl_io import read_refl
from braggflow.pipeline.programs.simulate import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):  # type: ignore[no-untyped-def]
    import os

    d = tmp_path_factory.mktemp("sim")
    old = os.getcwd()
    os.chdir(d)
    try:
        rc = main(["preset=small_256", "num_images=3", "output.directory=out", "anomalous=True", "detector.dead_pixel_fraction=0.001"])
    finally:
        os.chdir(old)
    assert rc == 0
    return d / "out"


def test_writes_images_and_truth_files(run_dir):  # type: ignore[no-untyped-def]
    names = sorted(p.name for p in run_dir.iterdir())
    assert names == ["image_00001.cbf", "image_00002.cbf", "image_00003.cbf", "truth.expt", "truth.mtz",
                     "truth.refl", "truth_partials.refl"]


def test_images_read_back_with_fabio_and_carry_the_geometry(run_dir):  # type: ignore[no-untyped-def]
    img = fabio.open(str(run_dir / "image_00002.cbf"))
    assert img.data.shape == (256, 256) and img.data.dtype == np.int32
    assert (img.data == -2).sum() == pytest.approx(0.001 * 256 * 256, abs=1)
    assert img.data.max() > 100  # spots
    text = (run_dir / "image_00002.cbf").read_bytes().split(b"\x0c\x1a\x04\xd5")[0].decode()
    assert "# Beam_xy (128.30, 127.80) pixels" in text
    assert "# Detector_distance 0.060000 m" in text
    assert "# Start_angle 0.5000 deg." in text
    assert "# Angle_increment 0.5000 deg." in text


def test_truth_expt_refl_and_mtz_are_consistent(run_dir):  # type: ignore[no-untyped-def]
    elist = read_experiments(run_dir / "truth.expt")
    e = elist[0]
    assert e.scan.image_range == (1, 3)
    assert e.imageset.template.endswith("image_#####.cbf")
    cell = e.crystal.unit_cell
    assert cell.parameters == pytest.approx((40, 50, 60, 90, 90, 90), abs=1e-6)
    refl = read_refl(run_dir / "truth.refl")
    parts = read_refl(run_dir / "truth_partials.refl")
    assert refl.experiment_identifiers[0] == e.identifier
    sums = np.bincount(parts["partial_id"].astype(int), weights=parts["fraction"], minlength=len(refl))
    np.testing.assert_allclose(sums, refl["partiality"], atol=1e-12)
    np.testing.assert_allclose(refl["counts.expected"] * refl["lp"], refl["intensity.true"], rtol=1e-9)
    mtz = gemmi.read_mtz_file(str(run_dir / "truth.mtz"))
    assert [c.label for c in mtz.columns] == ["H", "K", "L", "I", "I(+)", "I(-)"]
    assert mtz.spacegroup.hm == "P 21 21 21"


def test_bad_cell_exits_2_with_one_line(tmp_path, monkeypatch, capsys):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    rc = main(["preset=small_256", "unit_cell=10,10,10,120,120,120"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("error: simulation.crystal.unit_cell")
