"""Fused integer threshold kernel (twin: `_reference.fused_strong_pixels`).

One streaming pass per panel image for integer images:

- the valid mask (static mask AND trusted range) is formed on the fly, never stored;
- each row is loaded once into a ring of 2k+1 rows (counted value and count, int32) and
  the column sums over the window rows (count and sum as int32 when the window area is
  below 128, else int64; sum of squares as int64) are updated in the same pass by the
  difference between the row entering the window and the one leaving it;
- for kernel_x = 3 (the default) the 7-column window sums are fused with the dispersion
  test in one branch-free, vectorised loop per row (`_k3_general`); other widths form the
  window sums per row first (`_window_cols`); the test uses `_kernels._dispersion_row`'s
  expressions on float64 m, x, y;
- erosion follows h = min(kernel) - 1 rows behind: byte-wise AND of the 2h+1
  not-background rows, then of 2h+1 columns (vectorised passes), skipping all-zero
  8-pixel words when collecting core pixels;
- the (k+2) background mean is summed only around core pixels (column sums cached and
  moved down one row at a time).

No full-size array is allocated per image except the caller's all-False `core` scratch
image, which is all False again on return.

Exactness: integer window sums are exact. The summed-area-table kernels in `_kernels.py`
(and DIALS) use float64 tables, whose entries are exact integers while the image's sum of
squares over the summed pixels stays below 2**51; then both give the same m, x, y and,
through the same expressions, the same pixels. The kernel reports whether that bound held;
if not (or for float images) the caller must use `_kernels` instead (`threshold.py` does).
"""

from __future__ import annotations

import numpy as np

from braggflow._numba import jit
from braggflow.algorithms.spotfinding._fused_extended import _background_sums, _erode_row
from braggflow.algorithms.spotfinding._fused_tests import (
    _dispersion_row_in_range, _k3_general, _plain_strong_row, _window_test_k3,
)
from braggflow.algorithms.spotfinding._kernels import BIG, _bounds
from braggflow.algorithms.spotfinding._shoebox_kernels import fill_shoeboxes  # noqa: F401 (re-exported)

EXACT_LIMIT = float(1 << 51)


@jit
def _load_row(image, mask, r, low, high, vals, cnts):
    """Counted values (valid and below 2**24, else 0) and counts (0/1) of row r; returns
    the row's sum of squares of the counted values (int64, exact)."""
    row = image[r]
    mrow = mask[r]
    zero = np.int32(0)
    s = np.int64(0)
    for i in range(vals.shape[0]):
        a = row[i]
        fa = np.float64(a)
        ok = mrow[i] & (fa >= low) & (fa <= high) & (fa < BIG)
        v = np.int32(a) if ok else zero
        vals[i] = v
        cnts[i] = np.int32(ok)
        s += np.int64(v) * np.int64(v)
    return s


@jit
def _column_replace(image, mask, r, low, high, vals, cnts, cm, cx, cy):
    """Load row r into the ring slot (vals, cnts) that holds the row leaving the window,
    updating the column sums by the difference; returns row r's sum of squares."""
    row = image[r]
    mrow = mask[r]
    zero = np.int32(0)
    s = np.int64(0)
    for i in range(vals.shape[0]):
        a = row[i]
        fa = np.float64(a)
        ok = mrow[i] & (fa >= low) & (fa <= high) & (fa < BIG)
        v = np.int32(a) if ok else zero
        c = np.int32(ok)
        vo = vals[i]
        vals[i] = v
        cm[i] += c - cnts[i]
        cnts[i] = c
        cx[i] += v - vo
        v64 = np.int64(v)
        vo64 = np.int64(vo)
        sq = v64 * v64
        cy[i] += sq - vo64 * vo64
        s += sq
    return s


@jit
def _column_add(cm, cx, cy, cnts, vals):
    """Add one loaded row to the column sums (cm, cx int32 or int64, cy int64)."""
    for i in range(cm.shape[0]):
        v = vals[i]
        cm[i] += cnts[i]
        cx[i] += v
        cy[i] += np.int64(v) * np.int64(v)


@jit
def _column_sub(cm, cx, cy, cnts, vals):
    """Remove one loaded row from the column sums."""
    for i in range(cm.shape[0]):
        v = vals[i]
        cm[i] -= cnts[i]
        cx[i] -= v
        cy[i] -= np.int64(v) * np.int64(v)


@jit
def _window_cols(c, k, out):
    """out[i] = sum of c over columns [i-k, i+k] clipped (exact integers in float64)."""
    nx = out.shape[0]
    lo = min(k, nx)
    hi = max(nx - k, lo)
    for i in range(lo):
        s = c[0] - c[0]
        for q in range(0, min(i + k, nx - 1) + 1):
            s += c[q]
        out[i] = s
    for i in range(hi, nx):
        s = c[0] - c[0]
        for q in range(max(i - k, 0), nx):
            s += c[q]
        out[i] = s
    n = hi - lo
    if n <= 0:
        return
    o = out[lo:hi]
    if k == 3:
        c0 = c[0:]
        c1 = c[1:]
        c2 = c[2:]
        c3 = c[3:]
        c4 = c[4:]
        c5 = c[5:]
        c6 = c[6:]
        for i in range(n):
            o[i] = c0[i] + c1[i] + c2[i] + c3[i] + c4[i] + c5[i] + c6[i]
        return
    for i in range(n):
        o[i] = c[i]
    for d in range(1, 2 * k + 1):
        cd = c[d:]
        for i in range(n):
            o[i] += cd[i]


@jit
def fused_strong_pixels(
    image, mask, low, high, core, kernel_y, kernel_x, nsig_b, nsig_s, global_threshold,
    min_count, gain, erode_from_mask, extended,
):
    """(flat indices of strong pixels, exact) for an integer image.

    Pixels are valid where `mask` and low <= value <= high. `extended` selects
    `dispersion_extended` (else plain `dispersion`). `core` is an all-False (ny, nx) bool
    scratch image, all False again on return. When `exact` is False the result must be
    discarded (sum of squares too large for float64 tables to be exact).
    """
    nx = image.shape[1]
    args = (image, mask, low, high, core, kernel_y, kernel_x, nsig_b, nsig_s,
            global_threshold, min_count, gain, erode_from_mask, extended)
    if (2 * kernel_y + 1) * (2 * kernel_x + 1) < 128:  # int32 window counts and sums
        z = np.zeros(nx, dtype=np.int32)
        return _fused(*args, z, z.copy(), z.copy(), z.copy())
    z = np.zeros(nx, dtype=np.int64)
    return _fused(*args, z, z.copy(), z.copy(), z.copy())


@jit
def _fused(
    image, mask, low, high, core, kernel_y, kernel_x, nsig_b, nsig_s, global_threshold,
    min_count, gain, erode_from_mask, extended, cm, cx, wm, wx,
):
    ny, nx = image.shape
    cy = np.zeros(nx, dtype=np.int64)
    wy = np.empty(nx, dtype=np.int64)
    R = 2 * kernel_y + 1  # loaded rows [removed, added) live in slot row % R
    vals = np.zeros((R, nx), dtype=np.int32)
    cnts = np.zeros((R, nx), dtype=np.int32)
    h = min(kernel_y, kernel_x) - 1
    width = 8 * ((nx + 7) // 8)
    ring = np.zeros((2 * h + 2, width), dtype=np.uint8)
    vand = np.zeros(width, dtype=np.uint8)
    hand = np.zeros(width, dtype=np.uint8)
    hand64 = hand.view(np.uint64)
    found = np.empty(1024, dtype=np.int64)
    n_found = 0
    g = gain if gain > 0 else 1.0
    total = np.int64(0)  # sum of squares of the counted pixels, saturated at 2**62
    cap = np.int64(1) << 62
    added = 0  # rows [removed, added) are in the column sums
    removed = 0
    masked = (not erode_from_mask) if extended else False
    small = (2 * kernel_y + 1) * (2 * kernel_x + 1) < 128  # cm, cx int32
    for j in range(ny):
        r0, r1 = _bounds(j, ny, kernel_y)
        while removed < r0 and added < r1 and added % R == removed % R:
            total += _column_replace(image, mask, added, low, high, vals[added % R],
                                     cnts[added % R], cm, cx, cy)
            if total > cap:
                total = cap
            added += 1
            removed += 1
        while removed < r0:
            _column_sub(cm, cx, cy, cnts[removed % R], vals[removed % R])
            removed += 1
        while added < r1:
            total += _load_row(image, mask, added, low, high, vals[added % R], cnts[added % R])
            if total > cap:
                total = cap
            _column_add(cm, cx, cy, cnts[added % R], vals[added % R])
            added += 1
        nb = ring[j % ring.shape[0]][:nx].view(np.bool_)
        k3 = kernel_x == 3 and small
        if k3:
            _window_test_k3(image, mask, j, low, high, cm, cx, cy, nsig_b, min_count, gain,
                            masked, nb)
        else:
            _window_cols(cm, kernel_x, wm)
            _window_cols(cx, kernel_x, wx)
            _window_cols(cy, kernel_x, wy)
            _dispersion_row_in_range(
                image, mask, j, low, high, wm, wx, wy, nsig_b, min_count, gain, masked, nb
            )
        if not extended:
            found, n_found = _plain_strong_row(
                image, j, ring[j % ring.shape[0]], cm, cx, kernel_x, nsig_s, global_threshold,
                g, found, n_found,
            )
            continue
        r = j - h
        if r >= 0:
            found, n_found = _erode_row(ring, r, ny, h, vand, hand, hand64, core, found,
                                        n_found, image, mask, low, high, masked)
    exact = np.float64(total) < EXACT_LIMIT
    if not extended:
        return found[:n_found], exact
    for r in range(max(ny - h, 0), ny):
        found, n_found = _erode_row(ring, r, ny, h, vand, hand, hand64, core, found, n_found,
                                    image, mask, low, high, masked)
    core_pixels = found[:n_found]
    # only valid core pixels above the global threshold can be strong: the background
    # mean is needed there alone (invalid core pixels were not even collected)
    cand = np.empty(n_found, dtype=np.int64)
    n_cand = 0
    for q in range(n_found):
        p = core_pixels[q]
        v = np.float64(image[p // nx, p % nx])
        if mask[p // nx, p % nx] and v >= low and v <= high and v > global_threshold:
            cand[n_cand] = p
            n_cand += 1
    cand = cand[:n_cand]
    m, x = _background_sums(image, mask, low, high, core, cand, kernel_y + 2, kernel_x + 2)
    for q in range(n_found):
        p = core_pixels[q]
        core[p // nx, p % nx] = False
    out = np.empty(n_cand, dtype=np.int64)
    n = 0
    for q in range(n_cand):
        p = cand[q]
        v = np.float64(image[p // nx, p % nx])
        if x[q] >= 0:
            mean = x[q] / m[q] if m[q] >= 2 else 0.0
            if v >= mean + nsig_s * np.sqrt(g * mean):
                out[n] = p
                n += 1
    return out[:n], exact


__all__ = ["fused_strong_pixels", "fill_shoeboxes", "EXACT_LIMIT"]
