"""Physics of the rendered spots: positions, summed counts, partial fractions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from braggflow.algorithms.simulate import _kernels, _reference
from braggflow.model._vec import unit


def _isolated_spots(sim, k, margin=2.0, min_counts=1.0):  # type: ignore[no-untyped-def]
    """Rows of spots on image k whose box is on the panel and overlaps no other spot's box."""
    r = sim.reflections
    rows, counts = r.on_image(k)
    n_sigma = sim.params.n_sigma
    xy = r.xyzcal_px[rows, :2]
    half = n_sigma * np.sqrt(r.cov_px[rows][:, [0, 2]]) + margin
    nf, ns = sim.experiment.detector[0].image_size
    inside = (xy - half > 0).all(axis=1) & (xy[:, 0] + half[:, 0] < nf) & (xy[:, 1] + half[:, 1] < ns)
    keep = []
    for i in np.nonzero(inside & (counts > min_counts))[0]:
        d = np.abs(xy - xy[i])
        clash = (d[:, 0] < half[:, 0] + half[i, 0]) & (d[:, 1] < half[:, 1] + half[i, 1])
        if clash.sum() == 1:
            keep.append(i)
    return rows[keep], counts[keep], half[keep]


def _box(xy, half):  # type: ignore[no-untyped-def]
    x0, y0 = np.floor(xy - half).astype(int)
    x1, y1 = np.floor(xy + half).astype(int) + 1
    return x0, x1, y0, y1


def test_noise_free_spot_centroids_match_predictions_within_0p1_px(small_sim):  # type: ignore[no-untyped-def]
    worst, n = 0.0, 0
    for k in range(small_sim.num_images):
        image = small_sim.expected_image(k, background=False)[0]
        rows, _, half = _isolated_spots(small_sim, k)
        for row, h in zip(rows, half):
            xy = small_sim.reflections.xyzcal_px[row, :2]
            x0, x1, y0, y1 = _box(xy, h)
            sub = image[y0:y1, x0:x1]
            gy, gx = np.mgrid[y0:y1, x0:x1] + 0.5
            c = np.array([(sub * gx).sum(), (sub * gy).sum()]) / sub.sum()
            worst = max(worst, float(np.abs(c - xy).max()))
            n += 1
    assert n > 50
    assert worst < 0.1


def test_spot_box_sums_equal_counts_times_fraction(small_sim):  # type: ignore[no-untyped-def]
    n = 0
    for k in range(small_sim.num_images):
        image = small_sim.expected_image(k, background=False)[0]
        rows, counts, half = _isolated_spots(small_sim, k)
        for row, c, h in zip(rows, counts, half):
            x0, x1, y0, y1 = _box(small_sim.reflections.xyzcal_px[row, :2], h)
            assert image[y0:y1, x0:x1].sum() == pytest.approx(c, rel=1e-9, abs=1e-9)
            n += 1
    assert n > 50


def test_total_counts_are_itrue_times_scale_lorentz_polarization(small_sim):  # type: ignore[no-untyped-def]
    """counts = I_true x scale x L x P with L, P recomputed here from s1 (algorithms.md 7.8)."""
    e = small_sim.experiment
    r = small_sim.reflections
    s0 = e.beam.s0
    axis = e.goniometer.lab_rotation_axis
    s1u, s0u = unit(r.s1), unit(s0)
    inv_l = np.abs(np.cross(r.s1, s0) @ axis) / (np.linalg.norm(r.s1, axis=1) * np.linalg.norm(s0))
    two_theta = np.arccos(s1u @ s0u)
    zeta = unit(np.cross(r.s1, s0)) @ axis
    np.testing.assert_allclose(inv_l, np.abs(zeta) * np.sin(two_theta), rtol=1e-9)
    f, n = e.beam.polarization_fraction, e.beam.polarization_normal
    pol = (1 - 2 * f) * (1 - (s1u @ n) ** 2) + f * (1 + (s1u @ s0u) ** 2)
    expected = r.intensity * small_sim.params.intensities.scale * pol / inv_l
    np.testing.assert_allclose(r.counts, expected, rtol=1e-9)
    np.testing.assert_allclose(r.counts * r.lp, r.intensity * small_sim.params.intensities.scale, rtol=1e-9)


def test_summed_partials_over_images_recover_full_intensity(small_sim):  # type: ignore[no-untyped-def]
    """A fully recorded, isolated reflection: the sum of its boxes over all images = counts."""
    r = small_sim.reflections
    full = np.nonzero(r.partiality > 1 - 1e-7)[0]
    assert len(full) > 10
    images = [small_sim.expected_image(k, background=False)[0] for k in range(small_sim.num_images)]
    checked = 0
    for row in full[:200]:
        parts = np.nonzero(r.partial_refl == row)[0]
        total = 0.0
        ok = True
        for j in parts:
            k = r.partial_image[j]
            rows, _, half = _isolated_spots(small_sim, k, min_counts=-1.0)
            where = np.nonzero(rows == row)[0]
            if len(where) == 0:
                ok = False
                break
            x0, x1, y0, y1 = _box(r.xyzcal_px[row, :2], half[where[0]])
            total += images[k][y0:y1, x0:x1].sum()
        if ok:
            assert total == pytest.approx(r.counts[row], rel=1e-6)
            checked += 1
    assert checked > 5


def test_partial_fractions_sum_to_one_for_reflections_inside_the_scan(small_sim):  # type: ignore[no-untyped-def]
    r = small_sim.reflections
    scan = small_sim.experiment.scan
    phi = np.degrees(r.xyzcal_mm[:, 2])
    lo, hi = scan.oscillation_range_deg
    width = 6 * np.degrees(r.sigma_phi_rad)
    inside = (phi - width > lo) & (phi + width < hi)
    assert inside.sum() > 20
    sums = np.bincount(r.partial_refl, weights=r.partial_fraction, minlength=len(r))
    np.testing.assert_allclose(sums[inside], 1.0, atol=1e-8)
    np.testing.assert_allclose(sums, r.partiality, atol=1e-12)
    assert (r.partiality <= 1 + 1e-12).all()
    # reflections cut by the scan ends are partial
    assert (r.partiality[~inside] < 1 - 1e-9).any()


def test_partials_spread_over_neighbouring_images_with_the_true_z_centroid(small_sim):  # type: ignore[no-untyped-def]
    """With sigma_phi wider than an image, the fraction-weighted image centre is z_cal."""
    r = small_sim.reflections
    sums = np.bincount(r.partial_refl, weights=r.partial_fraction, minlength=len(r))
    zc = np.bincount(r.partial_refl, weights=r.partial_fraction * (r.partial_image + 0.5), minlength=len(r))
    wide = (sums > 1 - 1e-8) & (np.degrees(r.sigma_phi_rad) > 0.35)
    assert wide.sum() > 5
    np.testing.assert_allclose(zc[wide], r.xyzcal_px[wide, 2], atol=0.02)
    n_images = np.bincount(r.partial_refl, minlength=len(r))
    assert (n_images[wide] >= 3).all()


def test_noisy_image_spot_sums_agree_with_truth_within_poisson_error(make_small_params):  # type: ignore[no-untyped-def]
    from braggflow.algorithms.simulate.sweep import prepare_simulation

    sim = prepare_simulation(make_small_params(**{"noise.poisson": True, "scan.num_images": 2}))
    k = 1
    data = sim.image(k)[0].astype(float)
    bg = sim.backgrounds[0]
    rows, counts, half = _isolated_spots(sim, k)
    z = []
    for row, c, h in zip(rows, counts, half):
        x0, x1, y0, y1 = _box(sim.reflections.xyzcal_px[row, :2], h)
        signal = data[y0:y1, x0:x1].sum() - bg[y0:y1, x0:x1].sum()
        z.append((signal - c) / math.sqrt(c + bg[y0:y1, x0:x1].sum()))
    z = np.array(z)
    assert len(z) > 20
    assert abs(z.mean()) < 4 / math.sqrt(len(z))
    assert 0.7 < z.std() < 1.3


@pytest.mark.parametrize("supersample", [1, 3])
def test_splat_kernel_matches_reference(supersample):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    n = 40
    x, y = rng.uniform(-3, 35, n), rng.uniform(-3, 27, n)
    sxx, syy = rng.uniform(0.3, 4, n), rng.uniform(0.3, 4, n)
    sxy = rng.uniform(-0.5, 0.5, n) * np.sqrt(sxx * syy)
    counts = rng.uniform(1, 1000, n)
    a, b = np.zeros((30, 32)), np.zeros((30, 32))
    _kernels.splat_gaussians(a, x, y, sxx, sxy, syy, counts, 4.0, supersample)
    _reference.splat_gaussians(b, x, y, sxx, sxy, syy, counts, 4.0, supersample)
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    assert a.sum() < counts.sum()  # spots near the edges lose their off-image part


def test_rocking_fraction_kernel_matches_reference():  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(4)
    n = 30
    phi_c = rng.uniform(0, 0.2, n)
    sig = rng.uniform(1e-4, 0.02, n)
    first = np.zeros(n, dtype=np.int64)
    last = np.full(n, 19, dtype=np.int64)
    off = np.arange(n + 1, dtype=np.int64) * 20
    out = [(np.empty(20 * n, dtype=np.int64), np.empty(20 * n)) for _ in range(2)]
    _kernels.rocking_fractions(phi_c, sig, -0.05, 0.0175, first, last, off, *out[0])
    _reference.rocking_fractions(phi_c, sig, -0.05, 0.0175, first, last, off, *out[1])
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_allclose(out[0][1], out[1][1], atol=1e-14)
