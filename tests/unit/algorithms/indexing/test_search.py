"""Basis search details: non-primitive (supercell) correction, fft3d on few spots (issue #6)."""

from __future__ import annotations

import gemmi
import numpy as np

from braggflow.algorithms.indexing import IndexingParams, index
from braggflow.algorithms.indexing import search
from braggflow.algorithms.indexing.candidates import same_lattice
from braggflow.algorithms.indexing.search import correct_non_primitive, detect_absences
from braggflow.model import Crystal


def test_detect_absences_finds_modulus_5_condition():
    rng = np.random.default_rng(0)
    h = rng.integers(-8, 9, (400, 3))
    keep = (2 * h[:, 0] + h[:, 1] + h[:, 2]) % 5 == 0
    T = detect_absences(h[keep], 0.9)
    assert T is not None and round(abs(np.linalg.det(T))) == 5
    h_new = h[keep] @ np.linalg.inv(T)  # rows: h_new = T^-T h (A_new = A T^T)
    assert np.all(np.abs(h_new - np.rint(h_new)) < 1e-9)
    assert detect_absences(h, 0.9) is None  # unconstrained indices: no condition


def test_correct_non_primitive_reduces_a_10x_supercell_in_two_steps():
    truth = Crystal.from_cell_and_u(gemmi.UnitCell(5.4, 8.1, 12.0, 90, 90, 90), np.eye(3), "P 1")
    P = np.array([[2, 1, 0], [0, 1, 1], [0, 0, 5]], dtype=np.float64)  # det 10 supercell: 2n then 5n
    assert round(np.linalg.det(P)) == 10
    supercell = truth.change_basis(P)
    rng = np.random.default_rng(1)
    hkl = rng.integers(-4, 5, (200, 3))
    hkl = hkl[np.any(hkl != 0, axis=1)]
    rlp = hkl @ truth.A.T
    out = correct_non_primitive(supercell, rlp, 0.3, 0.9, 25.0)
    assert abs(out.unit_cell.volume - truth.unit_cell.volume) < 1.0
    assert same_lattice(truth.A, out.A)


def _lcys(shared_data):
    from braggflow.formats.expt_io import read_experiments
    from braggflow.formats.refl_io import read_refl

    d = shared_data / "reflections" / "dials312_l_cysteine_sweep4"
    return read_experiments(d / "imported.expt"), read_refl(d / "strong.refl")


def test_l_cysteine_fft3d_alone_finds_the_cell(shared_data, monkeypatch):
    """29 spots: DIALS' fft3d succeeds (P1 5.42 8.14 12.04); so must ours without fft1d help."""
    monkeypatch.setattr(search, "FEW_SPOTS", 0)
    el, refl = _lcys(shared_data)
    res = index(el, refl, IndexingParams(method="fft3d"))
    assert not any("fft1d" in line for line in res.log)
    cell = sorted(res.experiments[0].crystal.unit_cell.parameters[:3])
    assert np.allclose(cell, (5.428, 8.141, 12.038), rtol=0.01)
    assert res.n_indexed >= 20  # DIALS: 23 of 29


def test_add_solution_keeps_the_better_of_two_near_duplicates():
    from braggflow.algorithms.indexing.candidates import Solution
    from braggflow.algorithms.indexing.search import add_solution

    good = Crystal.from_cell_and_u(gemmi.UnitCell(56.15, 56.15, 73.0, 90, 90, 120), np.eye(3), "P 1")
    tilted = Crystal.from_cell_and_u(gemmi.UnitCell(56.15, 56.15, 73.0, 88.6, 90, 120), np.eye(3), "P 1")
    assert same_lattice(good.A, tilted.A)  # within the 0.05 integer tolerance: "same lattice"
    sols: list = []
    add_solution(sols, Solution(tilted, 5658, 0.6, 2.27, (1.6, 1.6, 0.3)))
    add_solution(sols, Solution(good, 9179, 0.96, 0.42, (0.3, 0.3, 0.2)))
    assert len(sols) == 1 and sols[0].crystal is good
    add_solution(sols, Solution(tilted, 5658, 0.6, 2.27, (1.6, 1.6, 0.3)))
    assert sols[0].crystal is good
