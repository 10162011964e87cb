"""Analytic derivatives of the predictions against central finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from refinement_synthetic import make_experiment, multi_panel_detector, observations

from braggflow.algorithms.refinement.parameterisation import PredictionParameterisation
from braggflow.algorithms.refinement.params import BeamParams, ParameterisationParams
from braggflow.algorithms.refinement.prediction import predict_observed
from braggflow.model import ExperimentList


def _all_free() -> ParameterisationParams:
    return ParameterisationParams(beam=BeamParams(fix=()))


def _check(experiment, d_min=2.5, *, n_max=300):
    refl = observations(experiment, d_min, sigma_px=0.0, sigma_images=0.0)
    sel = np.arange(min(len(refl), n_max))
    hkl = refl["miller_index"][sel]
    panel = refl["panel"][sel].astype(int)
    phi = refl["xyzobs.mm.value"][sel, 2]
    entering = refl["entering"][sel]
    pp = PredictionParameterisation(ExperimentList([experiment]), _all_free())
    full = pp.initial.copy()
    # move away from the initial state so that rotations are not evaluated at zero
    full += np.where(np.char.find(np.array(pp.names), "Tau") >= 0, 0.7, 0.0)
    full += np.where(np.char.find(np.array(pp.names), "Phi") >= 0, -0.4, 0.0)
    full += np.where(np.char.find(np.array(pp.names), "Mu") >= 0, 0.3, 0.0)
    exps = pp.compose(full)
    pred = predict_observed(exps[0], hkl, panel, phi, entering, pp.derivatives(full, 0))
    assert pred.ok.sum() > 0.9 * len(sel)
    ok = pred.ok
    grads = np.stack([pred.dX, pred.dY, pred.dphi], axis=2)  # (n, k, 3)
    checked = 0
    for j, col in enumerate(pred.columns):
        h = 1e-4 if "g_param" not in pp.names[col] else 1e-4 * max(1.0, abs(full[col]))
        vals = []
        for sign in (1, -1):
            f = full.copy()
            f[col] += sign * h
            vals.append(predict_observed(pp.compose(f)[0], hkl, panel, phi, entering).xyzcal_mm)
        fd = (vals[0] - vals[1]) / (2 * h)
        an = grads[:, j, :]
        scale = np.max(np.abs(fd[ok]), axis=0) + 1e-12
        err = np.max(np.abs(fd[ok] - an[ok]), axis=0) / scale
        assert np.all(err < 1e-5), (pp.names[col], err)
        checked += 1
    return pp, checked


def test_derivatives_single_tilted_panel_triclinic_match_finite_differences():
    pp, checked = _check(make_experiment())
    assert checked == len(pp.names) == 3 + 3 + 6 + 6


def test_derivatives_multi_panel_hierarchical_groups_match_finite_differences():
    from braggflow.algorithms.refinement.params import DetectorParams

    exp = make_experiment(detector=multi_panel_detector())
    params = ParameterisationParams(
        beam=BeamParams(fix=()), detector=DetectorParams(panels="hierarchical", hierarchy_level=1)
    )
    refl = observations(exp, 2.5, sigma_px=0.0, sigma_images=0.0)
    assert len(np.unique(refl["panel"])) == 4
    pp = PredictionParameterisation(ExperimentList([exp]), params)
    assert len([n for n in pp.names if n.startswith("Detector1Group")]) == 24
    _, checked = _check(exp)  # whole detector as one rigid group
    assert checked == 18


def test_derivatives_multi_panel_per_panel_groups(monkeypatch):
    from braggflow.algorithms.refinement.parameterisation import manager

    exp = make_experiment(detector=multi_panel_detector())
    original = manager.panel_groups
    monkeypatch.setattr(manager, "panel_groups", lambda det, level: original(det, 1))
    pp, checked = _check(exp, n_max=600)
    assert checked == 3 + 3 + 6 + 24


@pytest.mark.parametrize("sg,cell,n_cell", [("P 4", (57.8, 57.8, 150.0, 90, 90, 90), 2), ("P 6", (80, 80, 40, 90, 90, 120), 2), ("P 1 2 1", (40, 50, 60, 90, 104, 90), 4)])
def test_derivatives_constrained_cells(sg, cell, n_cell):
    pp, checked = _check(make_experiment(cell=cell, space_group=sg), n_max=150)
    assert len([n for n in pp.names if "g_param" in n]) == n_cell
    assert checked == 12 + n_cell
