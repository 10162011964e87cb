"""Noise, gain, overloads, gaps, dead pixels, and the background model."""

from __future__ import annotations

import numpy as np
import pytest

from braggflow.algorithms.simulate import _kernels, _reference
from braggflow.algorithms.simulate.background import background_image
from braggflow.algorithms.simulate.detector_effects import bad_pixel_codes, detector_counts
from braggflow.algorithms.simulate.models import build_experiment, module_gap_rectangles
from braggflow.algorithms.simulate.params import with_overrides
from braggflow.algorithms.simulate.presets import preset


def test_poisson_noise_has_poisson_mean_and_variance():  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    for lam in (0.3, 2.0, 12.0, 80.0):
        x = detector_counts(np.full((300, 300), lam), rng, gain=1.0, saturation=10**6)
        assert x.mean() == pytest.approx(lam, rel=0.02)
        assert x.var() == pytest.approx(lam, rel=0.05)


def test_same_seed_same_image_and_gain_scales_counts():  # type: ignore[no-untyped-def]
    lam = np.random.default_rng(1).uniform(0, 50, (64, 64))
    a = detector_counts(lam, np.random.default_rng(7), gain=1.0, saturation=10**6)
    b = detector_counts(lam, np.random.default_rng(7), gain=1.0, saturation=10**6)
    c = detector_counts(lam, np.random.default_rng(7), gain=2.5, saturation=10**6)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(c, np.floor(a * 2.5 + 0.5).astype(np.int32))


def test_overloads_gaps_and_dead_pixels():  # type: ignore[no-untyped-def]
    lam = np.full((10, 12), 5.0)
    lam[3, 4] = 1e7
    bad = np.zeros(lam.shape, np.int8)
    bad[:, 6] = 1
    bad[8, 2] = 2
    out = detector_counts(lam, np.random.default_rng(0), gain=1.0, saturation=1048575, bad=bad)
    assert out[3, 4] == 1048575
    assert (out[:, 6] == -1).all() and out[8, 2] == -2
    assert out.dtype == np.int32


def test_poisson_kernel_matches_reference_quantiles():  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(2)
    lam = rng.uniform(0, 25, 5000)
    u = rng.random(5000, dtype=np.float32)
    bad = np.zeros(5000, np.int8)
    bad[:10] = 1
    a, b = np.empty(5000, np.int32), np.empty(5000, np.int32)
    _kernels.poisson_counts(lam, u, 30.0, 1.0, 10**6, bad, a)
    _reference.poisson_counts(lam, u.astype(np.float64), 30.0, 1.0, 10**6, bad, b)
    assert (a != b).mean() < 0.002  # float rounding at CDF steps only


def test_pilatus_6m_module_gaps_match_the_detector_layout():  # type: ignore[no-untyped-def]
    rects = module_gap_rectangles((2463, 2527), (487, 195), (7, 17))
    assert len(rects) == 4 + 11
    assert rects[0] == (487, 0, 494, 2527)
    assert rects[4] == (0, 195, 2463, 212)
    e = build_experiment(preset("pilatus6m_thaumatin"))
    code = bad_pixel_codes(e.detector[0], 0.0, 1)
    assert (code == 1).sum() == 4 * 7 * 2527 + 11 * 17 * 2463 - 4 * 7 * 11 * 17


def test_background_rings_peak_at_their_resolution():  # type: ignore[no-untyped-def]
    p = with_overrides(preset("small_512"), {"background.ice_rings": True, "background.flat": 0.0,
                                             "background.solvent_ring": 5.0, "detector.distance_mm": 80.0})
    e = build_experiment(p)
    pan = e.detector[0]
    img = background_image(pan, e.beam, p.background)
    d = pan.d_spacing_map(e.beam.s0)
    ring = np.abs(d - 3.897) < 0.01
    between = np.abs(d - 3.0) < 0.01
    assert img[ring].mean() > 5 * img[between].mean()
    peak_d = d[np.unravel_index(np.argmax(np.where(np.abs(d - 3.5) < 0.3, img, 0)), img.shape)]
    assert 3.3 < peak_d < 3.95
