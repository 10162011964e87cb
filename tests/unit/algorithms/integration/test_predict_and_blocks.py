"""Scan-varying prediction and the block plan."""

from __future__ import annotations

import numpy as np

from braggflow.algorithms.integration.blocks import block_size_frames, plan_blocks
from braggflow.algorithms.integration.predict import predict_for_integration
from braggflow.algorithms.simulate.models import build_experiment
from braggflow.algorithms.simulate.presets import preset


def test_scan_varying_prediction_with_constant_A_matches_static():
    expt = build_experiment(preset("small_256"))
    n = expt.scan.num_images + 1
    varying = expt.replace(crystal=expt.crystal.replace(A_at_scan_points=np.repeat(expt.crystal.A[None], n, axis=0)))
    a = predict_for_integration(expt, 2.5)
    b = predict_for_integration(varying, 2.5)
    key = lambda c: {tuple(h): z for h, z in zip(c["miller_index"], c["xyzcal.px"])}  # noqa: E731
    ka, kb = key(a), key(b)
    common = [h for h in ka if h in kb and 0.5 < ka[h][2] < expt.scan.num_images - 0.5]
    assert len(common) > 0.95 * sum(1 for h in ka if 0.5 < ka[h][2] < expt.scan.num_images - 0.5)
    diff = np.array([ka[h] - kb[h] for h in common])
    assert np.max(np.abs(diff)) < 5e-3  # r is interpolated linearly within a frame (chord, not arc)


def test_block_plan_owns_every_reflection_once():
    rng = np.random.default_rng(0)
    z0 = rng.integers(0, 100, 500)
    z1 = z0 + rng.integers(1, 5, 500)
    plans = plan_blocks(z0, np.minimum(z1, 100), (0, 100), 10)
    rows = np.concatenate([r for r, _ in plans])
    assert sorted(rows.tolist()) == list(range(500))
    for r, (lo, hi) in plans:
        assert z0[r].min() >= lo and np.minimum(z1, 100)[r].max() <= hi


def test_block_size_larger_than_scan_is_clamped_with_a_warning():
    frames, warnings = block_size_frames(90.0, "degrees", 0.5, 20, 3, 1)
    assert frames == 20 and warnings
    frames, warnings = block_size_frames(None, "degrees", 0.5, 400, 3, 2)
    assert frames == 50 and not warnings
