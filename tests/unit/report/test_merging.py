"""The report's own merging statistics on synthetic data with a known answer."""

from __future__ import annotations

import gemmi
import numpy as np

from braggflow.report.html.sections._merging import asu_and_isym, merging_by_resolution, wilson_b

CELL = gemmi.UnitCell(31.3, 40.7, 52.1, 90, 90, 90)
SG = gemmi.SpaceGroup("P 21 21 21")


def _observations(multiplicity: int, noise: float, anomalous: float = 0.0, seed: int = 1):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    unique = gemmi.make_miller_array(CELL, SG, 3.0, unique=True)
    true = rng.exponential(1000.0, len(unique))
    ops = list(SG.operations())
    hkl, intensity = [], []
    for h, i_true in zip(unique, true):
        for k in range(multiplicity):
            op = ops[k % len(ops)]
            sign = 1 if k % 2 == 0 else -1
            hkl.append([sign * v for v in op.apply_to_hkl(list(h))])
            intensity.append(i_true * (1 + (anomalous if sign > 0 else -anomalous)))
    intensity = np.array(intensity)
    sigma = np.full(len(intensity), noise)
    return np.array(hkl, dtype=np.int32), intensity + rng.normal(0, noise, len(intensity)), sigma, len(unique)


def test_asu_mapping_merges_symmetry_mates():
    hkl = np.array([[1, 2, 3], [-1, 2, -3], [-1, -2, -3], [1, -2, -3]], dtype=np.int32)
    asu, isym = asu_and_isym(hkl, SG)
    assert (asu == asu[0]).all()
    assert set(isym % 2) == {0, 1}  # both Friedel halves present


def test_complete_multiple_data_statistics():
    hkl, intensity, sigma, n_unique = _observations(multiplicity=4, noise=1.0)
    st = merging_by_resolution(hkl, intensity, sigma, CELL, SG, n_bins=5)
    assert int(st.n_unique.sum()) == n_unique
    assert np.allclose(st.completeness, 100.0)
    assert np.allclose(st.multiplicity, 4.0)
    assert np.nanmin(st.cc_half) > 0.99
    assert np.nanmax(st.anom_signal) < 2.0  # no anomalous signal: |dI|/sigma ~ 0.8


def test_noisy_data_lower_cc_half_and_anomalous_signal_detected():
    hkl, intensity, sigma, _ = _observations(multiplicity=4, noise=2000.0)
    assert np.nanmean(merging_by_resolution(hkl, intensity, sigma, CELL, SG, n_bins=3).cc_half) < 0.8
    hkl, intensity, sigma, _ = _observations(multiplicity=4, noise=1.0, anomalous=0.1)
    st = merging_by_resolution(hkl, intensity, sigma, CELL, SG, n_bins=3)
    assert np.nanmin(st.anom_signal) > 10.0


def test_half_completeness_when_half_the_reflections_are_missing():
    hkl, intensity, sigma, n_unique = _observations(multiplicity=2, noise=1.0)
    keep = np.repeat(np.arange(n_unique) % 2 == 0, 2)
    st = merging_by_resolution(hkl[keep], intensity[keep], sigma[keep], CELL, SG, n_bins=1)
    assert abs(st.completeness[0] - 50.0) < 1.0


def test_wilson_b_recovers_slope():
    inv_d2 = np.linspace(0.01, 0.3, 12)
    assert abs(wilson_b(inv_d2, 1e5 * np.exp(-20.0 * inv_d2 / 2))[0] - 20.0) < 1e-6
