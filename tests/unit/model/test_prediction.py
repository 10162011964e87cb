"""Rotation prediction (algorithms.md 1.7) on a synthetic triclinic crystal, and against DIALS."""

from __future__ import annotations

from pathlib import Path

import gemmi
import numpy as np
import pytest

from braggflow.algorithms.prediction import generate_indices, predict_reflections, rotation_angles
from braggflow.model import Beam, Crystal, Detector, Experiment, Goniometer, Panel, Scan
from braggflow.model._vec import rotation_matrix

D_MIN = 1.6


def _experiment(scan: Scan, *, strategy: str = "SimplePxMmStrategy") -> Experiment:
    beam = Beam(direction=(0.01, -0.005, 1.0), wavelength=0.9)
    panel = Panel(
        fast_axis=(1.0, 0.0, 0.0), slow_axis=(0.0, -1.0, 0.0), origin=(-160.0, 165.0, -150.0),
        pixel_size=(0.172, 0.172), image_size=(1900, 1950), thickness=0.45, mu=3.9, px_mm_strategy=strategy,
    )
    gonio = Goniometer.from_axes([(1.0, 0.0, 0.0), (0.0, 0.6, -0.8), (1.0, 0.05, 0.0)], [12.0, 30.0, 8.0],
                                 ["PHI", "KAPPA", "OMEGA"], scan_axis=1)
    U = rotation_matrix(np.array([0.2, -0.7, 0.4]), 0.9)
    crystal = Crystal.from_cell_and_u(gemmi.UnitCell(11.0, 13.5, 17.2, 83.0, 97.0, 104.0), U)
    return Experiment(beam=beam, detector=Detector((panel,)), goniometer=gonio, scan=scan, crystal=crystal)


def _lab_r(exp: Experiment, hkl: np.ndarray, phi: np.ndarray) -> np.ndarray:
    return np.einsum("nij,nj->ni", exp.goniometer.rotation(phi), hkl @ exp.crystal.A.T)


def test_predictions_satisfy_the_diffraction_condition() -> None:
    exp = _experiment(Scan((1, 60), -10.0, 0.5))
    p = predict_reflections(exp, D_MIN)
    assert len(p) > 200
    s0 = exp.beam.s0
    r = _lab_r(exp, p.miller_index.astype(float), p.xyzcal_mm[:, 2])
    np.testing.assert_allclose(np.linalg.norm(s0 + r, axis=1), 1.0 / exp.beam.wavelength, rtol=0, atol=1e-12)
    np.testing.assert_allclose(p.s1, s0 + r, atol=1e-12)
    np.testing.assert_allclose(p.d, 1.0 / np.linalg.norm(p.miller_index @ exp.crystal.A.T, axis=1), rtol=1e-12)
    assert (p.d >= D_MIN).all()
    # positions land on the panel along s1
    panel = exp.detector[0]
    lab = panel.get_lab_coord(p.xyzcal_mm[:, :2])
    np.testing.assert_allclose(np.cross(lab, p.s1), 0.0, atol=1e-9)
    assert (np.einsum("ij,ij->i", lab, p.s1) > 0).all()
    assert ((p.xyzcal_px[:, :2] >= 0) & (p.xyzcal_px[:, :2] <= panel.image_size)).all()
    np.testing.assert_allclose(p.xyzcal_px[:, :2], p.xyzcal_mm[:, :2] / 0.172, atol=1e-9)
    # frames inside the scan, consistent with phi
    z = p.xyzcal_px[:, 2]
    assert ((z >= 0) & (z < 60)).all()
    np.testing.assert_allclose(z, exp.scan.array_index_from_angle(np.degrees(p.xyzcal_mm[:, 2])), atol=1e-9)
    # entering: s1 . (s0 x e) < 0, and both kinds occur
    e_lab = exp.goniometer.lab_rotation_axis
    np.testing.assert_array_equal(p.entering, (p.s1 @ np.cross(s0, e_lab)) < 0)
    assert 0 < p.entering.sum() < len(p)
    cols = p.as_columns(experiment_id=3)
    assert cols["panel"].dtype == np.uint64 and (cols["id"] == 3).all() and cols["miller_index"].dtype == np.int32


def _brute_force_crossings(exp: Experiment, hkl: np.ndarray, n_steps: int) -> int:
    """Count sign changes of |s0 + r(phi)| - 1/lambda over the scan whose s1 hits the panel."""
    lo, hi = np.radians(exp.scan.oscillation_range_deg)
    phis = np.linspace(lo, hi, n_steps + 1)
    s0, k = exp.beam.s0, 1.0 / exp.beam.wavelength
    p0 = hkl @ exp.crystal.A.T
    ops = exp.goniometer.rotation(phis)  # (m, 3, 3)
    r = np.einsum("mij,nj->mni", ops, p0)
    f = np.linalg.norm(s0 + r, axis=2) - k
    m, n = np.nonzero(np.sign(f[:-1]) != np.sign(f[1:]))
    s1 = s0 + 0.5 * (r[m, n] + r[m + 1, n])
    which, _ = exp.detector.get_ray_intersection(s1)
    return int((which >= 0).sum())


@pytest.mark.parametrize("scan", [Scan((1, 60), -10.0, 0.5), Scan((11, 50), 200.0, -0.5)], ids=["forward", "reverse"])
def test_prediction_is_complete_and_respects_the_scan(scan: Scan) -> None:
    exp = _experiment(scan)
    p = predict_reflections(exp, D_MIN)
    hkl = generate_indices(exp.crystal.A, D_MIN).astype(float)
    expected = _brute_force_crossings(exp, hkl, 3000)
    assert abs(len(p) - expected) <= 2  # grid edge effects only
    lo, hi = np.radians(sorted(scan.oscillation_range_deg))
    phi = p.xyzcal_mm[:, 2]
    assert ((phi >= lo - 1e-12) & (phi <= hi + 1e-12)).all()
    z = p.xyzcal_px[:, 2]
    assert ((z >= scan.array_range[0]) & (z < scan.array_range[1])).all()
    assert np.all(np.diff(z) >= 0)  # sorted by frame


def test_multi_turn_scan_predicts_every_turn() -> None:
    one = predict_reflections(_experiment(Scan((1, 360), 5.0, 1.0)), 3.0)
    two = predict_reflections(_experiment(Scan((1, 720), 5.0, 1.0)), 3.0)
    assert len(two) == 2 * len(one) > 0
    first = two.xyzcal_px[:, 2] < 360
    np.testing.assert_allclose(np.sort(two.xyzcal_px[~first, 2] - 360), np.sort(one.xyzcal_px[:, 2]), atol=1e-9)
    np.testing.assert_allclose(np.sort(two.xyzcal_px[first, 2]), np.sort(one.xyzcal_px[:, 2]), atol=1e-9)


def test_rotation_angles_blind_region_and_limits() -> None:
    s0 = np.array([0.0, 0.0, -1.0])
    e = np.array([1.0, 0.0, 0.0])
    p0 = np.array([[0.3, 0.0, 0.0], [0.0, 0.3, 0.2], [0.0, 2.5, 0.0]])  # along axis / normal / beyond 2/lambda
    a, b, ok = rotation_angles(p0, s0, e)
    assert ok.tolist() == [False, True, False]
    for phi in (a[1], b[1]):
        r = rotation_matrix(e, phi) @ p0[1]
        assert abs(np.linalg.norm(s0 + r) - 1.0) < 1e-12


def test_d_spacing_map_agrees_with_predicted_d() -> None:
    exp = _experiment(Scan((1, 60), -10.0, 0.5))
    p = predict_reflections(exp, D_MIN)
    dmap = exp.detector[0].d_spacing_map(exp.beam.s0)
    x, y = p.xyzcal_px[:, 0], p.xyzcal_px[:, 1]
    i, j = np.clip(y.astype(int), 0, dmap.shape[0] - 2), np.clip(x.astype(int), 0, dmap.shape[1] - 2)
    step = np.abs(dmap[i, j + 1] - dmap[i, j]) + np.abs(dmap[i + 1, j] - dmap[i, j])
    assert np.all(np.abs(dmap[i, j] - p.d) <= step)
    assert np.median(np.abs(dmap[i, j] - p.d) / p.d) < 1e-3  # within one pixel's d gradient


def test_predictions_match_dials_xyzcal(tests_data: Path) -> None:
    """DIALS 3.12 static-model xyzcal of l-cysteine (multi-axis, parallax) to 1e-9 px."""
    from braggflow.formats.expt_io import read_experiments
    from braggflow.formats.refl_io import read_refl

    folder = tests_data / "experiments"
    (exp,) = read_experiments(folder / "l_cysteine_indexed.expt")
    table = read_refl(folder / "l_cysteine_indexed.refl")
    hkl = np.asarray(table["miller_index"])
    cal = np.asarray(table["xyzcal.px"])
    entering = np.asarray(table["entering"])
    inside = np.any(hkl != 0, axis=1) & (cal[:, 2] >= 0) & (cal[:, 2] < exp.scan.num_images)
    assert inside.sum() >= 15
    p = predict_reflections(exp, 0.5, miller_index=hkl[inside])
    for h, c, ent in zip(hkl[inside], cal[inside], entering[inside]):
        k = np.nonzero(np.all(p.miller_index == h, axis=1))[0]
        best = k[np.argmin(np.abs(p.xyzcal_px[k, 2] - c[2]))]
        np.testing.assert_allclose(p.xyzcal_px[best], c, atol=1e-9)
        assert p.entering[best] == ent
