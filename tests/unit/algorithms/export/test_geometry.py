"""Cambridge frame, Mosflm U and batch numbering (algorithms.md 8.2/8.4)."""

from __future__ import annotations

import gemmi
import numpy as np
import pytest

from braggflow.algorithms.export.geometry import (
    batch_geometry,
    calculate_batch_offsets,
    cambridge_rotation,
    mosflm_b,
    mosflm_u,
    next_epoch,
)
from braggflow.errors import InputDataError
from braggflow.model import b_matrix

from export_testdata import L_CYS_DIALS_MTZ, synthetic_experiment


def test_cambridge_rotation_puts_axis_on_z_and_beam_in_xz():
    axis, s0 = np.array([0.577, -0.816, 0.0]), np.array([-0.019, 0.027, -0.9995])
    r = cambridge_rotation(axis, s0)
    assert np.allclose(r @ r.T, np.eye(3)) and np.isclose(np.linalg.det(r), 1.0)
    assert np.allclose(r @ (axis / np.linalg.norm(axis)), [0, 0, 1])
    rs0 = r @ (s0 / np.linalg.norm(s0))
    assert abs(rs0[1]) < 1e-12 and rs0[0] > 0.99


def test_cambridge_rotation_rejects_axis_along_beam():
    with pytest.raises(InputDataError):
        cambridge_rotation(np.array([0, 0, 1.0]), np.array([0, 0, -1.0]))


def test_mosflm_b_gives_same_lengths_as_cctbx_b_and_u_is_orthonormal():
    cell = gemmi.UnitCell(31.0, 42.0, 57.0, 81.0, 97.0, 104.0)
    bm, bc = mosflm_b(cell), b_matrix(cell)
    assert np.allclose(np.tril(bm, -1), 0)  # Busing-Levy: upper triangular
    h = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [2, -3, 5]]).T
    assert np.allclose(np.linalg.norm(bm @ h, axis=0), np.linalg.norm(bc @ h, axis=0))
    u = mosflm_u(bc, cell)
    assert np.allclose(u @ u.T, np.eye(3), atol=1e-12)


def test_batch_geometry_scan_axis_on_z_and_u_orthonormal():
    geo = batch_geometry(synthetic_experiment(phi0=12.0))
    assert np.allclose(geo.axis, [0, 0, 1])
    assert geo.source[1] == pytest.approx(0.0, abs=1e-12) and geo.source[0] < -0.99
    for u in geo.umat:
        assert np.allclose(u @ u.T, np.eye(3), atol=1e-10)
    assert geo.phi_start_deg[0] == pytest.approx(12.0) and geo.phi_start_deg[3] == pytest.approx(13.5)
    assert np.allclose(geo.cells[0], [31, 42, 57, 81, 97, 104])


def test_batch_geometry_matches_dials_headers(lcys):
    """Scan-varying l-cysteine: cell and Mosflm U at each image centre as DIALS 3.12 wrote them."""
    experiments, _ = lcys
    geo = batch_geometry(experiments[0])
    mtz = gemmi.read_mtz_file(str(L_CYS_DIALS_MTZ))
    assert len(mtz.batches) == len(geo.cells) == 15
    for i, batch in enumerate(mtz.batches):
        f = np.array(batch.floats)
        assert np.allclose(f[0:6], geo.cells[i], atol=2e-5)
        assert np.allclose(f[6:15], geo.umat[i].T.ravel(), atol=1e-6)
        assert f[36] == pytest.approx(geo.phi_start_deg[i], abs=1e-6)
    static = batch_geometry(experiments[0], force_static_model=True)
    assert np.allclose(static.cells, static.cells[0]) and not np.allclose(static.umat[0], geo.umat[0], atol=1e-6)


@pytest.mark.parametrize(("value", "expected"), [(540, 601), (599, 601), (600, 701), (15, 101)])
def test_next_epoch(value, expected):
    assert next_epoch(value) == expected


def test_batch_offsets_keep_separate_ranges_and_shift_overlaps():
    assert calculate_batch_offsets([(1, 540)]) == [0]
    assert calculate_batch_offsets([(0, 9)]) == [1]  # no batch 0
    assert calculate_batch_offsets([(1, 100), (201, 300)]) == [0, 0]
    assert calculate_batch_offsets([(1, 540), (1, 540)]) == [0, 600]
    assert calculate_batch_offsets([(1, 100), (101, 200)]) == [0, 0]  # adjacent ranges are kept
    assert calculate_batch_offsets([(1, 100), (50, 150)]) == [0, 151]  # overlap -> 201..301
