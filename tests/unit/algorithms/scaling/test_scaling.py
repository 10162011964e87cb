"""Scaling: recovery of known per-batch scales, improvement over unscaled data, error model,
outlier rejection, bad input, and the scale/merge programs end to end on an MTZ."""

from __future__ import annotations

import gemmi
import numpy as np
import pytest

from braggflow.algorithms.merging.merge import merge_data
from braggflow.algorithms.merging.statistics import merging_statistics
from braggflow.algorithms.merging.unmerged_mtz import write_unmerged_mtz
from braggflow.algorithms.scaling import scaler as S
from braggflow.algorithms.scaling.model import Smoother, auto_intervals, build_model, real_sph_harm
from braggflow.algorithms.scaling.synthetic import simulate_unmerged
from braggflow.errors import InputDataError


@pytest.fixture(scope="module")
def synthetic():
    return simulate_unmerged("P 21 21 21", (40, 50, 60, 90, 90, 90), d_min=2.5, n_batches=60, seed=3)


def _cc_with_truth(data, truth) -> float:
    m = merge_data(data, truncate=False)
    lookup = {tuple(h): i for h, i in zip(truth.asu_hkl.tolist(), truth.intensity)}
    pairs = [(v, lookup[tuple(h)]) for h, v in zip(m.hkl.tolist(), m.imean) if tuple(h) in lookup]
    x, y = np.array(pairs).T
    return float(np.corrcoef(x, y)[0, 1])


def test_recovers_batch_scales_and_improves_cc(synthetic):
    data, truth = synthetic
    result = S.scale_data(data)
    C, D, _ = result.model.components(result.params)
    per_batch = np.array([np.median(C[data.batch == b]) for b in range(1, 61)])
    ratio = per_batch / truth.batch_scale
    assert np.std(ratio / ratio.mean()) < 0.02
    b_fit = np.array([np.median((result.model.K_decay @ result.model.split(result.params)[1])[data.batch == b]) for b in range(1, 61)])
    assert np.corrcoef(b_fit, truth.b_per_batch)[0, 1] > 0.9
    cc_raw, cc_scaled = _cc_with_truth(data, truth), _cc_with_truth(result.data, truth)
    assert cc_scaled > cc_raw
    assert cc_scaled > 0.995
    assert merging_statistics(result.data).overall.r_merge < merging_statistics(data).overall.r_merge


def test_error_model_is_unity_for_correct_sigmas(synthetic):
    data, truth = synthetic
    inv, n = S._groups(data)
    g = truth.batch_scale[data.batch - 1] * np.exp(truth.b_per_batch[data.batch - 1] / (2 * data.d**2))
    em = S.refine_error_model(inv, len(n), data.intensity, data.sigma, g, n[inv] >= 2)
    assert em.a == pytest.approx(1.0, abs=0.05)
    assert em.b < 0.02
    inflated = S.refine_error_model(inv, len(n), data.intensity, data.sigma / 2, g, n[inv] >= 2)
    assert inflated.a == pytest.approx(2.0, rel=0.1)


def test_outliers_are_rejected(synthetic):
    data, _ = synthetic
    rng = np.random.default_rng(0)
    bad = rng.choice(len(data), 20, replace=False)
    corrupted = data.replace(intensity=data.intensity.copy())
    corrupted.intensity[bad] += 50 * corrupted.sigma[bad] + 5 * np.abs(corrupted.intensity[bad])
    result = S.scale_data(corrupted)
    inv, n = S._groups(corrupted)
    testable = bad[n[inv][bad] >= 3]
    assert result.outlier[testable].mean() > 0.9
    assert result.outlier.sum() < 0.01 * len(data)


def test_no_equivalents_is_an_error():
    data, _ = simulate_unmerged("P 1", (40, 50, 60, 80, 95, 100), d_min=6.0, n_batches=5, multiplicity=0.5, seed=1)
    keys, first = np.unique(data.asu_hkl, axis=0, return_index=True)
    with pytest.raises(InputDataError, match="no symmetry-equivalent"):
        S.scale_data(data.select(first))


def test_model_pieces():
    assert auto_intervals(3) == (1.0, 1.5)
    assert auto_intervals(100) == (15.0, 20.0)
    w = Smoother.for_range(0, 90, 15).weights(np.linspace(0, 90, 7))
    assert np.allclose(w.sum(axis=1), 1)
    v = np.random.default_rng(0).normal(size=(200, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    Y = real_sph_harm(4, v)
    assert Y.shape == (200, 24)
    # real harmonics are orthonormal on the sphere: mean of Y_i Y_j ~ delta_ij / (4 pi)
    big = np.random.default_rng(1).normal(size=(40000, 3))
    big /= np.linalg.norm(big, axis=1, keepdims=True)
    Yb = real_sph_harm(2, big)
    assert np.allclose(4 * np.pi * (Yb.T @ Yb) / len(big), np.eye(8), atol=0.05)
    m = build_model(np.linspace(0, 120, 50), np.zeros(50, int), np.full(50, 3.0), v[:50], v[50:100], absorption=True)
    p = m.initial() + 0.01
    J = m.jacobian(p)
    eps = 1e-6
    for k in (0, m.ns, m.ns + m.nd):
        dp = np.zeros_like(p)
        dp[k] = eps
        assert np.allclose((m.g(p + dp) - m.g(p - dp)) / (2 * eps), J[:, k], atol=1e-6)


def test_scale_and_merge_programs_on_mtz(tmp_path, monkeypatch, synthetic):
    from braggflow.pipeline.programs import merge, scale, symmetry

    data, _ = synthetic
    write_unmerged_mtz(data.with_space_group(gemmi.SpaceGroup("P 1")), tmp_path / "in.mtz")
    monkeypatch.chdir(tmp_path)
    assert symmetry.main(["in.mtz"]) == 0
    assert gemmi.read_mtz_file("symmetrized.mtz").spacegroup.hm == "P 21 21 21"
    assert scale.main(["symmetrized.mtz"]) == 0
    scaled = gemmi.read_mtz_file("scaled.mtz")
    assert "SCALEUSED" in scaled.column_labels()
    assert merge.main(["scaled.mtz", "merging.n_bins=5"]) == 0
    merged = gemmi.read_mtz_file("merged.mtz")
    assert {"IMEAN", "F", "I(+)"} <= set(merged.column_labels())
    log = (tmp_path / "braggflow.merge.log").read_text()
    assert "Rmerge  (all I+ and I-)" in log and "OuterShell" in log
    assert merge.main(["nonexistent.mtz"]) != 0


def test_programs_on_expt_refl(tmp_path, monkeypatch):
    """symmetry -> scale -> merge on our own .expt/.refl (integrated columns)."""
    from braggflow.formats.expt_io import read_experiments, write_experiments
    from braggflow.formats.refl_io import read_refl, write_refl
    from braggflow.model import Beam, Crystal, Experiment, ExperimentList, Goniometer, Scan
    from braggflow.model.reflections import Flags, ReflectionTable
    from braggflow.pipeline.programs import merge, scale, symmetry

    data, _ = simulate_unmerged("P 21 21 21", (40, 50, 60, 90, 90, 90), d_min=3.0, n_batches=30, seed=8)
    n = len(data)
    crystal = Crystal.from_cell_and_u(data.cell, np.eye(3), "P 1")
    expts = ExperimentList([Experiment(beam=Beam(direction=np.array([0, 0, 1.0]), wavelength=1.0), goniometer=Goniometer(),
                                       scan=Scan((1, 30), 0.0, 1.0), crystal=crystal)])
    flags = np.full(n, int(Flags.integrated_prf | Flags.integrated_sum | Flags.indexed), dtype=np.uint64)
    table = ReflectionTable({
        "miller_index": data.hkl, "id": np.zeros(n, np.int32), "flags": flags,
        "intensity.prf.value": data.intensity, "intensity.prf.variance": data.sigma**2,
        "intensity.sum.value": data.intensity, "intensity.sum.variance": data.sigma**2,
        "lp": np.ones(n), "qe": np.ones(n), "partiality": np.ones(n), "d": data.d,
        "xyzcal.px": np.stack([np.full(n, 100.0), np.full(n, 100.0), data.rot_deg], axis=1),
    })
    monkeypatch.chdir(tmp_path)
    write_experiments(expts, "integrated.expt")
    write_refl(table, "integrated.refl")
    assert symmetry.main(["integrated.expt", "integrated.refl"]) == 0
    sym = read_experiments("symmetrized.expt")
    assert sym[0].crystal.space_group.hm == "P 21 21 21"
    assert scale.main(["symmetrized.expt", "symmetrized.refl"]) == 0
    scaled = read_refl("scaled.refl")
    g = np.asarray(scaled["inverse_scale_factor"])
    is_scaled = (np.asarray(scaled["flags"]).astype(np.uint64) & np.uint64(Flags.scaled)) != 0
    assert is_scaled.mean() > 0.95
    assert np.all(g[is_scaled] > 0)
    assert read_experiments("scaled.expt")[0].scaling_model["__id__"] == "physical"
    assert merge.main(["scaled.expt", "scaled.refl", "merging.n_bins=5"]) == 0
    assert gemmi.read_mtz_file("merged.mtz").spacegroup.hm == "P 21 21 21"
