"""End to end on a simulated sweep: the TRUE models (truth.expt) stand in for refined ones."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from braggflow.algorithms.integration import IntegrateParams, integrate, summarize
from braggflow.algorithms.integration.references import _hkl_key
from braggflow.algorithms.simulate.params import with_overrides
from braggflow.algorithms.simulate.presets import preset
from braggflow.errors import InputDataError
from braggflow.formats.expt_io import read_experiments
from braggflow.formats.refl_io import read_refl
from braggflow.model.reflections import Flags, ReflectionTable
from braggflow.pipeline.programs.simulate import simulate_to_directory


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    d = tmp_path_factory.mktemp("sim")
    params = with_overrides(preset("small_256"), {"intensities.mean": 400.0, "scan.num_images": 12})
    simulate_to_directory(params, d)
    experiments = read_experiments(d / "truth.expt")
    truth = read_refl(d / "truth.refl")
    strong = truth.select(truth["counts.expected"] > np.percentile(truth["counts.expected"], 40))
    indexed = ReflectionTable(
        {"miller_index": strong["miller_index"], "id": strong["id"], "xyzobs.px.value": strong["xyzcal.px"],
         "flags": np.full(len(strong), int(Flags.indexed | Flags.strong), np.uint64)},
        experiment_identifiers=truth.experiment_identifiers)
    return experiments, truth, indexed


def _with(params: IntegrateParams, **integration) -> IntegrateParams:
    return dataclasses.replace(params, integration=dataclasses.replace(params.integration, **integration))


def _truth_for(result_table, truth) -> np.ndarray:
    """counts.expected of the truth row with the same hkl and nearest z (nan if none)."""
    order = np.lexsort((truth["xyzcal.px"][:, 2], _hkl_key(truth["miller_index"])))
    keys = _hkl_key(truth["miller_index"])[order]
    rk = _hkl_key(result_table["miller_index"])
    out = np.full(len(rk), np.nan)
    left = np.searchsorted(keys, rk)
    for shift in (0, 1):
        c = np.minimum(left + shift, len(keys) - 1)
        same = (keys[c] == rk) & (np.abs(truth["xyzcal.px"][order[c], 2] - result_table["xyzcal.px"][:, 2]) < 1)
        out[same] = truth["counts.expected"][order[c]][same]
    return out


@pytest.fixture(scope="module")
def integrated(sweep):
    experiments, truth, indexed = sweep
    return integrate(experiments, indexed, IntegrateParams())


def test_integration_matches_truth_per_resolution_bin(sweep, integrated):
    _, truth, _ = sweep
    t = integrated.reflections
    true = _truth_for(t, truth)
    full = (t["partiality"] > 0.99) & np.isfinite(true)
    d = t["d"]
    edges = np.quantile(d[full], [0, 0.25, 0.5, 0.75, 1.0])
    for kind, bit in (("sum", Flags.integrated_sum), ("prf", Flags.integrated_prf)):
        ok = full & t.get_flags(bit)
        assert ok.sum() > 300
        value, var = t[f"intensity.{kind}.value"], t[f"intensity.{kind}.variance"]
        for lo, hi in zip(edges[:-1], edges[1:]):
            sel = ok & (d >= lo) & (d <= hi)
            cc = np.corrcoef(value[sel], true[sel])[0, 1]
            z = (value[sel] - true[sel]) / np.sqrt(var[sel])
            assert cc > 0.97, (kind, lo, hi, cc)
            assert 0.75 < np.std(z) < 1.35, (kind, lo, hi, np.std(z))


def test_profile_fitting_beats_summation_on_weak_reflections(sweep, integrated):
    _, truth, _ = sweep
    t = integrated.reflections
    true = _truth_for(t, truth)
    ok = (t["partiality"] > 0.99) & np.isfinite(true) & t.get_flags(Flags.integrated_sum) & t.get_flags(Flags.integrated_prf)
    weak = ok & (true < np.nanpercentile(true[ok], 30))
    err_sum = np.sqrt(np.mean((t["intensity.sum.value"][weak] - true[weak]) ** 2))
    err_prf = np.sqrt(np.mean((t["intensity.prf.value"][weak] - true[weak]) ** 2))
    assert err_prf < err_sum


def test_profile_model_estimate_and_columns(integrated):
    est = integrated.profile_estimates[0]
    assert est.source == "estimated"
    assert 0.05 < est.sigma_b_deg < 0.3 and 0.04 < est.sigma_m_deg < 0.2  # truth: 0.085 deg sigma_m
    t = integrated.reflections
    for name in ("lp", "qe", "partiality", "zeta", "xyzobs.px.value", "background.mean", "profile.correlation",
                 "num_pixels.background_used", "partial_id", "bbox", "entering"):
        assert name in t
    s = summarize(t)
    assert s.overall.n_summed > 0 and 0.5 < s.overall.mean_cc_prf <= 1.0


def test_results_do_not_depend_on_blocks_or_nproc(sweep, integrated):
    experiments, _, indexed = sweep
    p = IntegrateParams()
    p = _with(p, block=dataclasses.replace(p.integration.block, size=3.0, units="frames"),
              mp=dataclasses.replace(p.integration.mp, nproc=2))
    other = integrate(experiments, indexed, p).reflections
    a = integrated.reflections
    np.testing.assert_allclose(other["intensity.sum.value"], a["intensity.sum.value"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(other["intensity.prf.value"], a["intensity.prf.value"], rtol=1e-6, atol=1e-6)


def test_block_larger_than_scan_warns(sweep):
    experiments, _, indexed = sweep
    p = IntegrateParams()
    p = _with(p, block=dataclasses.replace(p.integration.block, size=1000.0))
    p = dataclasses.replace(p, profile=dataclasses.replace(p.profile, gaussian_rs=dataclasses.replace(
        p.profile.gaussian_rs, parameters=dataclasses.replace(p.profile.gaussian_rs.parameters, sigma_b=0.1, sigma_m=20.0))))
    res = integrate(experiments, indexed, p)
    text = " ".join(res.warnings)
    assert "larger than the scan" in text
    assert "sigma_m = 20" in text
    assert res.experiments[0].profile.sigma_m_deg == 2.0


def test_bad_inputs_raise_clear_errors(sweep):
    experiments, _, indexed = sweep
    from braggflow.model import ExperimentList

    no_crystal = ExperimentList([experiments[0].replace(crystal=None)])
    with pytest.raises(InputDataError, match="no crystal"):
        integrate(no_crystal, indexed, IntegrateParams())
    foreign = indexed.copy()
    foreign.experiment_identifiers = {0: "someone-else"}
    with pytest.raises(InputDataError, match="not in the experiment list"):
        integrate(experiments, foreign, IntegrateParams())
