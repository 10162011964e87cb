"""UnmergedData readers/writers: MTZ round trip, bad inputs, real files, .expt/.refl."""

from __future__ import annotations

import gemmi
import numpy as np
import pytest

from braggflow.algorithms.merging.french_wilson import french_wilson
from braggflow.algorithms.merging.merge import merge_data, write_merged_mtz
from braggflow.algorithms.merging.unmerged import UnmergedData, check_cell_matches, from_reflections
from braggflow.algorithms.merging.unmerged_mtz import read_unmerged_mtz, write_unmerged_mtz
from braggflow.algorithms.scaling.synthetic import simulate_unmerged
from braggflow.errors import InputDataError


def test_mtz_round_trip_recovers_original_indices(tmp_path):
    d, _ = simulate_unmerged("P 21 21 21", (40, 50, 60, 90, 90, 90), d_min=4.0, n_batches=10, seed=1)
    write_unmerged_mtz(d, tmp_path / "u.mtz", with_scale=True)
    r = read_unmerged_mtz(tmp_path / "u.mtz")
    mtz = gemmi.read_mtz_file(str(tmp_path / "u.mtz"))
    assert len(mtz.batches) == len(np.unique(d.batch))
    assert np.any(np.array(mtz.column_with_label("M/ISYM").array) > 1)  # ISYM really filled
    key = lambda x: np.lexsort((x.intensity.round(1), x.hkl[:, 2], x.hkl[:, 1], x.hkl[:, 0], x.batch))  # noqa: E731
    a, b = key(d), key(r)
    assert np.array_equal(d.hkl[a], r.hkl[b])
    assert np.allclose(d.intensity[a], r.intensity[b], rtol=1e-6)
    assert np.array_equal(d.asu_hkl[a], r.asu_hkl[b])


def test_mtz_without_batch_or_merged_is_an_error(tmp_path):
    mtz = gemmi.Mtz(with_base=True)
    mtz.spacegroup = gemmi.SpaceGroup("P 1")
    mtz.set_cell_for_all(gemmi.UnitCell(10, 10, 10, 90, 90, 90))
    mtz.add_dataset("x")
    for label, t in (("M/ISYM", "Y"), ("I", "J"), ("SIGI", "Q")):
        mtz.add_column(label, t)
    mtz.set_data(np.array([[1, 2, 3, 1, 5, 1]], dtype=np.float32))
    mtz.write_to_file(str(tmp_path / "nobatch.mtz"))
    with pytest.raises(InputDataError, match="no BATCH column"):
        read_unmerged_mtz(tmp_path / "nobatch.mtz")
    merged = gemmi.Mtz(with_base=True)
    merged.spacegroup = gemmi.SpaceGroup("P 1")
    merged.set_cell_for_all(gemmi.UnitCell(10, 10, 10, 90, 90, 90))
    merged.add_dataset("x")
    merged.add_column("IMEAN", "J")
    merged.set_data(np.array([[1, 2, 3, 5]], dtype=np.float32))
    merged.write_to_file(str(tmp_path / "merged.mtz"))
    with pytest.raises(InputDataError, match="merged data"):
        read_unmerged_mtz(tmp_path / "merged.mtz")


def test_space_group_contradicting_cell():
    with pytest.raises(InputDataError, match="contradicts the unit cell"):
        check_cell_matches(gemmi.UnitCell(40, 50, 60, 90, 90, 90), gemmi.SpaceGroup("P 4 2 2"), "x.mtz")
    with pytest.raises(InputDataError, match="contradicts"):
        check_cell_matches(gemmi.UnitCell(40, 50, 60, 90, 100, 90), gemmi.SpaceGroup("P 2 2 2"), "x.mtz")
    check_cell_matches(gemmi.UnitCell(40, 50, 60, 90, 100, 90), gemmi.SpaceGroup("P 1 2 1"), "x.mtz")
    check_cell_matches(gemmi.UnitCell(58, 58, 156, 90, 90, 120), gemmi.SpaceGroup("R 3 2:H"), "x.mtz")


@pytest.mark.parametrize("name, rows, sg, batches", [
    ("ccp4i2_gamma/HKLOUT_unmerged.mtz", 44990, "P 21 21 21", 100),
    ("rs_hewl_24idc/HEWL_unmerged.mtz", 20597, "P 43 21 2", 0),
])
def test_real_unmerged_files(shared_data, name, rows, sg, batches):
    d = read_unmerged_mtz(shared_data / "mtz" / name)
    assert len(d) == rows
    assert d.space_group.hm == sg
    assert len(d.batches) == batches
    if batches:
        assert d.has_geometry
        # scattering angle from the batch orientation matches 2 theta from d and lambda
        two_theta = np.degrees(np.arccos(np.sum(d.s0c * d.s1c, axis=1)))
        expected = 2 * np.degrees(np.arcsin(d.wavelength / (2 * d.d)))
        assert np.median(np.abs(two_theta - expected)) < 0.05  # degrees (float32 ROT, refined cell)


def test_mosflm_partials_are_summed(shared_data):
    d = read_unmerged_mtz(shared_data / "mtz" / "ccp4i2_hypf" / "hypf_unmerged.mtz")
    raw = read_unmerged_mtz(shared_data / "mtz" / "ccp4i2_hypf" / "hypf_unmerged.mtz", combine_partials=False)
    assert len(raw) == 57725
    assert len(d) < len(raw)
    assert np.nanmedian(d.partiality) > 0.95


def _experiment():
    from braggflow.model import Beam, Crystal, Experiment, ExperimentList, Goniometer, Scan

    crystal = Crystal.from_cell_and_u(gemmi.UnitCell(40, 50, 60, 90, 90, 90), np.eye(3), "P 2 2 2")
    return ExperimentList([Experiment(beam=Beam(direction=np.array([0, 0, 1.0]), wavelength=1.0), goniometer=Goniometer(),
                                      scan=Scan((1, 20), 0.0, 1.0), crystal=crystal)])


def test_from_reflections_applies_export_filters():
    from braggflow.model.reflections import Flags, ReflectionTable

    n = 6
    flags = np.full(n, int(Flags.integrated_prf | Flags.integrated_sum), dtype=np.uint64)
    flags[5] = int(Flags.integrated_sum)
    table = ReflectionTable({
        "miller_index": np.array([[1, 2, 3], [-1, 2, 3], [1, -2, 3], [2, 2, 2], [1, 1, 1], [3, 3, 3]], np.int32),
        "id": np.zeros(n, np.int32), "flags": flags,
        "intensity.prf.value": np.array([100.0, 110, 90, 50, 40, 30]), "intensity.prf.variance": np.array([100.0, 100, 100, 25, 0, 9]),
        "intensity.sum.value": np.full(n, 10.0), "intensity.sum.variance": np.full(n, 4.0),
        "lp": np.full(n, 0.5), "qe": np.ones(n), "partiality": np.array([1.0, 1.0, 1.0, 0.3, 1.0, 1.0]),
        "xyzcal.px": np.array([[10.0, 10.0, z] for z in (0.5, 3.2, 7.7, 10.1, 12.0, 15.5)]),
        "d": np.full(n, 5.0),
    })
    d = from_reflections(_experiment(), table)
    # rows 3 (partiality 0.3), 4 (variance 0) and 5 (no prf) are dropped
    assert list(d.row_index) == [0, 1, 2]
    assert np.allclose(d.intensity, [50.0, 55.0, 45.0])  # I * lp / qe
    assert np.allclose(d.sigma, [5.0, 5.0, 5.0])
    assert list(d.batch) == [1, 4, 8]
    assert np.allclose(d.rot_deg, [0.5, 3.2, 7.7])
    # a prf column without any profile-fitted row (too few references): auto uses summation
    sum_only = ReflectionTable({**{k: table[k] for k in table.keys()}, "flags": np.full(n, int(Flags.integrated_sum), np.uint64)})
    d = from_reflections(_experiment(), sum_only)
    assert list(d.row_index) == [0, 1, 2, 4, 5] and np.allclose(d.intensity, 5.0)


def test_french_wilson_limits():
    sg = gemmi.SpaceGroup("P 1")
    hkl = np.array([[1, 2, 3]] * 4, np.int32)
    inten = np.array([10000.0, 0.0, -5.0, -100.0])
    sigma = np.array([10.0, 10.0, 10.0, 10.0])
    r = french_wilson(inten, sigma, hkl, np.full(4, 3.0), sg)
    assert r.F[0] == pytest.approx(100.0, rel=1e-3)
    assert r.F[1] > 0 and r.F[2] > 0 and r.F[2] < r.F[1]
    assert np.isnan(r.F[3]) and r.rejected[3]
    # with no information (huge sigma) E[F] is the Wilson prior mean sqrt(pi Sigma)/2
    big = french_wilson(np.array([0.0, 100.0]), np.array([1e6, 1e6]), np.array([[1, 2, 3], [2, 3, 4]], np.int32), np.array([3.0, 3.0]), sg)
    sigma_w = 50.0
    assert big.F[0] == pytest.approx(np.sqrt(np.pi * sigma_w) / 2, rel=0.02)


def test_merged_mtz_columns(tmp_path):
    d, _ = simulate_unmerged("P 21 21 21", (40, 50, 60, 90, 90, 90), d_min=4.0, n_batches=20, seed=1)
    m = merge_data(d)
    write_merged_mtz(m, tmp_path / "merged.mtz")
    mtz = gemmi.read_mtz_file(str(tmp_path / "merged.mtz"))
    labels = mtz.column_labels()
    for label in ("IMEAN", "SIGIMEAN", "I(+)", "SIGI(+)", "I(-)", "SIGI(-)", "N(+)", "N(-)", "F", "SIGF", "F(+)", "F(-)"):
        assert label in labels
    assert mtz.nreflections == len(m.hkl)
    assert np.all(m.n == m.n_plus + m.n_minus)
