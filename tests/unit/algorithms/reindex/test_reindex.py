"""Change of basis of crystals and Miller indices: A h invariant, bad operators, space groups."""

from __future__ import annotations

import gemmi
import numpy as np
import pytest

from braggflow.algorithms.reindex import (
    check_reflections_match,
    parse_change_of_basis,
    reindex_crystal,
    reindex_experiments,
    reindex_miller_indices,
    reindex_reflections,
)
from braggflow.algorithms.reindex.reindex import transform_space_group
from braggflow.errors import InputDataError, ParameterError
from braggflow.model import Experiment, ExperimentList
from braggflow.model.crystal import Crystal
from braggflow.model.reflections import ReflectionTable


def triclinic_crystal() -> Crystal:
    U = np.array([[0.36, 0.48, -0.8], [-0.8, 0.6, 0.0], [0.48, 0.64, 0.6]])
    return Crystal.from_cell_and_u(gemmi.UnitCell(7.1, 8.3, 9.7, 78.0, 83.0, 71.0), U)


@pytest.mark.parametrize("op", ["a,b,c", "a+b,-a+b,c", "b+c,a+c,a+b", "-b,a+b+2*c,-a", "c,a,b"])
def test_round_trip_keeps_reciprocal_lattice_points(op: str) -> None:
    crystal = triclinic_crystal()
    P = parse_change_of_basis(op)
    rng = np.random.default_rng(1)
    hkl = rng.integers(-9, 10, size=(50, 3))
    new_hkl, integral = reindex_miller_indices(hkl, P)
    assert integral.all()
    new = reindex_crystal(crystal, P)
    assert np.allclose(new.A @ new_hkl.T, crystal.A @ hkl.T, atol=1e-12)
    back, ok = reindex_miller_indices(new_hkl, np.linalg.inv(P))
    assert ok.all() and np.array_equal(back, hkl)
    assert np.allclose(reindex_crystal(new, np.linalg.inv(P)).A, crystal.A, atol=1e-12)


def test_index_and_coordinate_notations_match_abc() -> None:
    assert np.array_equal(parse_change_of_basis("k,h,-l"), parse_change_of_basis("b,a,-c"))
    P = parse_change_of_basis("a+b,-a+b,c")
    # x,y,z form: new coordinates x' = P^-1 x
    Pinv = np.linalg.inv(P)
    xyz = ",".join("+".join(f"{v:g}*{n}" for v, n in zip(row, "xyz") if v).replace("+-", "-") for row in Pinv)
    assert np.allclose(parse_change_of_basis(xyz), P)


@pytest.mark.parametrize("op", ["a,b", "a,b,q", "a,a,c", "a,b,-c", "a+1/2,b,c", ""])
def test_bad_operators_are_clear_errors(op: str) -> None:
    with pytest.raises(ParameterError, match="change_of_basis_op"):
        parse_change_of_basis(op)


def test_non_integral_indices() -> None:
    P = parse_change_of_basis("1/2*a+1/2*b,-1/2*a+1/2*b,c")
    hkl = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0]])
    new, ok = reindex_miller_indices(hkl, P)
    assert ok.tolist() == [True, False, True] and new[1].tolist() == [0, 0, 0] and new[0].tolist() == [1, 0, 0]
    table = ReflectionTable({"miller_index": hkl.astype(np.int32), "id": np.zeros(3, dtype=np.int32)})
    with pytest.raises(ParameterError, match="non-integral"):
        reindex_reflections(table, P)
    out, bad = reindex_reflections(table, P, strict=False)
    assert bad == 1 and out["miller_index"][1].tolist() == [0, 0, 0]


def test_space_group_is_carried_and_checked() -> None:
    assert transform_space_group(gemmi.SpaceGroup("P 1 2 1"), parse_change_of_basis("-b,a,c")).hm == "P 2 1 1"
    assert transform_space_group(gemmi.SpaceGroup("P 2 2 2"), parse_change_of_basis("a-b,a+b,c")) is None
    ortho = Crystal.from_cell_and_u(gemmi.UnitCell(5.4, 8.1, 12.0, 90.2, 90, 90), np.eye(3))
    sym = reindex_crystal(ortho, np.eye(3), gemmi.SpaceGroup("P 21 21 21"))
    assert sym.space_group.hm == "P 21 21 21" and abs(sym.unit_cell.alpha - 90) < 1e-9
    with pytest.raises(ParameterError, match="does not have this symmetry"):
        reindex_crystal(triclinic_crystal(), np.eye(3), gemmi.SpaceGroup("P 4"))


def test_reflections_must_match_experiments() -> None:
    experiments = ExperimentList([Experiment(crystal=triclinic_crystal())])
    table = ReflectionTable({"miller_index": np.zeros((2, 3), dtype=np.int32), "id": np.array([0, 1], dtype=np.int32)})
    with pytest.raises(InputDataError, match="experiment id 1"):
        check_reflections_match(experiments, table)
    table = ReflectionTable({"miller_index": np.zeros((1, 3), dtype=np.int32), "id": np.array([0], dtype=np.int32)}, experiment_identifiers={0: "other"})
    with pytest.raises(InputDataError, match="identifier"):
        check_reflections_match(experiments, table)
    shared = reindex_experiments(ExperimentList([experiments[0], experiments[0].replace()]), parse_change_of_basis("b,c,a"))
    assert shared[0].crystal is shared[1].crystal
