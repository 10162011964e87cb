"""Overlapped pixels: neighbour search, the Overlapped mask bit (numba vs numpy twin) and
what integrate_group does with it (excluded from background and sums, flagged)."""

from __future__ import annotations

import numpy as np
import pytest

from braggflow.algorithms.integration import _kernels, _reference
from braggflow.algorithms.integration._kernels_overlap import bbox_neighbours, mark_overlaps, overlap_flags
from braggflow.algorithms.integration.blocks import ShoeboxStore
from braggflow.algorithms.integration.overlaps import band_order, foreground_boxes, neighbour_arrays
from braggflow.algorithms.integration.shoeboxes import kabsch_frames

# one flat panel 100 mm from the sample, 0.1 mm pixels, beam along -z through pixel (200, 200)
PAN_O = np.array([[-20.0, -20.0, -100.0]])
PAN_F = np.array([[1.0, 0.0, 0.0]])
PAN_S = np.array([[0.0, 1.0, 0.0]])
PAN_PX = np.array([[0.1, 0.1]])
S0 = np.array([0.0, 0.0, -1.0])


def _frames(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lab = PAN_O[0] + xy[:, :1] * 0.1 * PAN_F[0] + xy[:, 1:2] * 0.1 * PAN_S[0]
    s1 = lab / np.linalg.norm(lab, axis=1)[:, None]
    e1, e2, _ = kabsch_frames(s1, S0)
    return np.ascontiguousarray(e1), np.ascontiguousarray(e2)


def _setup(xy, z, half=8, depth=2, delta_px=3.0):  # type: ignore[no-untyped-def]
    xy = np.asarray(xy, dtype=float)
    n = len(xy)
    bbox = np.zeros((n, 6), dtype=np.int32)
    bbox[:, 0] = np.floor(xy[:, 0]) - half
    bbox[:, 1] = np.floor(xy[:, 0]) + half
    bbox[:, 2] = np.floor(xy[:, 1]) - half
    bbox[:, 3] = np.floor(xy[:, 1]) + half
    bbox[:, 4] = z
    bbox[:, 5] = np.asarray(z) + depth
    e1, e2 = _frames(xy)
    delta_b = np.full(n, delta_px * 0.1 / 100.0)  # radians: delta_px pixels at 100 mm
    return bbox, e1, e2, delta_b


def test_bbox_neighbours_finds_only_boxes_that_reach():
    bbox, _, _, _ = _setup([[100, 100], [109, 100], [140, 100], [104, 104], [96, 110]], [0, 1, 0, 5, 0])
    core = bbox.copy()
    core[:, 0] += 4
    core[:, 1] -= 4
    core[:, 2] += 4
    core[:, 3] -= 4
    out = np.full((5, 3), -1, dtype=np.int64)
    order, band_start = band_order(core.astype(np.int64), band_px=4)  # several bands
    assert len(band_start) > 2
    dropped = bbox_neighbours(bbox.astype(np.int64), core.astype(np.int64), np.zeros(5, np.int64), order, band_start,
                              4, out)
    assert dropped == 0
    assert set(out[0][out[0] >= 0]) == {1, 4}  # 2 is too far in x, 3 is on other frames
    assert set(out[1][out[1] >= 0]) == {0}  # 4 is 13 px left of 1: its core misses 1's box
    assert set(out[4][out[4] >= 0]) == {0}  # found in the band above
    assert np.all(out[2] < 0) and np.all(out[3] < 0)


def test_neighbour_arrays_pads_unused_slots_with_empty_boxes():
    bbox, e1, e2, db = _setup([[100, 100], [109, 100], [160, 160]], [0, 0, 0])
    arrays, _ = neighbour_arrays(bbox, foreground_boxes(bbox, bbox), np.zeros(3, np.int64), e1, e2, db,
                                 np.arange(3), k=4)
    assert arrays["nb_bbox"].shape == (3, 4, 6)
    assert np.array_equal(arrays["nb_bbox"][0, 0], bbox[1])
    assert np.all(arrays["nb_bbox"][2, :, 5] <= arrays["nb_bbox"][2, :, 4])  # no neighbour: empty boxes


def _masked_store(bbox, e1, e2, db):  # type: ignore[no-untyped-def]
    store = ShoeboxStore.allocate(bbox)
    store.mask[:] = _kernels.VALID
    panel = np.zeros(len(bbox), np.int64)
    _kernels.foreground_mask(store.bbox, store.offsets, panel, store.mask, PAN_O, PAN_F, PAN_S, PAN_PX, e1, e2, db)
    return store, panel


@pytest.mark.parametrize("impl", [mark_overlaps, _reference.mark_overlaps], ids=["jit", "ref"])
def test_mark_overlaps_marks_the_neighbours_foreground(impl):
    bbox, e1, e2, db = _setup([[100.5, 100.5], [106.5, 100.5]], [0, 1])
    store, panel = _masked_store(bbox, e1, e2, db)
    arrays, _ = neighbour_arrays(bbox, foreground_boxes(bbox, bbox), panel, e1, e2, db, np.arange(2), k=2)
    pairs = impl(store.bbox, store.offsets, panel, store.mask, PAN_O, PAN_F, PAN_S, PAN_PX, arrays["nb_bbox"],
                 arrays["nb_e1"], arrays["nb_e2"], arrays["nb_delta_b"])
    assert pairs == 2
    m0 = store.mask[store.offsets[0]:store.offsets[1]].reshape(2, 16, 16)
    ovl = (m0 & _kernels.OVERLAPPED) != 0
    assert not ovl[0].any()  # frame 0: the neighbour (frames 1-2) is not there
    # on frame 1 exactly the neighbour's foreground columns (its own mask) are overlapped
    m1 = store.mask[store.offsets[1]:store.offsets[2]].reshape(2, 16, 16)
    fg1 = (m1[0] & _kernels.FOREGROUND) != 0
    dx = bbox[1, 0] - bbox[0, 0]
    expect = np.zeros((16, 16), bool)
    expect[:, dx:] = fg1[:, : 16 - dx]
    assert np.array_equal(ovl[1], expect)
    counts = np.zeros((2, 2), np.int64)
    overlap_flags(store.offsets, store.mask, counts)
    assert counts[0, 0] > 0 and counts[0, 1] > 0  # shared foreground and background pixels


def test_mark_overlaps_kernel_matches_reference_on_random_crowd():
    rng = np.random.default_rng(5)
    xy = rng.uniform(60, 140, (40, 2))
    bbox, e1, e2, db = _setup(xy, rng.integers(0, 4, 40), depth=3)
    core = foreground_boxes(bbox, bbox)
    arrays, _ = neighbour_arrays(bbox, core, np.zeros(40, np.int64), e1, e2, db, np.arange(40), k=6)
    a, panel = _masked_store(bbox, e1, e2, db)
    b, _ = _masked_store(bbox, e1, e2, db)
    args = (PAN_O, PAN_F, PAN_S, PAN_PX, arrays["nb_bbox"], arrays["nb_e1"], arrays["nb_e2"], arrays["nb_delta_b"])
    na = mark_overlaps(a.bbox, a.offsets, panel, a.mask, *args)
    nb = _reference.mark_overlaps(b.bbox, b.offsets, panel, b.mask, *args)
    assert na == nb > 0
    assert np.array_equal(a.mask, b.mask)


def test_integrate_group_keeps_neighbours_out_of_the_background_and_flags_overlaps():
    # 6 px apart: reflection 1's foreground lies in reflection 0's background ring and
    # touches its foreground edge
    bbox, e1, e2, db = _setup([[100.5, 100.5], [106.5, 100.5]], [0, 0], half=10)
    store, panel = _masked_store(bbox, e1, e2, db)
    rng = np.random.default_rng(3)
    store.data[:] = rng.poisson(2.0, store.data.shape)
    m1 = store.mask[store.offsets[1]:store.offsets[2]].reshape(2, 20, 20)
    fg1 = (m1 & _kernels.FOREGROUND) != 0
    dx = bbox[1, 0] - bbox[0, 0]
    for k, (lo, hi) in enumerate(((store.offsets[0], store.offsets[1]), (store.offsets[1], store.offsets[2]))):
        box = store.data[lo:hi].reshape(2, 20, 20)
        if k == 1:
            box[fg1] += 30.0  # the neighbour's bright spot
        else:
            box[:, :, dx:] += 30.0 * fg1[:, :, : 20 - dx]

    def run(mark: bool):  # type: ignore[no-untyped-def]
        s = ShoeboxStore(store.bbox, store.offsets, store.data.copy(), store.mask.copy())
        if mark:
            arrays, _ = neighbour_arrays(bbox, foreground_boxes(bbox, bbox), panel, e1, e2, db, np.arange(2), k=2)
            mark_overlaps(s.bbox, s.offsets, panel, s.mask, PAN_O, PAN_F, PAN_S, PAN_PX, arrays["nb_bbox"],
                          arrays["nb_e1"], arrays["nb_e2"], arrays["nb_delta_b"])
        out = np.zeros((2, _kernels.N_COLS))
        flags = np.zeros(2, np.int64)
        _kernels.integrate_group(s.bbox, s.offsets, panel, s.data, s.mask, PAN_O, PAN_F, PAN_S, PAN_PX, e1, e2,
                                 np.zeros(2), np.ones(2), 0.01, np.array([0.0, 0.01, 0.0]),
                                 np.array([1, 0, 0, 0.0, 0.0, 10]), np.zeros((1, 3, 3)), np.full(2, -1, np.int64),
                                 np.array([0.0, 1.0, 0.75, 1.0, 1.0]), out, flags)
        return out, flags

    out0, flags0 = run(False)
    out1, flags1 = run(True)
    assert flags0[0] & (_kernels.F_OVL_FG | _kernels.F_OVL_BG) == 0
    assert flags1[0] & _kernels.F_OVL_FG and flags1[0] & _kernels.F_OVL_BG
    assert flags1[0] & _kernels.F_SUM  # overlapped foreground pixels stay in the sum (flagged)
    assert out1[0, _kernels.C_NBG] < out0[0, _kernels.C_NBG]
    # the neighbour's spot no longer inflates the (simple, unweighted) background estimate
    assert abs(out1[0, _kernels.C_BGMEAN] - 2.0) < 0.3 < abs(out0[0, _kernels.C_BGMEAN] - 2.0)
