"""export_mtz + write_mtz, read back with gemmi; compared with DIALS 3.12's own export."""

from __future__ import annotations

import gemmi
import numpy as np
import pytest
from export_testdata import L_CYS_DIALS_MTZ, synthetic_experiment, synthetic_table

from braggflow.algorithms.export import ExportParams, export_mtz, read_mtz_summary, write_mtz
from braggflow.algorithms.export.mmcif import write_mmcif
from braggflow.errors import InputDataError
from braggflow.model import ExperimentList

TYPES = {"H": "H", "K": "H", "L": "H", "M/ISYM": "Y", "BATCH": "B", "IPR": "J", "SIGIPR": "Q", "I": "J", "SIGI": "Q"}
TYPES.update({x: "R" for x in ("BG", "SIGBG", "FRACTIONCALC", "XDET", "YDET", "ROT", "LP", "QE")})


def _rows(mtz: gemmi.Mtz, original: bool = False) -> np.ndarray:
    if original:
        assert mtz.switch_to_original_hkl()
    data = np.array(mtz, copy=True)
    return data[np.lexsort((data[:, 4], data[:, 2], data[:, 1], data[:, 0]))]


@pytest.fixture
def written(tmp_path, synthetic):
    experiments, table = synthetic
    result = export_mtz(experiments, table, ExportParams())
    path = tmp_path / "integrated.mtz"
    write_mtz(result, path)
    return result, gemmi.read_mtz_file(str(path)), synthetic, path


def test_columns_types_symmetry_and_batches(written):
    result, mtz, (experiments, _), _ = written
    assert [c.label for c in mtz.columns] == list(TYPES)
    assert all(c.type == TYPES[c.label] for c in mtz.columns)
    assert mtz.spacegroup.hm == "P 1" and mtz.nreflections == 12
    assert [d.id for d in mtz.datasets] == [1] and mtz.datasets[0].project_name == "DIALS"
    assert [b.number for b in mtz.batches] == list(range(1, 11))
    batches = set(mtz.column_with_label("BATCH").array.astype(int))
    assert batches <= {b.number for b in mtz.batches}
    for b in mtz.batches:
        f = np.array(list(b.floats), dtype=np.float64)
        u = f[6:15].reshape(3, 3).T
        assert np.allclose(u @ u.T, np.eye(3), atol=1e-6)
        assert np.allclose(f[38:41], [0, 0, 1], atol=1e-6) and np.allclose(f[59:62], [0, 0, 1], atol=1e-6)
        assert b.dataset_id == 1 and f[86] == pytest.approx(0.9795) and f[80] == -1.0


def test_m_isym_round_trips_to_the_original_indices(written):
    result, mtz, (_, table), _ = written
    assert mtz.column_with_label("M/ISYM").array.min() >= 1  # filled by switch_to_asu_hkl
    rows = _rows(mtz, original=True)
    ours = sorted(map(tuple, rows[:, :3].astype(int).tolist()))
    assert ours == sorted(map(tuple, table["miller_index"].tolist()))


def test_intensities_are_the_corrected_values(written):
    _, mtz, (_, table), _ = written
    mtz.switch_to_original_hkl()
    conv = table["lp"] / table["qe"] / table["partiality"]
    data = np.array(mtz, copy=False)
    labels = mtz.column_labels()
    by_hkl = {tuple(h): k for k, h in enumerate(table["miller_index"].tolist())}
    for row in data:
        k = by_hkl[tuple(row[:3].astype(int))]
        assert row[labels.index("I")] == pytest.approx(table["intensity.sum.value"][k] * conv[k], rel=1e-6)
        assert row[labels.index("SIGI")] == pytest.approx(np.sqrt(table["intensity.sum.variance"][k]) * conv[k], rel=1e-6)
        prf = table["intensity.prf.value"][k] * table["lp"][k] / table["qe"][k]
        assert row[labels.index("IPR")] == pytest.approx(prf, rel=1e-6)
        assert row[labels.index("ROT")] == pytest.approx(12.0 + 0.5 * table["xyzcal.px"][k, 2], rel=1e-6)
        assert row[labels.index("BATCH")] == np.floor(table["xyzobs.px.value"][k, 2]) + 1


def test_same_as_dials_export_of_l_cysteine(tmp_path, lcys):
    """Every column equals DIALS 3.12's file within float32 rounding, except M/ISYM, whose
    symmetry-operator numbering follows each file's own SYMM records (gemmi and cctbx list
    the P212121 operators in different orders); the original indices agree."""
    experiments, table = lcys
    path = tmp_path / "ours.mtz"
    write_mtz(export_mtz(experiments, table, ExportParams()), path)
    ours, dials = gemmi.read_mtz_file(str(path)), gemmi.read_mtz_file(str(L_CYS_DIALS_MTZ))
    assert ours.column_labels() == dials.column_labels()
    assert [c.type for c in ours.columns] == [c.type for c in dials.columns]
    assert ours.spacegroup.number == dials.spacegroup.number == 19
    assert np.allclose(ours.cell.parameters, dials.cell.parameters, atol=1e-4)
    a, b = _rows(ours), _rows(dials)
    assert a.shape == b.shape == (19, 17)
    m_isym = ours.column_labels().index("M/ISYM")
    others = [i for i in range(a.shape[1]) if i != m_isym]
    assert np.allclose(a[:, others], b[:, others], rtol=2e-7, atol=0)
    assert np.array_equal(_rows(ours, True)[:, [0, 1, 2, 4]], _rows(dials, True)[:, [0, 1, 2, 4]])
    for x, y in zip(ours.batches, dials.batches):
        assert x.number == y.number
        assert np.allclose(np.array(x.floats), np.array(y.floats), atol=1e-6)
        assert list(x.ints) == list(y.ints)


def test_summary_of_the_written_file(written):
    _, _, _, path = written
    s = read_mtz_summary(path)
    assert (s.space_group_symbol, s.space_group_number, s.point_group_symbol) == ("P1", 1, "1")
    assert s.n_batches == 10 and s.n_reflections == 12 and len(s.crystals) == 1
    cols = {c.label: c for c in s.crystals[0].datasets[0].columns}
    assert cols["I"].n_valid == 12 and cols["I"].percent_valid == 100.0 and cols["M/ISYM"].type == "Y"
    assert s.resolution_range[0] > s.resolution_range[1] > 0


def test_two_sweeps_with_the_same_images_get_separate_batches(tmp_path):
    e0, e1 = synthetic_experiment(), synthetic_experiment()
    t0 = synthetic_table(identifier=e0.identifier)
    t1 = synthetic_table(experiment_id=1, identifier=e1.identifier, seed=7)
    from braggflow.model.reflections import ReflectionTable

    result = export_mtz(ExperimentList([e0, e1]), ReflectionTable.concatenate([t0, t1]), ExportParams())
    numbers = [b.number for b in result.batches]
    assert numbers == list(range(1, 11)) + list(range(101, 111))
    batch = result.column("BATCH")
    assert set(batch[:12]) <= set(range(1, 11)) and set(batch[12:]) <= set(range(101, 111))
    write_mtz(result, tmp_path / "two.mtz")
    assert len(gemmi.read_mtz_file(str(tmp_path / "two.mtz")).batches) == 20


def test_mmcif_reads_back(tmp_path, synthetic):
    experiments, table = synthetic
    write_mmcif(export_mtz(experiments, table, ExportParams()), tmp_path / "x.cif")
    block = gemmi.cif.read(str(tmp_path / "x.cif")).sole_block()
    assert len(block.find_loop("_diffrn_refln.index_h")) == 12
    assert block.find_value("_symmetry.Int_Tables_number") == "1"


def test_bad_inputs_give_clear_errors(synthetic):
    experiments, table = synthetic
    with pytest.raises(InputDataError, match="no crystal"):
        export_mtz(ExperimentList([experiments[0].replace(crystal=None)]), table, ExportParams())
    with pytest.raises(InputDataError, match="no reflections"):
        export_mtz(experiments, table.select(np.zeros(len(table), dtype=bool)), ExportParams())
    with pytest.raises(InputDataError, match="not in the experiment list"):
        export_mtz(ExperimentList([synthetic_experiment()]), table, ExportParams())
    bare = table.copy()
    bare.experiment_identifiers = {}
    bare["id"][:] = 3
    with pytest.raises(InputDataError, match="only 1 experiment"):
        export_mtz(experiments, bare, ExportParams())
    unintegrated = table.copy()
    for name in ("intensity.sum.value", "intensity.prf.value"):
        del unintegrated[name]
    with pytest.raises(InputDataError, match="no intensity"):
        export_mtz(experiments, unintegrated, ExportParams())
    none_integrated = table.copy()
    none_integrated["flags"][:] = 0
    with pytest.raises(InputDataError):
        export_mtz(experiments, none_integrated, ExportParams())


def test_scaled_data_export_scale_columns(synthetic):
    experiments, table = synthetic
    g = np.linspace(0.5, 2.0, len(table))
    table["intensity.scale.value"] = table["intensity.sum.value"] * 2
    table["intensity.scale.variance"] = table["intensity.sum.variance"] * 4
    table["inverse_scale_factor"] = g
    table["inverse_scale_factor_variance"] = np.full(len(table), 0.01)
    result = export_mtz(experiments, table, ExportParams())
    labels = [c.label for c in result.columns]
    assert labels[5:9] == ["I", "SIGI", "SCALEUSED", "SIGSCALEUSED"] and "IPR" not in labels
    assert np.allclose(result.column("I"), table["intensity.scale.value"] / g)
    assert np.allclose(result.column("SIGI"), np.sqrt(table["intensity.scale.variance"]) / g)
    assert np.allclose(result.column("SIGSCALEUSED"), 0.1)
