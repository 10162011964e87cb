"""Kernels on synthetic shoeboxes: Gaussian spots on Poisson backgrounds (fixed seeds)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import erf

from braggflow.algorithms.integration import _kernels, _reference


def _pixel_gaussian(n: int, sigma: float) -> np.ndarray:
    """Fraction of a centred 2-D Gaussian in each pixel of an n x n box."""
    edges = np.arange(n + 1) - n / 2
    f = 0.5 * np.diff(erf(edges / (np.sqrt(2) * sigma)))
    return np.outer(f, f)


@pytest.mark.parametrize("impl", [_kernels.glm_constant, _reference.glm_constant], ids=["jit", "ref"])
def test_glm_constant_recovers_poisson_mean_despite_outliers(impl):
    rng = np.random.default_rng(1)
    values = rng.poisson(3.0, 400).astype(float)
    values[:8] = 60.0  # a few hot pixels / neighbouring spot
    mu = impl(values)
    assert abs(mu - 3.0) < 0.3
    assert values.mean() > 4.0  # the plain mean would be pulled up


def test_glm_kernel_matches_reference():
    rng = np.random.default_rng(2)
    for lam in (0.2, 1.0, 7.5, 40.0):
        v = rng.poisson(lam, 200).astype(float)
        assert _kernels.glm_constant(v) == pytest.approx(_reference.glm_constant(v), rel=1e-9)


@pytest.mark.parametrize("code", [0, 1, 2, 3, 4, 5])
def test_robust_keep_kernel_matches_reference(code):
    rng = np.random.default_rng(3)
    v = np.concatenate([rng.normal(10, 2, 100), [40.0, -20.0]])
    assert np.array_equal(_kernels.robust_keep(v, code, 3.0 if code != 2 else 0.01, 3.0 if code != 2 else 0.01),
                          _reference.robust_keep(v, code, 3.0 if code != 2 else 0.01, 3.0 if code != 2 else 0.01))


def test_nsigma_rejects_outliers():
    rng = np.random.default_rng(4)
    v = np.concatenate([rng.normal(10, 1, 200), [30.0, 35.0]])
    keep = _kernels.robust_keep(v, 1, 3.0, 3.0)
    assert not keep[-1] and not keep[-2] and keep[:200].mean() > 0.98


def _box_store(data: np.ndarray, fg: np.ndarray):
    """One shoebox (nz, ny, nx) with mask Valid + Foreground/Background."""
    nz, ny, nx = data.shape
    bbox = np.array([[0, nx, 0, ny, 0, nz]], dtype=np.int32)
    offsets = np.array([0, data.size], dtype=np.int64)
    m = np.where(np.broadcast_to(fg, data.shape), _kernels.FOREGROUND, _kernels.BACKGROUND) | _kernels.VALID
    return bbox, offsets, data.astype(np.float32).ravel(), m.astype(np.int32).ravel()


def test_simple_linear2d_background_recovers_a_plane():
    ny = nx = 21
    yy, xx = np.mgrid[0:ny, 0:nx]
    plane = 5.0 + 0.3 * (xx - 10) - 0.2 * (yy - 10)
    rng = np.random.default_rng(5)
    data = rng.poisson(np.broadcast_to(plane, (2, ny, nx)) * 10).astype(float) / 10  # low-noise
    fg = (xx - 10) ** 2 + (yy - 10) ** 2 <= 9
    bbox, offsets, d, m = _box_store(data, fg)
    bg = np.empty(d.size)
    used, ok = _kernels._background_one(d, m, 0, d.size, nx, ny, 2, 1, 2, 0, 3.0, 3.0, 10, bg)
    assert ok and used == 2 * np.sum(~fg)
    np.testing.assert_allclose(bg.reshape(2, ny, nx)[0][fg], plane[fg], atol=0.15)


def _trials(n: int, intensity: float, background: float, seed: int):
    """Summation (GLM background) and fit with the true profile over n noisy 2-D spots."""
    size, sigma = 17, 1.5
    p = _pixel_gaussian(size, sigma)[None]
    yy, xx = np.mgrid[0:size, 0:size] - (size - 1) / 2
    fg = xx**2 + yy**2 <= (3 * sigma) ** 2
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        data = rng.poisson(background + intensity * p).astype(float)
        bbox, offsets, d, m = _box_store(data, fg)
        res = np.zeros((1, _kernels.N_COLS))
        flags = np.zeros(1, np.int64)
        bg_b = np.zeros(d.size)
        used, ok = _kernels._background_one(d, m, 0, d.size, size, size, 1, 0, 0, 0, 0, 0, 10, bg_b)
        sel = fg.ravel()
        nfg = sel.sum()
        isum = float(np.sum(d[sel] - bg_b[sel]))
        bsum = float(np.sum(bg_b[sel]))
        vsum = abs(isum) + abs(bsum) * (1 + nfg / used)
        ip, vp, cc, okf = _kernels.fit_profile(d[sel].astype(float), bg_b[sel], p.ravel()[sel], 0, bg_b[0] / used)
        out.append((isum, vsum, ip, vp, okf))
    return np.array(out)


def test_summation_is_unbiased_with_honest_sigmas():
    r = _trials(600, 200.0, 2.0, seed=6)
    z = (r[:, 0] - 200.0 * 0.9889) / np.sqrt(r[:, 1])  # 3-sigma disc holds 98.89 % of the spot
    assert abs(z.mean()) < 0.15
    assert 0.85 < z.std() < 1.15


def test_profile_fitting_beats_summation_on_weak_spots():
    true = 15.0
    r = _trials(800, true, 3.0, seed=7)
    assert np.all(r[:, 4] == 1)
    rmse_sum = np.sqrt(np.mean((r[:, 0] - true * 0.9889) ** 2))
    rmse_prf = np.sqrt(np.mean((r[:, 2] - true) ** 2))
    assert rmse_prf < 0.8 * rmse_sum
    z = (r[:, 2] - true) / np.sqrt(r[:, 3])
    assert 0.85 < z.std() < 1.2
    assert abs(z.mean()) < 0.2


def test_fit_profile_kernel_matches_reference():
    rng = np.random.default_rng(8)
    p = _pixel_gaussian(9, 1.2).ravel()
    c = rng.poisson(2 + 50 * p).astype(float)
    b = np.full_like(c, 2.0)
    for mode in (0, 1):
        a = _kernels.fit_profile(c, b, p, mode, 0.01)
        r = _reference.fit_profile(c, b, p, mode, 0.01)
        np.testing.assert_allclose(a[:3], r[:3], rtol=1e-9, atol=1e-12)


def test_extract_frame_kernel_matches_reference_and_flags_overloads():
    rng = np.random.default_rng(9)
    image = rng.integers(0, 100, (30, 40)).astype(np.int32)
    image[5, 5] = 10**7
    valid = image < 10**6
    bbox = np.array([[2, 9, 3, 8, 0, 2], [35, 45, -2, 4, 1, 3]], dtype=np.int32)
    sizes = (bbox[:, 1] - bbox[:, 0]) * (bbox[:, 3] - bbox[:, 2]) * (bbox[:, 5] - bbox[:, 4])
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    outs = []
    for impl in (_kernels.extract_frame, _reference.extract_frame):
        d = np.zeros(offsets[-1], np.float32)
        m = np.zeros(offsets[-1], np.int32)
        impl(image, valid, 1, 1e6, np.array([0, 1], np.int64), bbox, offsets, d, m)
        outs.append((d, m))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
    first = outs[0][1][: sizes[0]].reshape(2, 5, 7)
    assert first[1, 5 - 3, 5 - 2] == _kernels.OVERLOAD_BIT
    second = outs[0][1][sizes[0]:].reshape(2, 6, 10)
    assert np.all(second[0, :2, :] == 0)  # rows above the image are invalid
    assert np.all(second[0, :, 5:] == 0)  # columns beyond the image are invalid
