"""True intensities: symmetry equivalents equal, absences absent, Wilson statistics, anomalous."""

from __future__ import annotations

import gemmi
import numpy as np
import pytest

from braggflow.algorithms.simulate.intensities import canonical_keys, systematically_absent, wilson_intensities

CASES = [("P 41 21 2", (57.8, 57.8, 150.0, 90, 90, 90)), ("P 21 21 21", (40, 50, 60, 90, 90, 90)),
         ("C 1 2 1", (60, 40, 50, 90, 105, 90)), ("P 61 2 2", (50, 50, 90, 90, 90, 120)), ("I 2 3", (80, 80, 80, 90, 90, 90))]


@pytest.mark.parametrize("sg_name,cell", CASES)
def test_symmetry_equivalents_and_friedel_mates_have_equal_intensity(sg_name, cell):  # type: ignore[no-untyped-def]
    sg, uc = gemmi.SpaceGroup(sg_name), gemmi.UnitCell(*cell)
    t = wilson_intensities(uc, sg, 3.0, mean=100.0, b_factor=10.0, seed=2)
    rng = np.random.default_rng(1)
    hkl = t.miller_index[rng.choice(len(t), size=min(300, len(t)), replace=False)]
    base, found = t.lookup(hkl)
    assert found.all()
    for op in sg.operations().sym_ops:
        eq = np.array([op.apply_to_hkl(list(map(int, h))) for h in hkl])
        for sign in (1, -1):
            value, ok = t.lookup(sign * eq)
            assert ok.all()
            np.testing.assert_array_equal(value, base)


@pytest.mark.parametrize("sg_name,cell", CASES)
def test_keys_agree_with_gemmi_reciprocal_asu(sg_name, cell):  # type: ignore[no-untyped-def]
    sg = gemmi.SpaceGroup(sg_name)
    asu, ops = gemmi.ReciprocalAsu(sg), sg.operations()
    rng = np.random.default_rng(5)
    hkl = rng.integers(-9, 10, size=(400, 3))
    plus, full = canonical_keys(hkl, sg)
    rep = np.array([asu.to_asu(list(map(int, h)), ops) for h in hkl], dtype=object)
    asu_hkl = np.array([r[0] for r in rep])
    isym = np.array([r[1] for r in rep])
    p_asu, f_asu = canonical_keys(asu_hkl, sg)
    np.testing.assert_array_equal(full, f_asu)
    centric = np.asarray(ops.centric_flag_array(np.ascontiguousarray(hkl, dtype=np.int32)), dtype=bool)
    same_half = plus == p_asu
    assert np.array_equal(same_half[~centric], (isym % 2 == 1)[~centric])


def test_systematic_absences_are_absent_from_truth_and_match_screw_axes():  # type: ignore[no-untyped-def]
    sg = gemmi.SpaceGroup("P 41 21 2")
    t = wilson_intensities(gemmi.UnitCell(57.8, 57.8, 150, 90, 90, 90), sg, 4.0, mean=1.0, b_factor=0.0, seed=1)
    hkl = np.array([[0, 0, 1], [0, 0, 2], [0, 0, 4], [0, 0, 8], [1, 0, 0], [2, 0, 0], [3, 0, 0], [1, 2, 3]])
    absent = systematically_absent(hkl, sg)
    np.testing.assert_array_equal(absent, [True, True, False, False, True, False, True, False])
    value, found = t.lookup(hkl)
    assert not found[absent].any() and (value[absent] == 0).all()
    assert found[~absent].all() and (value[~absent] > 0).all()
    assert not systematically_absent(t.miller_index, sg).any()


def test_wilson_intensities_are_reproducible_and_have_the_wilson_mean():  # type: ignore[no-untyped-def]
    sg, uc = gemmi.SpaceGroup("P 21 21 21"), gemmi.UnitCell(40, 50, 60, 90, 90, 90)
    a = wilson_intensities(uc, sg, 2.0, mean=100.0, b_factor=0.0, seed=9)
    b = wilson_intensities(uc, sg, 2.0, mean=100.0, b_factor=0.0, seed=9)
    c = wilson_intensities(uc, sg, 2.0, mean=100.0, b_factor=0.0, seed=10)
    np.testing.assert_array_equal(a.intensity_plus, b.intensity_plus)
    assert not np.array_equal(a.intensity_plus, c.intensity_plus)
    acentric = ~a.centric
    ratio = a.intensity_plus[acentric] / a.epsilon[acentric]
    assert np.mean(ratio) == pytest.approx(100.0, rel=0.05)
    # acentric Wilson: <I^2>/<I>^2 = 2
    assert np.mean(ratio**2) / np.mean(ratio) ** 2 == pytest.approx(2.0, rel=0.1)


def test_anomalous_differences_only_for_acentric_reflections():  # type: ignore[no-untyped-def]
    sg, uc = gemmi.SpaceGroup("P 41 21 2"), gemmi.UnitCell(57.8, 57.8, 150, 90, 90, 90)
    t = wilson_intensities(uc, sg, 3.0, mean=100.0, b_factor=0.0, seed=1, anomalous_fraction=0.1)
    assert t.anomalous
    diff = t.intensity_plus - t.intensity_minus
    assert (diff[t.centric] == 0).all()
    assert (diff[~t.centric] != 0).mean() > 0.99
    h = t.miller_index[~t.centric][:50]
    ip, _ = t.lookup(h)
    im, _ = t.lookup(-h)
    np.testing.assert_array_equal(ip, t.intensity_plus[~t.centric][:50])
    np.testing.assert_array_equal(im, t.intensity_minus[~t.centric][:50])


def _tiny_model(path):  # type: ignore[no-untyped-def]
    st = gemmi.Structure()
    st.cell = gemmi.UnitCell(40, 50, 60, 90, 90, 90)
    st.spacegroup_hm = "P 21 21 21"
    model, chain = gemmi.Model("1"), gemmi.Chain("A")
    rng = np.random.default_rng(0)
    for i in range(20):
        res = gemmi.Residue()
        res.name, res.seqid = "ALA", gemmi.SeqId(i + 1, " ")
        atom = gemmi.Atom()
        atom.name, atom.element, atom.b_iso, atom.occ = "CA", gemmi.Element("C"), 20.0, 1.0
        atom.pos = gemmi.Position(*(rng.uniform(0, 1, 3) * [40, 50, 60]))
        res.add_atom(atom)
        chain.add_residue(res)
    model.add_chain(chain)
    st.add_model(model)
    st.setup_entities()
    st.write_pdb(str(path))
    return st


def test_model_intensities_are_proportional_to_direct_structure_factors(tmp_path):  # type: ignore[no-untyped-def]
    from braggflow.algorithms.simulate.intensities import model_intensities

    st = _tiny_model(tmp_path / "m.pdb")
    sg = gemmi.SpaceGroup("P 21 21 21")
    t = model_intensities(str(tmp_path / "m.pdb"), st.cell, sg, 3.0, mean=100.0, seed=1)
    assert not systematically_absent(t.miller_index, sg).any()
    st.setup_cell_images()
    calc = gemmi.StructureFactorCalculatorX(st.cell)
    ref = np.array([abs(calc.calculate_sf_from_model(st[0], list(map(int, h)))) ** 2 for h in t.miller_index[:300]])
    ratio = t.intensity_plus[:300] / ref
    lo, hi = np.percentile(ratio, [5, 95])
    assert (hi - lo) / np.median(ratio) < 0.01  # weak reflections carry the FFT's small absolute error
    assert np.corrcoef(t.intensity_plus[:300], ref)[0, 1] > 0.9999


def test_model_with_another_space_group_is_an_input_error(tmp_path):  # type: ignore[no-untyped-def]
    from braggflow.algorithms.simulate.intensities import model_intensities
    from braggflow.errors import InputDataError

    st = _tiny_model(tmp_path / "m.pdb")
    with pytest.raises(InputDataError, match="space group"):
        model_intensities(str(tmp_path / "m.pdb"), st.cell, gemmi.SpaceGroup("P 1"), 3.0, mean=1.0, seed=1)
