"""Scan edges on a simulated sweep with a scan-varying crystal: reflections centred in the
prediction padding are predicted (their tails are on the first/last image) and are summed,
but never profile fitted from a sliver of their profile."""

from __future__ import annotations

import numpy as np
import pytest

from braggflow.algorithms.integration import IntegrateParams, integrate
from braggflow.algorithms.integration.predict import predict_for_integration
from braggflow.algorithms.simulate.params import with_overrides
from braggflow.algorithms.simulate.presets import preset
from braggflow.formats.expt_io import read_experiments
from braggflow.formats.refl_io import read_refl
from braggflow.model.reflections import Flags, ReflectionTable
from braggflow.pipeline.programs.simulate import simulate_to_directory


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    d = tmp_path_factory.mktemp("edges")
    simulate_to_directory(with_overrides(preset("small_256"), {"intensities.mean": 400.0, "scan.num_images": 8}), d)
    expt = read_experiments(d / "truth.expt")
    truth = read_refl(d / "truth.refl")
    e = expt[0]
    n = e.scan.num_images + 1
    crystal = e.crystal.replace(A_at_scan_points=np.repeat(np.asarray(e.crystal.A)[None], n, axis=0))
    expt[0] = e.replace(crystal=crystal)
    strong = truth.select(truth["counts.expected"] > np.percentile(truth["counts.expected"], 40))
    indexed = ReflectionTable(
        {"miller_index": strong["miller_index"], "id": strong["id"], "xyzobs.px.value": strong["xyzcal.px"],
         "flags": np.full(len(strong), int(Flags.indexed | Flags.strong), np.uint64)},
        experiment_identifiers=truth.experiment_identifiers)
    return expt, indexed


def test_scan_varying_prediction_reaches_the_padding_edges(sweep):
    expt, _ = sweep
    e = expt[0]
    varying = predict_for_integration(e, 2.5, padding_deg=1.0)
    static = predict_for_integration(e, 2.5, padding_deg=1.0, force_static=True)
    assert len(varying["d"]) >= len(static["d"]) > 100
    z = varying["xyzcal.px"][:, 2]
    pad = np.ceil(1.0 / abs(e.scan.oscillation_width_deg))
    a0, a1 = e.scan.array_range
    assert z.min() < a0 - pad + 0.5 and z.max() > a1 + pad - 0.5  # the whole padded range


def test_edge_reflections_are_summed_but_not_fitted(sweep):
    expt, indexed = sweep
    t = integrate(expt, indexed, IntegrateParams()).reflections
    a0, a1 = expt[0].scan.array_range
    z = t["xyzcal.px"][:, 2]
    outside = ((z < a0) | (z >= a1)) & t.get_flags(Flags.integrated_sum)
    assert outside.sum() > 5
    prf = t.get_flags(Flags.integrated_prf)
    assert not np.any(prf & (t["partiality"] < 0.2))  # passes.PRF_MIN_FRACTION = 0.25 of the model
    full = prf & (t["partiality"] > 0.99)
    ratio = t["intensity.prf.value"][prf] / np.maximum(np.abs(t["intensity.sum.value"][prf]), 1.0)
    assert np.max(np.abs(t["intensity.prf.value"][prf])) < 1e3 * np.max(np.abs(t["intensity.sum.value"][full]))
    assert np.median(ratio) == pytest.approx(1.0, abs=0.1)
