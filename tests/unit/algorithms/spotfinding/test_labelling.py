"""Connected components: kernel vs reference, 6-connectivity, force_2d, seam merging."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from braggflow.algorithms.spotfinding import _kernels, _reference
from braggflow.algorithms.spotfinding.centroids import spot_stats
from braggflow.algorithms.spotfinding.labelling import (
    label_strong_pixels,
    merge_seam_components,
    split_block_components,
)
from braggflow.errors import InputDataError


def _keys(vol):
    z, y, x = np.nonzero(vol)
    return ((z * vol.shape[1] + y) * vol.shape[2] + x).astype(np.int64)


@pytest.mark.parametrize("impl", [_kernels, _reference], ids=["jit", "ref"])
def test_diagonal_neighbours_are_separate_and_faces_join(impl):
    vol = np.zeros((2, 4, 4), bool)
    vol[0, 0, 0] = vol[0, 1, 1] = True  # diagonal in-plane: separate
    vol[0, 3, 3] = vol[1, 3, 3] = True  # face across images: joined
    vol[1, 0, 2] = True
    labels = impl.label_pixels(_keys(vol), 4, 4, True)
    assert labels.tolist() == [0, 1, 2, 3, 2]


@pytest.mark.parametrize("impl", [_kernels, _reference], ids=["jit", "ref"])
def test_force_2d_keeps_images_apart(impl):
    vol = np.zeros((3, 3, 3), bool)
    vol[:, 1, 1] = True
    assert impl.label_pixels(_keys(vol), 3, 3, False).tolist() == [0, 1, 2]
    assert impl.label_pixels(_keys(vol), 3, 3, True).tolist() == [0, 0, 0]


def test_row_wrap_is_not_a_neighbour():
    # pixel (y=0, x=4) and (y=1, x=0) have consecutive keys but are not adjacent
    labels = label_strong_pixels(np.array([4, 5]), 3, 5)
    assert labels.tolist() == [0, 1]


def test_label_strong_pixels_requires_sorted_keys():
    with pytest.raises(InputDataError):
        label_strong_pixels(np.array([5, 3]), 4, 4)


@settings(max_examples=60, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(1, 5), st.integers(1, 9), st.integers(1, 9))),
       st.booleans())
def test_label_kernel_matches_scipy_reference(vol, connect_z):
    keys = _keys(vol)
    a = _kernels.label_pixels(keys, vol.shape[1], vol.shape[2], connect_z)
    b = _reference.label_pixels(keys, vol.shape[1], vol.shape[2], connect_z)
    assert np.array_equal(a, b)


@settings(max_examples=40, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(2, 9), st.integers(1, 6), st.integers(1, 6))),
       st.integers(1, 4), st.booleans())
def test_seam_merging_matches_single_block(vol, block, one_boundary_at_a_time):
    ny, nx = vol.shape[1:]
    keys = _keys(vol)
    values = (np.arange(keys.size) % 7 + 1).astype(float)
    single = spot_stats(keys, values, label_strong_pixels(keys, ny, nx), ny, nx)
    frame = ny * nx
    edges = list(range(0, vol.shape[0], block)) + [vol.shape[0]]
    blocks = []
    for a, b in zip(edges[:-1], edges[1:]):
        sel = (keys >= a * frame) & (keys < b * frame)
        seams = tuple(s for s, keep in ((a, a > 0), (b - 1, b < vol.shape[0])) if keep)
        blocks.append(split_block_components(keys[sel], values[sel], ny, nx,
                                              connect_z=True, seam_frames=seams))
    last = [b - 1 for b in edges[1:]] if one_boundary_at_a_time else None
    merged = merge_seam_components(blocks, ny, nx, connect_z=True, last_frames=last)
    parts = [b.stats for b in blocks] + [merged]
    first = np.concatenate([p.first_key for p in parts])
    order = np.argsort(first)
    for field in ("first_key", "n_signal", "bbox", "intensity", "centroid_px",
                  "variance_px", "peak_px"):
        merged = np.concatenate([getattr(p, field) for p in parts])[order]
        assert np.array_equal(merged, getattr(single, field)), field
