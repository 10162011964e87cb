"""Threshold kernels: numba vs numpy reference, hand-computed cases, masks without halos."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from braggflow.algorithms.spotfinding import _kernels, _reference
from braggflow.algorithms.spotfinding.params import DispersionParams, ThresholdParams
from braggflow.algorithms.spotfinding.threshold import strong_pixel_indices, threshold_image
from braggflow.errors import InputDataError, ParameterError

NAMES = ["dispersion_threshold", "dispersion_extended_threshold"]


def _args(img, mask, gain=0.0, erode=False, k=(3, 3), min_count=2):
    return (img, mask, k[0], k[1], 6.0, 3.0, 0.0, min_count, gain, erode)


def _flat_with_spot(value=100.0):
    img = np.full((21, 23), 4.0)
    img[10, 11] = value
    return img


@pytest.mark.parametrize("impl", [_kernels, _reference], ids=["jit", "ref"])
@pytest.mark.parametrize("name", NAMES)
def test_threshold_single_hot_pixel_on_flat_background_is_the_only_strong_pixel(impl, name):
    img = _flat_with_spot()
    strong = getattr(impl, name)(*_args(img, np.ones(img.shape, bool)))
    assert strong.sum() == 1 and strong[10, 11]


@pytest.mark.parametrize("impl", [_kernels, _reference], ids=["jit", "ref"])
def test_dispersion_hand_computed_window_decides_strong_pixel(impl):
    # 7x7 window of 48 ones and one pixel v: m=49, x=48+v, y=48+v^2.
    # dispersion: m*y - x^2 - x*(m-1) > x*6*sqrt(2*48); strength: m*v - x > 3*sqrt(x*m).
    img = np.ones((7, 7))
    mask = np.ones((7, 7), bool)
    for v, expected in ((12.0, False), (13.0, True)):
        img[3, 3] = v
        m, x, y = 49.0, 48.0 + v, 48.0 + v * v
        disp = m * y - x * x - x * (m - 1) > x * 6.0 * np.sqrt(2 * (m - 1))
        strength = m * v - x > 3.0 * np.sqrt(x * m)
        assert (disp and strength) == expected
        assert bool(impl.dispersion_threshold(*_args(img, mask))[3, 3]) == expected


@pytest.mark.parametrize("impl", [_kernels, _reference], ids=["jit", "ref"])
def test_extended_module_gap_does_not_create_halo(impl):
    rng = np.random.default_rng(7)
    img = rng.poisson(3.0, (60, 60)).astype(float)
    img[:, 28:33] = -1.0  # a module gap
    mask = img >= 0
    strong = impl.dispersion_extended_threshold(*_args(img, mask))
    # plain uniform filters would see the -1 gap as a strong dip next to bright pixels
    assert not strong[:, 25:36].any()
    assert not strong[~mask].any()


@pytest.mark.parametrize("impl", [_kernels, _reference], ids=["jit", "ref"])
def test_masked_gap_pixels_are_excluded_from_window_sums(impl):
    # a spot next to a gap filled with huge values: if the gap leaked into the sums the
    # local mean would be enormous and the spot would be lost
    img = _flat_with_spot()
    img[:, 13:15] = 1e6
    mask = np.ones(img.shape, bool)
    mask[:, 13:15] = False
    strong = impl.dispersion_threshold(*_args(img, mask))
    assert strong[10, 11] and strong.sum() == 1


@pytest.mark.parametrize("impl", [_kernels, _reference], ids=["jit", "ref"])
def test_erode_from_mask_removes_spot_touching_gap(impl):
    img = np.full((30, 30), 2.0)
    img[10:13, 14:17] = 200.0
    img[:, 17:19] = -1
    mask = img >= 0
    keep = impl.dispersion_extended_threshold(*_args(img, mask, erode=False))
    eroded = impl.dispersion_extended_threshold(*_args(img, mask, erode=True))
    assert keep[10:13, 14:17].sum() > eroded[10:13, 14:17].sum()


def _chebyshev_core(not_bg, e):
    ny, nx = not_bg.shape
    bg = np.argwhere(~not_bg)
    out = np.zeros_like(not_bg)
    for j in range(ny):
        for i in range(nx):
            if not_bg[j, i]:
                dist = np.inf if bg.size == 0 else np.max(np.abs(bg - [j, i]), axis=1).min()
                out[j, i] = dist >= e
    return out


@settings(max_examples=40, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(1, 12), st.integers(1, 12))), st.integers(1, 4))
def test_erode_core_equals_brute_force_chebyshev_distance(not_bg, e):
    expected = _chebyshev_core(not_bg, e)
    assert np.array_equal(_kernels.erode_core(not_bg, e, e + 1), expected)
    assert np.array_equal(_reference.erode_core(not_bg, e + 2, e), expected)


images = st.tuples(st.integers(1, 24), st.integers(1, 24)).flatmap(
    lambda shape: st.tuples(
        arrays(np.int64, shape, elements=st.integers(-1, 60)),
        arrays(np.bool_, shape),
    )
)


@settings(max_examples=60, deadline=None)
@given(
    images,
    st.sampled_from(NAMES),
    st.sampled_from([0.0, 1.0, 0.5]),
    st.booleans(),
    st.tuples(st.integers(1, 4), st.integers(1, 4)),
    st.integers(0, 9),
)
def test_kernel_matches_reference_on_random_masked_images(data, name, gain, erode, k, mc):
    img, extra = data
    img = img.astype(np.float64)
    mask = (img >= 0) & ~extra
    min_count = max(2, min(mc, (2 * k[0] + 1) * (2 * k[1] + 1)))
    args = _args(img, mask, gain, erode, k, min_count)
    assert np.array_equal(getattr(_kernels, name)(*args), getattr(_reference, name)(*args))


@pytest.mark.parametrize("name", NAMES)
def test_kernel_matches_reference_on_poisson_image_with_spots_and_big_values(name):
    rng = np.random.default_rng(3)
    img = rng.poisson(2.0, (120, 97)).astype(float)
    for y, x in rng.integers(5, 90, (25, 2)):
        img[y - 1 : y + 2, x - 1 : x + 2] += rng.integers(20, 400)
    img[50, 50] = 2.0**25  # excluded from the sums
    img[:, 40:43] = -1
    mask = img >= 0
    args = _args(img, mask)
    a, b = getattr(_kernels, name)(*args), getattr(_reference, name)(*args)
    assert np.array_equal(a, b) and a.sum() > 25


def test_threshold_image_rejects_bad_parameters_and_shapes():
    img = np.zeros((5, 5))
    with pytest.raises(ParameterError, match="min_local"):
        threshold_image(img, img >= 0, ThresholdParams(dispersion=DispersionParams(min_local=1)))
    with pytest.raises(ParameterError, match="radial_profile"):
        threshold_image(img, img >= 0, ThresholdParams(algorithm="radial_profile"))
    with pytest.raises(InputDataError):
        threshold_image(img, np.ones((4, 5), bool), ThresholdParams())


def test_threshold_image_min_local_zero_means_whole_window():
    img = _flat_with_spot()
    img[10, 11] = 100
    params = ThresholdParams(algorithm="dispersion", dispersion=DispersionParams(min_local=0))
    strong = threshold_image(img[:12, :14], np.ones((12, 14), bool), params)
    # the spot sits 1 px from the bottom edge: its clipped window has < 49 pixels
    assert not strong.any()
    assert threshold_image(img, np.ones(img.shape, bool), params)[10, 11]


@pytest.mark.parametrize("algorithm", ["dispersion", "dispersion_extended"])
@pytest.mark.parametrize("dtype", [np.int32, np.float32])
def test_strong_pixel_indices_match_threshold_image_for_any_dtype(algorithm, dtype):
    rng = np.random.default_rng(7)
    img = rng.poisson(3.0, (64, 75)).astype(np.float64)
    for y, x in rng.integers(4, 60, (12, 2)):
        img[y - 1 : y + 2, x - 1 : x + 2] += rng.integers(30, 300)
    mask = np.ones(img.shape, dtype=bool)
    mask[:, 30:33] = False
    params = ThresholdParams(algorithm=algorithm)
    expected = threshold_image(img, mask, params)
    assert expected.sum() > 20
    typed = img.astype(dtype)
    assert np.array_equal(threshold_image(typed, mask, params), expected)
    assert np.array_equal(strong_pixel_indices(typed, mask, params), np.flatnonzero(expected))


def test_integer_image_with_large_negative_valid_values_matches_reference():
    rng = np.random.default_rng(8)
    img = rng.poisson(5.0, (40, 44)).astype(np.int32)
    img[20, 20] = 500
    img[5, 7] = -(2**30)  # valid and summed: float64 sums are no longer small integers
    img[30, 3] = 2**25  # valid but above 2**24: left out of the sums
    mask = np.ones(img.shape, dtype=bool)
    for name in NAMES:
        args = _args(img, mask)
        ref = getattr(_reference, name)(img.astype(np.float64), *args[1:])
        assert np.array_equal(getattr(_kernels, name)(*args), ref)
