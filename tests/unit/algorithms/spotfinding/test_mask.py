"""Mask builders."""

from __future__ import annotations

import numpy as np
import pytest

from braggflow.algorithms.spotfinding.mask import (
    border_mask,
    ice_ring_d_ranges,
    ice_ring_mask,
    resolution_mask,
    static_mask,
    trusted_range_mask,
    untrusted_mask,
)
from braggflow.algorithms.spotfinding.params import FilterParams, IceRingsParams, UntrustedParams
from braggflow.errors import ParameterError


def test_trusted_range_excludes_both_ends():
    data = np.array([[-2, -1, 0, 5, 100]])
    assert trusted_range_mask(data, (-1, 100)).tolist() == [[False, False, True, True, False]]


def test_border_mask():
    m = border_mask((6, 7), 2)
    assert m.sum() == 2 * 3 and m[2:4, 2:5].all()


def test_untrusted_regions_apply_to_their_panel_only():
    regions = (
        UntrustedParams(rectangle=(1, 3, 0, 2)),
        UntrustedParams(panel=0, circle=(8, 8, 1)),
        UntrustedParams(panel=0, pixel=(5, 0)),
        UntrustedParams(panel=0, polygon=(0, 6, 4, 6, 4, 10)),
        UntrustedParams(panel=1),
    )
    m0 = untrusted_mask((10, 10), regions, 0)
    assert not m0[0:2, 1:3].any() and m0[0:2, 3].all() and m0[2, 1]
    assert not m0[7, 7] and not m0[8, 8] and m0[8, 9] and m0[6, 8]
    assert not m0[5, 0]
    assert not m0[7, 3] and m0[9, 1]  # inside / outside the triangle
    assert not untrusted_mask((10, 10), regions, 1).any()
    with pytest.raises(ParameterError, match="polygon"):
        untrusted_mask((4, 4), (UntrustedParams(polygon=(0, 1, 2)),), 0)


def test_resolution_mask_limits_and_ranges():
    d = np.array([[np.inf, 10.0, 5.0, 3.0, 2.0, 1.5]])
    assert resolution_mask(d, d_min=2.0, d_max=9.0).tolist() == [[0, 0, 1, 1, 1, 0]]
    assert resolution_mask(d, excluded_ranges=[(3.5, 2.5)]).tolist() == [[1, 1, 1, 0, 1, 1]]
    with pytest.raises(ParameterError, match="d_min"):
        resolution_mask(d, d_min=3, d_max=2)


def test_ice_rings_of_hexagonal_ice():
    rings = ice_ring_d_ranges(IceRingsParams(filter=True), 2.0)
    centres = [1 / np.sqrt(0.5 * (1 / lo**2 + 1 / hi**2)) for lo, hi in rings]
    assert np.allclose(centres[:6], [3.8954, 3.6690, 3.4406, 2.6708, 2.2490, 2.0715], atol=1e-3)
    d = np.array([[3.669, 3.60, 3.8954, 3.0]])
    assert ice_ring_mask(d, IceRingsParams(filter=True)).tolist() == [[0, 1, 0, 1]]
    assert ice_ring_mask(d, IceRingsParams(filter=False)).all()


def test_static_mask_needs_d_for_resolution_limits():
    with pytest.raises(ParameterError, match="d-spacing"):
        static_mask((4, 4), FilterParams(d_min=2.0))
    d = np.full((4, 4), 3.0)
    d[0, 0] = 1.0
    m = static_mask((4, 4), FilterParams(d_min=2.0, border=0), d_spacing=d)
    assert m.sum() == 15 and not m[0, 0]
