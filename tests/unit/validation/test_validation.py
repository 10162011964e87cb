"""braggflow.validation: setting matrices, misorientation, matching and statistics."""

from __future__ import annotations

import gemmi
import numpy as np
import pytest

from braggflow.model.crystal import Crystal
from braggflow.model.reflections import Flags, ReflectionTable
from braggflow.model._vec import rotation_matrix
from braggflow.validation import (
    cc_by_resolution,
    compare_crystal,
    compare_integrated,
    match_reflections,
    misorientation_deg,
    normalised_residuals,
    reindex,
    setting_matrix,
)

CELL = gemmi.UnitCell(79.1, 79.1, 38.0, 90, 90, 90)
U = rotation_matrix(np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8]), 0.7)


def truth_crystal() -> Crystal:
    return Crystal.from_cell_and_u(CELL, U, "P 43 21 2")


def test_setting_matrix_recovers_an_equivalent_basis() -> None:
    P = np.array([[0, 1, 0], [1, 0, 0], [0, 0, -1]])  # a' = b, b' = a, c' = -c
    obs = truth_crystal().change_basis(P, gemmi.SpaceGroup("P 1"))
    M, residual = setting_matrix(truth_crystal().A, obs.A)
    assert residual < 1e-9
    h_obs = np.array([[1, 2, 3], [-4, 0, 7]])
    np.testing.assert_allclose(obs.A @ h_obs.T, truth_crystal().A @ (M @ h_obs.T), atol=1e-12)
    np.testing.assert_array_equal(reindex(h_obs, M), (M @ h_obs.T).T)


def test_setting_matrix_rejects_another_lattice() -> None:
    other = Crystal.from_cell_and_u(gemmi.UnitCell(60, 70, 80, 90, 90, 90), U)
    with pytest.raises(ValueError):
        setting_matrix(truth_crystal().A, other.A)


def test_compare_crystal_reports_cell_error_and_misorientation() -> None:
    stretched = gemmi.UnitCell(79.1 * 1.001, 79.1, 38.0, 90, 90, 90)
    rot = rotation_matrix(np.array([0.0, 0.0, 1.0]), np.radians(0.03))
    obs = Crystal.from_cell_and_u(stretched, rot @ U).change_basis(np.array([[0, 1, 0], [-1, 0, 0], [0, 0, 1]]))
    cmp = compare_crystal(truth_crystal(), obs)
    assert cmp.cell_error_pct[0] == pytest.approx(0.1, abs=1e-6)
    assert abs(cmp.cell_error_pct[1]) < 1e-9 and abs(cmp.cell_error_pct[2]) < 1e-9
    assert cmp.misorientation_deg == pytest.approx(0.03, abs=1e-6)


def test_misorientation_of_a_known_rotation() -> None:
    R = rotation_matrix(np.array([1.0, 0.0, 0.0]), np.radians(2.5))
    assert misorientation_deg(R @ U, U) == pytest.approx(2.5, abs=1e-9)
    assert misorientation_deg(U, U) == pytest.approx(0.0, abs=1e-6)


def test_match_takes_nearest_pass_and_rejects_far_ones() -> None:
    truth_hkl = np.array([[1, 2, 3], [1, 2, 3], [4, 5, 6], [0, 0, 1]])
    truth_z = np.array([10.0, 200.0, 50.0, 5.0])
    obs_hkl = np.array([[1, 2, 3], [1, 2, 3], [4, 5, 6], [7, 7, 7], [0, 0, 1]])
    obs_z = np.array([199.5, 10.2, 60.0, 3.0, 5.1])
    np.testing.assert_array_equal(match_reflections(obs_hkl, obs_z, truth_hkl, truth_z, max_dz=3.0), [1, 0, -1, -1, 3])


def test_cc_by_resolution_bins_are_balanced_and_find_the_bad_shell() -> None:
    rng = np.random.default_rng(0)
    d = rng.uniform(1.5, 20.0, 3000)
    y = rng.exponential(100.0, 3000)
    x = y + np.where(d < 2.0, rng.normal(0, 300, 3000), rng.normal(0, 1, 3000))
    bins = cc_by_resolution(x, y, d, n_bins=5)
    assert sum(b.n for b in bins) == 3000
    assert max(b.n for b in bins) - min(b.n for b in bins) <= 2
    assert bins[0].cc > 0.999 and bins[-1].cc < 0.9


def test_normalised_residuals_of_honest_sigmas() -> None:
    rng = np.random.default_rng(1)
    expected = rng.uniform(10, 1000, 20000)
    sigma = np.sqrt(expected)
    observed = 0.9 * expected + rng.normal(0, 1, expected.size) * sigma
    r = normalised_residuals(observed, sigma, expected)
    assert r.k == pytest.approx(0.9, abs=0.005)
    assert r.sd == pytest.approx(1.0, abs=0.03) and r.robust_sd == pytest.approx(1.0, abs=0.05)
    assert abs(r.mean) < 0.05
    r2 = normalised_residuals(observed, 0.5 * sigma, expected, k=0.9)
    assert r2.sd == pytest.approx(2.0, abs=0.06)


def test_compare_integrated_on_a_synthetic_table() -> None:
    rng = np.random.default_rng(2)
    n = 2000
    hkl = rng.integers(-20, 21, size=(n, 3))
    hkl = np.unique(hkl[np.any(hkl != 0, axis=1)], axis=0)[:1500]
    n = len(hkl)
    i_true = rng.exponential(1000.0, n)
    lp = rng.uniform(0.5, 1.0, n)
    counts = i_true / lp
    z = rng.uniform(0, 25, n)
    truth = ReflectionTable({
        "miller_index": hkl, "xyzcal.px": np.column_stack([np.zeros(n), np.zeros(n), z]),
        "intensity.true": i_true, "counts.expected": counts, "partiality": np.ones(n), "d": rng.uniform(2, 30, n), "lp": lp,
    })
    P = np.array([[0, 1, 0], [1, 0, 0], [0, 0, -1]])
    obs_crystal = truth_crystal().change_basis(P)
    M = setting_matrix(truth_crystal().A, obs_crystal.A)[0]
    obs_hkl = np.rint(np.linalg.solve(M, hkl.T).T).astype(int)
    measured = counts + rng.normal(0, 1, n) * np.sqrt(counts + 10)
    flags = np.full(n, int(Flags.integrated_sum), dtype=np.uint64)
    table = ReflectionTable({
        "miller_index": obs_hkl, "xyzcal.px": truth["xyzcal.px"], "flags": flags, "lp": lp,
        "intensity.sum.value": measured, "intensity.sum.variance": counts + 10,
    })
    result = compare_integrated(truth_crystal(), truth, obs_crystal, table)
    assert result.n_matched == n and result.n_sum == n and result.n_prf == 0
    stats = result.methods["sum"]
    assert stats.cc > 0.99 and stats.cc_weak < stats.cc_strong
    assert stats.residuals.robust_sd == pytest.approx(1.0, abs=0.1)
    assert "prf" not in result.methods
