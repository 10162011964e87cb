"""Indexing: change of basis, assignment, max_cell, synthetic lattices, known symmetry, real data."""

from __future__ import annotations

import dataclasses

import gemmi
import numpy as np
import pytest

from braggflow.algorithms.indexing import IndexingParams, index
from braggflow.algorithms.indexing.assign import assign_indices, fit_A
from braggflow.algorithms.indexing.basis import niggli_reduce, smaller_basis_for_absences
from braggflow.algorithms.indexing.known_symmetry import find_setting, symmetrize_A, target_symmetry
from braggflow.algorithms.indexing.max_cell import estimate_max_cell, in_ice_rings
from braggflow.algorithms.indexing.params import (
    FFT3DParams,
    KnownSymmetryParams,
    MaxCellEstimationParams,
    ReciprocalSpaceGridParams,
)
from braggflow.algorithms.indexing.reciprocal_space import map_to_reciprocal_space
from braggflow.errors import ParameterError, StageFailed
from braggflow.model import Crystal, ExperimentList

from indexing_synthetic import BRAVAIS, cell_errors, make_sweep, random_crystal, simulate_spots

FAST = IndexingParams(fft3d=FFT3DParams(reciprocal_space_grid=ReciprocalSpaceGridParams(n_points=128)))


def _triclinic(rng: np.random.Generator) -> Crystal:
    return random_crystal((31.0, 42.0, 57.0, 77.0, 96.0, 104.0), "P 1", rng)


def test_niggli_reduce_keeps_lattice_and_reports_change_of_basis():
    rng = np.random.default_rng(3)
    cr = _triclinic(rng).change_basis(np.array([[1, 1, 0], [0, 1, 0], [1, 0, 1]], dtype=float))
    red, P = niggli_reduce(cr)
    assert np.allclose(cr.change_basis(P).A, red.A)
    gv = gemmi.GruberVector(cr.unit_cell, None)
    gv.niggli_reduce()
    assert np.allclose(red.unit_cell.parameters, gv.get_cell().parameters, atol=1e-6)
    h = np.array([[1, 2, 3], [-2, 0, 5]])
    assert np.allclose((h @ P) @ red.A.T, h @ cr.A.T)  # h' = P^T h gives the same rlp


def test_assign_indices_keeps_one_spot_per_hkl_within_45_degrees():
    A = np.diag([0.1, 0.05, 0.02])
    hkl = np.array([[1, 2, 3], [1, 2, 3], [1, 2, 3], [2, 0, 1]])
    rlp = hkl @ A.T + np.array([[0, 0, 0.001], [0, 0, 0.003], [0, 0, 0.002], [0, 0, 0]])
    phi = np.array([0.0, 0.1, 2.0, 0.0])
    asg = assign_indices(rlp, phi, [A], hkl_tolerance=0.3)
    assert asg.indexed.tolist() == [True, False, True, True]
    assert asg.miller_index[0].tolist() == [1, 2, 3]


def test_fit_A_recovers_setting_matrix():
    rng = np.random.default_rng(1)
    A = _triclinic(rng).A
    hkl = rng.integers(-9, 10, (200, 3))
    assert np.allclose(fit_A(hkl, hkl @ A.T), A)


def test_centred_indices_give_smaller_cell():
    rng = np.random.default_rng(2)
    h = rng.integers(-8, 9, (300, 3))
    h = h[(h[:, 0] + h[:, 1]) % 2 == 0]
    P = smaller_basis_for_absences(h, 0.9)
    assert P is not None and np.isclose(abs(np.linalg.det(P)), 0.5)
    assert np.allclose(np.mod(h @ P, 1.0), 0.0)  # indices stay integral in the smaller cell


def test_ice_ring_filter_flags_3_67_angstrom_ring():
    r = np.array([[1 / 3.67, 0, 0], [1 / 5.0, 0, 0]])
    assert in_ice_rings(r).tolist() == [True, False]


def test_max_cell_estimate_brackets_the_longest_axis():
    rng = np.random.default_rng(5)
    expt = make_sweep(n_images=90)
    truth = random_crystal((45.0, 60.0, 95.0, 90, 90, 90), "P 2 2 2", rng)
    refl = simulate_spots(expt, truth, 2.5, rng)
    t = map_to_reciprocal_space([expt], refl)
    res = estimate_max_cell(t["rlp"], t["xyzobs.mm.value"][:, 2], t["entering"], t["imageset_id"],
                            MaxCellEstimationParams(), bbox=t["bbox"], panel=t["panel"].astype(np.int64))
    assert 95.0 < res.max_cell < 3 * 95.0


def test_map_to_reciprocal_space_matches_predicted_rlps():
    rng = np.random.default_rng(6)
    expt = make_sweep(n_images=20, start_deg=33.0)
    truth = _triclinic(rng)
    refl = simulate_spots(expt, truth, 3.0, rng, sigma_px=0.0, sigma_z=0.0, keep_fraction=1.0)
    t = map_to_reciprocal_space([expt], refl)
    hf = t["rlp"] @ np.linalg.inv(truth.A).T
    assert np.max(np.abs(hf - np.rint(hf))) < 1e-6


@pytest.mark.parametrize("bravais,a", [("aP", 37.0), ("mC", 61.0), ("oI", 12.0), ("hR", 28.0), ("cF", 150.0)])
def test_index_synthetic_bravais_lattice(bravais, a):
    rng = np.random.default_rng(100 + list(BRAVAIS).index(bravais))
    sg, cell_fn = BRAVAIS[bravais]
    truth = random_crystal(cell_fn(a, a, a), sg, rng)
    expt = make_sweep(n_images=45)
    refl = simulate_spots(expt, truth, min(2.0, max(1.0, a / 40)), rng, n_spurious=40, max_spots=6000)
    res = index(ExperimentList([expt]), refl, FAST)
    err, angle = cell_errors(res.experiments[0].crystal, truth)
    assert err < 1e-3 and angle < 0.05
    assert res.n_indexed > 0.8 * (len(refl) - 40)
    assert res.reflections["id"].max() == 0 and (res.reflections["miller_index"][res.reflections["id"] < 0] == 0).all()


def test_index_with_known_symmetry_reindexes_to_conventional_setting():
    rng = np.random.default_rng(11)
    truth = random_crystal((52.0, 52.0, 81.0, 90, 90, 90), "I 4", rng)
    expt = make_sweep(n_images=45)
    refl = simulate_spots(expt, truth, 2.5, rng, max_spots=5000)
    params = dataclasses.replace(FAST, known_symmetry=KnownSymmetryParams(space_group="I 4"))
    res = index(ExperimentList([expt]), refl, params)
    cr = res.experiments[0].crystal
    assert cr.space_group.hm == "I 4"
    assert np.allclose(cr.unit_cell.parameters, (52, 52, 81, 90, 90, 90), rtol=1e-3)
    assert cell_errors(cr, truth)[1] < 0.05


def test_find_setting_and_symmetrize_give_target_cell():
    rng = np.random.default_rng(4)
    truth = random_crystal((40.0, 40.0, 70.0, 90, 90, 120), "P 6", rng)
    p1, _ = niggli_reduce(truth.replace(space_group=gemmi.SpaceGroup("P 1")))
    t = target_symmetry(KnownSymmetryParams(space_group="P 6", unit_cell=(40, 40, 70, 90, 90, 120)))
    match = find_setting(p1, t, KnownSymmetryParams())
    assert match is not None
    assert np.allclose(match.crystal.unit_cell.parameters, (40, 40, 70, 90, 90, 120), atol=1e-6)
    assert np.allclose(symmetrize_A(match.crystal.A, t.space_group), match.crystal.A)


def test_impossible_known_cell_raises_parameter_error():
    with pytest.raises(ParameterError, match="impossible"):
        target_symmetry(KnownSymmetryParams(space_group="P 4", unit_cell=(50, 60, 70, 90, 90, 90)))


def test_too_few_spots_raises_stage_failed():
    rng = np.random.default_rng(8)
    expt = make_sweep(n_images=10)
    refl = simulate_spots(expt, _triclinic(rng), 3.0, rng, max_spots=4)
    with pytest.raises(StageFailed, match="only 4 spots"):
        index(ExperimentList([expt]), refl, FAST)


def _lcys(shared_data):
    from braggflow.formats.expt_io import read_experiments
    from braggflow.formats.refl_io import read_refl

    d = shared_data / "reflections" / "dials312_l_cysteine_sweep4"
    return read_experiments(d / "imported.expt"), read_refl(d / "strong.refl")


def test_l_cysteine_known_cell_matches_dials(shared_data):
    el, refl = _lcys(shared_data)
    ks = KnownSymmetryParams(space_group="P 21 21 21", unit_cell=(5.428, 8.141, 12.038, 90, 90, 90))
    res = index(el, refl, IndexingParams(method="real_space_grid_search", known_symmetry=ks))
    cr = res.experiments[0].crystal
    assert cr.space_group.hm == "P 21 21 21"
    assert np.allclose(cr.unit_cell.parameters[:3], (5.428, 8.141, 12.038), rtol=0.01)
    assert res.n_indexed >= 20  # DIALS: 23 of 29
    assert "Using max_cell: 15.6 Angstrom" in res.log


def test_l_cysteine_p1_max_cell_and_cell(shared_data):
    el, refl = _lcys(shared_data)
    res = index(el, refl, IndexingParams())
    assert "Found max_cell: 19.8 Angstrom" in res.log  # DIALS 3.12 figure
    assert "Number of centroids used: 29" in res.log
    cell = sorted(res.experiments[0].crystal.unit_cell.parameters[:3])
    assert np.allclose(cell, (5.428, 8.141, 12.038), rtol=0.01)


def test_report_summary_renders_crystal_block():
    import io

    from rich.console import Console

    from braggflow.report.indexing import summary

    rng = np.random.default_rng(21)
    truth = random_crystal((20.0, 30.0, 40.0, 90, 90, 90), "P 2 2 2", rng)
    expt = make_sweep(n_images=30)
    refl = simulate_spots(expt, truth, 2.0, rng, n_spurious=10, max_spots=2000)
    res = index(ExperimentList([expt]), refl, FAST)
    buf = io.StringIO()
    Console(file=buf, width=100, color_system=None).print(summary(res))
    out = buf.getvalue()
    assert "Unit cell:" in out and "Space group: P 1" in out and "U matrix:" in out
    assert f"{res.n_unindexed} unindexed reflections" in out
