"""Experiment models: B convention, change of basis, scan, panel mappings, goniometer."""

from __future__ import annotations

import gemmi
import numpy as np
import pytest

from braggflow.model import (
    PARALLAX,
    Beam,
    Crystal,
    Detector,
    Goniometer,
    Panel,
    Scan,
    b_matrix,
    cell_from_real_space,
    parse_abc,
)
from braggflow.model._vec import rotation_matrix

TRICLINIC = gemmi.UnitCell(5.4, 8.1, 12.0, 81.0, 95.0, 103.0)


def _random_u(seed: int = 3) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


# ---------------------------------------------------------------------------------------
# crystal
# ---------------------------------------------------------------------------------------
def test_b_matrix_is_cctbx_convention() -> None:
    B = b_matrix(TRICLINIC)
    assert np.allclose(np.triu(B, 1), 0.0) and not np.allclose(np.tril(B, -1), 0.0)  # lower triangular
    rec = TRICLINIC.reciprocal()
    np.testing.assert_allclose(np.linalg.norm(B, axis=0), [rec.a, rec.b, rec.c], rtol=1e-12)
    # columns are a*, b*, c* in the frame where O has a along x and b in the xy plane
    O = np.array(TRICLINIC.orth.mat.tolist())
    np.testing.assert_allclose(O.T @ B, np.eye(3), atol=1e-12)  # a_i . b*_j = delta_ij
    np.testing.assert_allclose(O[1:, 0], 0.0, atol=1e-12)  # a along x
    np.testing.assert_allclose(O[2, 1], 0.0, atol=1e-12)  # b in the xy plane


def test_a_inverse_rows_are_real_space_vectors() -> None:
    U = _random_u()
    crystal = Crystal.from_cell_and_u(TRICLINIC, U)
    real = np.linalg.inv(crystal.A)
    O = np.array(TRICLINIC.orth.mat.tolist())
    np.testing.assert_allclose(real, (U @ O).T, atol=1e-12)  # rows of A^-1 = columns of U O
    np.testing.assert_allclose(crystal.real_space_vectors, real)
    got = crystal.unit_cell
    np.testing.assert_allclose(got.parameters, TRICLINIC.parameters, rtol=1e-12)
    np.testing.assert_allclose(crystal.U, U, atol=1e-12)
    np.testing.assert_allclose(crystal.B, b_matrix(TRICLINIC), atol=1e-15)
    back = Crystal.from_real_space_vectors(*real)
    np.testing.assert_allclose(back.A, crystal.A, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(cell_from_real_space(real).parameters, TRICLINIC.parameters, rtol=1e-12)


@pytest.mark.parametrize("op", ["a+b,-a+b,c", "b,c,a", "-a,-b,c", "a,b,a+c", "1/2a+1/2b,-1/2a+1/2b,c"])
def test_change_basis_reindexes_a_triclinic_lattice(op: str) -> None:
    crystal = Crystal.from_cell_and_u(TRICLINIC, _random_u(5))
    crystal = crystal.replace(A_at_scan_points=np.array([crystal.A, crystal.A * 1.001]))
    P = parse_abc(op)
    new = crystal.change_basis(P)
    hkl = np.random.default_rng(1).integers(-6, 7, size=(50, 3)) * 2  # even: integer h' for halves
    h_new = hkl @ P  # h' = P^T h, row vectors
    np.testing.assert_allclose(h_new @ new.A.T, hkl @ crystal.A.T, atol=1e-12)
    new_real = new.real_space_vectors
    old = crystal.real_space_vectors
    np.testing.assert_allclose(new_real, P.T @ old, atol=1e-12)  # a' = sum_i P[i,0] a_i
    np.testing.assert_allclose(new.A_at_scan_points[1] @ h_new.T, crystal.A_at_scan_points[1] @ hkl.T, atol=1e-12)


def test_parse_abc() -> None:
    np.testing.assert_array_equal(parse_abc("a+b,-a+b,c"), [[1, -1, 0], [1, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(parse_abc(" a, b , c "), np.eye(3))
    np.testing.assert_allclose(parse_abc("1/2a+1/2b,-1/2a+1/2b,c")[:, 0], [0.5, 0.5, 0])
    np.testing.assert_array_equal(parse_abc("2a-b,c,b")[:, 0], [2, -1, 0])
    for bad in ("a,b", "a,a,c", "a+x,b,c", "a+1/2,b,c"):
        with pytest.raises(ValueError):
            parse_abc(bad)


def test_a_at_frame_interpolates() -> None:
    A0, A1 = np.eye(3) * 0.1, np.eye(3) * 0.2
    c = Crystal(A=A0, space_group=gemmi.SpaceGroup("P 1"), A_at_scan_points=np.array([A0, A1, A1]))
    np.testing.assert_allclose(c.A_at_frame(10.5, first_frame=10), 0.15 * np.eye(3))
    np.testing.assert_allclose(c.A_at_frame(12.0, first_frame=10), A1)
    np.testing.assert_allclose(Crystal(A=A0, space_group=c.space_group).A_at_frame(3.3), A0)


# ---------------------------------------------------------------------------------------
# scan
# ---------------------------------------------------------------------------------------
def test_scan_angle_frame_conversions() -> None:
    scan = Scan((5, 14), 10.0, 0.5)  # images 5..14, image 5 starts at 10 deg
    assert scan.num_images == 10 and scan.array_range == (4, 14)
    assert scan.oscillation_range_deg == (10.0, 15.0)
    assert scan.angle_from_array_index(4) == 10.0  # start of image 5
    assert scan.angle_from_array_index(4.5) == 10.25  # centre of image 5
    assert scan.image_oscillation_deg(5) == (10.0, 0.5)
    assert scan.image_oscillation_deg(6) == (10.5, 0.5)  # image n covers z in [n-1, n)
    z = np.linspace(4, 14, 41)
    np.testing.assert_allclose(scan.array_index_from_angle(scan.angle_from_array_index(z)), z)
    assert np.isclose(scan.phi_rad(14), np.radians(15.0))
    sub = scan.slice(7, 9)
    assert sub.image_range == (7, 9) and sub.oscillation_start_deg == 11.0
    assert sub.angle_from_array_index(6.5) == scan.angle_from_array_index(6.5)
    with pytest.raises(ValueError):
        scan.slice(3, 6)
    assert Scan((1, 1), 90.0, 0.0).is_still and not scan.is_still
    assert scan.exposure_times.shape == (10,) and Scan((1, 3), 0, 1, exposure_times=[0.2]).exposure_times.tolist() == [0.2] * 3


def test_scan_angle_validity_all_turns() -> None:
    scan = Scan((1, 100), -30.0, 0.1)  # -30 .. -20 deg
    phi = np.radians([-25.0, -25.0 + 360.0, -25.0 - 720.0, -19.0, -31.0, 335.0])
    np.testing.assert_array_equal(scan.is_angle_valid(phi), [True, True, True, False, False, True])
    assert Scan((1, 10), 0.0, -1.0).is_angle_valid(np.radians([-5.0, 5.0])).tolist() == [True, False]
    assert Scan((1, 720), 0.0, 0.5).is_angle_valid(np.radians([123.0, -1.0])).all()


# ---------------------------------------------------------------------------------------
# beam, panel, detector
# ---------------------------------------------------------------------------------------
def test_beam_s0() -> None:
    beam = Beam(direction=(0.0, 0.0, 2.0), wavelength=0.5)
    np.testing.assert_allclose(beam.s0, [0.0, 0.0, -2.0])
    np.testing.assert_allclose(beam.direction, [0, 0, 1])
    back = Beam.from_s0(np.array([0.01, 0.0, -1.2]))
    np.testing.assert_allclose(back.s0, [0.01, 0.0, -1.2])
    assert back.wavelength == pytest.approx(1 / np.hypot(0.01, 1.2))


def _tilted_panel(strategy: str = PARALLAX) -> Panel:
    R = rotation_matrix(np.array([0.3, 1.0, 0.2]), np.radians(25.0))
    return Panel(
        fast_axis=R @ [1.0, 0, 0], slow_axis=R @ [0, -1.0, 0], origin=R @ [-120.0, 130.0, -200.0],
        pixel_size=(0.172, 0.172), image_size=(1475, 1679), thickness=0.45, material="Si", mu=3.96,
        px_mm_strategy=strategy,
    )


def test_panel_px_mm_lab_and_parallax_round_trip() -> None:
    panel = _tilted_panel()
    simple = panel.replace(px_mm_strategy="SimplePxMmStrategy")
    xy_px = np.random.default_rng(2).uniform([0, 0], [1475, 1679], size=(200, 2))
    np.testing.assert_allclose(simple.pixel_to_millimeter(xy_px), xy_px * 0.172)
    mm = panel.pixel_to_millimeter(xy_px)
    shift = np.linalg.norm(mm - xy_px * 0.172, axis=1)
    assert 0.01 < shift.max() < 0.5  # parallax on: up to a few tenths of a mm at this tilt
    back = panel.millimeter_to_pixel(mm)
    assert np.abs(back - xy_px).max() < 2e-3  # DIALS's one-step inverse is approximate
    lab = panel.get_lab_coord(mm)
    np.testing.assert_allclose(lab, panel.origin + mm[:, :1] * panel.fast_axis + mm[:, 1:] * panel.slow_axis)
    hit_xy, hit = panel.get_ray_intersection(lab * 3.7)  # any positive scale of the ray
    assert hit.all()
    np.testing.assert_allclose(hit_xy, mm, atol=1e-9)


def test_ray_intersection_misses() -> None:
    panel = _tilted_panel("SimplePxMmStrategy")
    centre = panel.get_lab_coord(np.array([100.0, 100.0]))
    off = panel.get_lab_coord(np.array([-5.0, 100.0]))
    xy, hit = panel.get_ray_intersection(np.array([centre, -centre, off]))
    assert hit.tolist() == [True, False, False]
    det = Detector((panel, panel.replace(origin=panel.origin + 400 * panel.fast_axis)))
    which, xy = det.get_ray_intersection(np.array([off, centre, panel.get_lab_coord(np.array([450.0, 20.0]))]))
    assert which.tolist() == [-1, 0, 1] and np.isnan(xy[0]).all()
    np.testing.assert_allclose(xy[2], [50.0, 20.0], atol=1e-9)


def test_panel_geometry_helpers() -> None:
    panel = Panel(fast_axis=(1, 0, 0), slow_axis=(0, -1, 0), origin=(-100.0, 110.0, -200.0),
                  pixel_size=(0.1, 0.2), image_size=(2000, 1000))
    assert panel.distance == pytest.approx(200.0) and panel.image_shape == (1000, 2000)
    assert panel.beam_centre_mm(np.array([0, 0, -1.0])) == pytest.approx((100.0, 110.0))
    assert panel.beam_centre_mm(np.array([0, 0, 1.0])) is None
    d = panel.d_spacing_map(np.array([0.0, 0.0, -1.0]))  # lambda = 1 A
    assert d.shape == (1000, 2000)
    r = np.hypot(100.0 - 0.05, 110.0 - 0.1)  # pixel (0, 0) centre
    two_theta = np.arctan2(r, 200.0)
    assert d[0, 0] == pytest.approx(1.0 / (2 * np.sin(two_theta / 2)), rel=1e-12)
    np.testing.assert_allclose(np.linalg.inv(panel.D_matrix), panel.d_matrix)


# ---------------------------------------------------------------------------------------
# goniometer
# ---------------------------------------------------------------------------------------
def test_goniometer_multi_axis_reduction() -> None:
    axes = [(1.0, 0.0, 0.0), (0.0, 0.0, -1.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)]
    angles = [20.0, 54.7, -10.0, 5.0]
    R = [rotation_matrix(np.array(a), np.radians(t)) for a, t in zip(axes, angles)]
    g = Goniometer.from_axes(axes, angles, ["PHI", "CHI", "OMEGA", "X"], scan_axis=2)
    np.testing.assert_allclose(g.fixed_rotation, R[1] @ R[0], atol=1e-15)
    np.testing.assert_allclose(g.setting_rotation, R[3], atol=1e-15)
    phi = np.radians(33.0)
    full = R[3] @ rotation_matrix(np.array(axes[2]), phi) @ R[1] @ R[0]  # outermost ... innermost
    np.testing.assert_allclose(g.rotation(phi), full, atol=1e-14)
    np.testing.assert_allclose(g.lab_rotation_axis, R[3] @ axes[2], atol=1e-15)
    stack = g.rotation(np.array([0.1, phi]))
    np.testing.assert_allclose(stack[1], full, atol=1e-14)
    assert g.is_multi_axis and not Goniometer().is_multi_axis
    single = Goniometer(g.rotation_axis, g.fixed_rotation, g.setting_rotation)
    assert single.is_similar_to(g) and not single.is_similar_to(Goniometer())


def test_rotation_is_right_handed() -> None:
    R = rotation_matrix(np.array([0.0, 0.0, 1.0]), np.pi / 2)
    np.testing.assert_allclose(R @ [1.0, 0, 0], [0, 1.0, 0], atol=1e-15)
