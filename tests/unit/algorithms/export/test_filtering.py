"""Filtering, corrections and partial combination before export (algorithms.md 8.1)."""

from __future__ import annotations

import numpy as np
import pytest
from export_testdata import synthetic_table

from braggflow.algorithms.export import FilterOptions, choose_intensities, filter_for_export
from braggflow.algorithms.export.partials import combine_partials
from braggflow.errors import InputDataError, ParameterError
from braggflow.model.reflections import Flags


def test_auto_choice_is_sum_and_profile_for_integrated_and_scale_for_scaled():
    table = synthetic_table()
    assert choose_intensities(table, ("auto",)) == ("sum", "prf")
    assert choose_intensities(table, ("profile",)) == ("prf",)
    table["intensity.scale.value"] = np.ones(len(table))
    table["intensity.scale.variance"] = np.ones(len(table))
    table["inverse_scale_factor"] = np.ones(len(table))
    assert choose_intensities(table, ("auto",)) == ("scale",)
    with pytest.raises(ParameterError):
        choose_intensities(table, ("profile", "scale"))


def test_corrections_lp_qe_and_partiality():
    table = synthetic_table()
    table["partiality"] = np.linspace(0.5, 0.999, len(table))
    out, report = filter_for_export(table, ("sum", "prf"), FilterOptions(min_isigi=None))
    assert report.n_final == len(table)
    conv = table["lp"] / table["qe"]
    assert np.allclose(out["intensity.prf.value"], table["intensity.prf.value"] * conv)
    assert np.allclose(out["intensity.prf.variance"], table["intensity.prf.variance"] * conv**2)
    sum_conv = conv / table["partiality"]
    assert np.allclose(out["intensity.sum.value"], table["intensity.sum.value"] * sum_conv)
    assert np.allclose(out["intensity.sum.variance"], table["intensity.sum.variance"] * sum_conv**2)
    assert np.allclose(out["fractioncalc"], table["partiality"])


def test_each_rule_removes_and_counts():
    table = synthetic_table(n=20)
    table["id"][0] = -1  # unassigned
    table.unset_flags(np.array([1]), Flags.integrated_prf)  # not profile fitted
    table["intensity.sum.variance"][2] = -1.0
    table["intensity.prf.variance"][3] = 0.0
    table["intensity.prf.variance"][4] = -2.0
    table["qe"][5] = 0.0
    table["partiality"][6] = 0.2  # incomplete
    table["partiality"][7] = 0.0
    table["intensity.sum.value"][8] = -1e5  # I/sigma far below -5
    out, r = filter_for_export(table, ("sum", "prf"), FilterOptions())
    assert (r.n_read, r.n_selected) == (19, 18)
    assert r.negative_variance == {"sum": 1, "prf": 2}
    assert (r.n_bad_qe, r.n_zero_partiality, r.n_incomplete) == (1, 1, 1)
    assert r.low_isigi == {"sum": 1, "prf": 0}
    assert r.n_final == len(out) == 11


def test_d_min_and_ice_rings():
    table = synthetic_table(n=10)
    d = np.linspace(1.0, 3.0, 10)
    table.set_flags(np.array([9]), Flags.in_powder_ring)
    out, r = filter_for_export(table, ("sum",), FilterOptions(d_min=1.5, filter_ice_rings=True), d=d)
    assert r.n_d_min == 3 and r.n_ice == 1 and len(out) == 6
    assert "intensity.prf.value" not in out


def test_profile_request_falls_back_to_sum_without_profiles():
    table = synthetic_table()
    table.unset_flags(np.arange(len(table)), Flags.integrated_prf)
    out, r = filter_for_export(table, ("sum", "prf"), FilterOptions())
    assert r.kinds == ("sum",) and r.notes and "intensity.prf.value" not in out
    with pytest.raises(InputDataError, match="profile"):
        filter_for_export(table, ("prf",), FilterOptions())


def test_nothing_left_is_a_clear_error():
    table = synthetic_table()
    table["id"][:] = -1
    with pytest.raises(InputDataError, match="no reflections left"):
        filter_for_export(table, ("sum",), FilterOptions())


def test_combine_partials_as_dials():
    table = synthetic_table(n=5)
    table["partial_id"] = np.array([7, 7, 7, 3, 4], dtype=np.uint64)
    table["partiality"] = np.array([0.3, 0.5, 0.1, 0.6, 0.999])
    out, n = combine_partials(table, ("sum", "prf"))
    assert n == 2 and len(out) == 3
    s, v = table["intensity.sum.value"][:3], table["intensity.sum.variance"][:3]
    assert out["intensity.sum.value"][0] == pytest.approx(s.sum())
    assert out["intensity.sum.variance"][0] == pytest.approx(v.sum())
    p, pv = table["intensity.prf.value"][:3], table["intensity.prf.variance"][:3]
    w = p * p / pv
    assert out["intensity.prf.value"][0] == pytest.approx((w * p).sum() / w.sum())
    assert out["intensity.prf.variance"][0] == pytest.approx((w * pv).sum() / w.sum())
    assert out["partiality"][0] == pytest.approx(0.9)
    assert np.array_equal(out["partial_id"], [7, 3, 4])


def test_partials_are_combined_before_the_threshold():
    table = synthetic_table(n=4)
    table["partial_id"] = np.array([1, 1, 2, 3], dtype=np.uint64)
    table["partiality"] = np.array([0.3, 0.3, 0.3, 0.999])
    out, r = filter_for_export(table, ("sum",), FilterOptions())
    assert r.n_combined == 1 and r.n_incomplete == 1 and len(out) == 2
    assert out["fractioncalc"][0] == pytest.approx(0.6)
    _, r2 = filter_for_export(table, ("sum",), FilterOptions(combine_partials=False))
    assert r2.n_combined == 0 and r2.n_incomplete == 3
