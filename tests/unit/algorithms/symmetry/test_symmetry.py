"""Symmetry: Laue group scoring and screw axes on synthetic data across crystal systems,
reindexing from a primitive basis, and the real unmerged MTZ files."""

from __future__ import annotations

import gemmi
import numpy as np
import pytest

from braggflow.algorithms.scaling.synthetic import simulate_unmerged
from braggflow.algorithms.symmetry.driver import determine_symmetry
from braggflow.algorithms.symmetry.groups import _primitive, enumerate_subgroups, lattice_rotations, symmetry_elements

CASES = [
    ("P 1", (40, 50, 60, 80, 95, 100), None),
    ("P 1 21 1", (40, 50, 60, 90, 105, 90), "P 1"),
    ("C 1 2 1", (80, 50, 60, 90, 110, 90), None),
    ("P 21 21 21", (40, 50, 60, 90, 90, 90), "P 1"),
    ("C 2 2 21", (60, 80, 70, 90, 90, 90), None),
    ("P 41 21 2", (50, 50, 70, 90, 90, 90), "P 1"),
    ("I 4", (50, 50, 90, 90, 90, 90), None),
    ("P 31 2 1", (50, 50, 70, 90, 90, 120), "P 1"),
    ("R 3:H", (60, 60, 150, 90, 90, 120), None),
    ("P 61 2 2", (50, 50, 90, 90, 90, 120), "P 1"),
    ("P 21 3", (60, 60, 60, 90, 90, 90), "P 1"),
    ("I 4 3 2", (80, 80, 80, 90, 90, 90), None),
]


def _same_or_enantiomorph(found: gemmi.SpaceGroup, alternatives: list, truth: str) -> bool:
    want = gemmi.SpaceGroup(truth).number
    return found.number == want or any(a.number == want for a in alternatives)


@pytest.mark.parametrize("sg, cell, label", CASES, ids=[c[0] for c in CASES])
def test_space_group_across_crystal_systems(sg, cell, label):
    data, _ = simulate_unmerged(sg, cell, d_min=3.0, seed=11, label_space_group=label)
    result = determine_symmetry(data)
    assert result.laue.best.name is not None
    assert result.laue.best.name.space_group.laue_str() == gemmi.SpaceGroup(sg).laue_str()
    assert _same_or_enantiomorph(result.space_group, result.absences.alternatives, sg)
    assert result.laue.best.likelihood > 0.5


def test_lattice_elements_and_subgroups_of_tetragonal_lattice():
    rots, cen = lattice_rotations(gemmi.UnitCell(50, 50, 70, 90, 90, 90), "P", 2.0)
    assert len(rots) == 8 and cen == [[0, 0, 0]]
    labels = sorted(e.label for e in symmetry_elements(rots))
    assert labels == sorted(["4-fold [0 0 1]", "2-fold [0 0 1]", "2-fold [1 0 0]", "2-fold [0 1 0]", "2-fold [1 1 0]", "2-fold [1 -1 0]"])
    assert len(enumerate_subgroups(rots)) == 10  # 422 has 10 subgroups


@pytest.mark.parametrize("sg, cell", [("C 1 2 1", (80, 50, 60, 90, 110, 90)), ("I 2 2 2", (50, 60, 70, 90, 90, 90))])
def test_reindexes_from_primitive_basis(sg, cell):
    data, truth = simulate_unmerged(sg, cell, d_min=3.0, seed=4)
    _, _, Q = _primitive(frozenset(), [list(t) for t in gemmi.SpaceGroup(sg).operations().cen_ops])
    primitive = data.reindexed(Q, gemmi.SpaceGroup("P 1"))
    result = determine_symmetry(primitive)
    assert result.reindexed
    assert result.space_group.number == gemmi.SpaceGroup(sg).number
    assert result.data.cell.volume == pytest.approx(data.cell.volume, rel=1e-6)
    assert sorted(result.data.cell.parameters[:3]) == pytest.approx(sorted(cell[:3]), rel=1e-6)


@pytest.mark.parametrize("name, expected", [
    ("ccp4i2_gamma/HKLOUT_unmerged.mtz", {"P 21 21 21"}),
    ("ccp4i2_hypf/hypf_unmerged.mtz", {"R 3 2"}),  # Pointless: H32 (R32, hexagonal axes)
    ("rs_hewl_24idc/HEWL_unmerged.mtz", {"P 41 21 2", "P 43 21 2"}),  # enantiomorphs
])
def test_real_data_known_space_group(shared_data, name, expected):
    from braggflow.algorithms.merging.unmerged_mtz import read_unmerged_mtz

    data = read_unmerged_mtz(shared_data / "mtz" / name)
    if data.space_group.centring_type() == "P":
        data = data.with_space_group(gemmi.SpaceGroup("P 1"))  # let symmetry decide from scratch
    else:
        data = data.with_space_group(gemmi.SpaceGroup("R 3:H"))
    result = determine_symmetry(data)
    assert result.space_group.hm in expected
    assert result.laue.best.likelihood > 0.9
    assert not result.reindexed


def test_pointgroup_only_when_absences_off():
    data, _ = simulate_unmerged("P 21 21 21", (40, 50, 60, 90, 90, 90), d_min=3.0, seed=2, label_space_group="P 1")
    result = determine_symmetry(data, systematic_absences=False)
    assert result.space_group.hm == "P 2 2 2"
