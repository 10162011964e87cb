"""numba kernels of the per-row dispersion tests (the window sums are maintained by
`_fused_kernels`): general kernel widths, the fused width-3 test and plain `dispersion`."""

from __future__ import annotations

import numpy as np

from braggflow._numba import jit
from braggflow.algorithms.spotfinding._kernels import _append, _bounds


@jit
def _dispersion_row_in_range(image, mask, j, low, high, wm, wx, wy, nsig_b, min_count, gain,
                             masked, out):
    """`_kernels._dispersion_row` (same expressions) with the pixel's validity (mask and
    trusted range) formed on the fly; wm, wx, wy integer window sums."""
    n = wm.shape[0]
    row = image[j]
    mrow = mask[j]
    if gain > 0:
        for i in range(n):
            f = np.float64(row[i])
            valid = mrow[i] & (f >= low) & (f <= high)
            mi = wm[i]
            m = np.float64(mi)
            x = np.float64(wx[i])
            a = m * np.float64(wy[i]) - x * x
            c = gain * x * (m - 1.0 + nsig_b * np.sqrt(2.0 * (m - 1.0)))
            ok = (m >= min_count) & (x >= 0) & (a > c)
            out[i] = ok if valid else masked
    else:
        for i in range(n):
            f = np.float64(row[i])
            valid = mrow[i] & (f >= low) & (f <= high)
            mi = wm[i]
            m = np.float64(mi)
            x = np.float64(wx[i])
            a = m * np.float64(wy[i]) - x * x - x * (m - 1.0)
            c = x * nsig_b * np.sqrt(2.0 * (m - 1.0))
            ok = (m >= min_count) & (x >= 0) & (a > c)
            out[i] = ok if valid else masked


@jit
def _pixel_test(valid, m, x, y, nsig_b, min_count, gain, masked):
    """`_kernels._dispersion_row`'s test of one pixel (same expressions) from float64
    window count m, sum x and sum of squares y."""
    if gain > 0:
        a = m * y - x * x
        c = gain * x * (m - 1.0 + nsig_b * np.sqrt(2.0 * (m - 1.0)))
    else:
        a = m * y - x * x - x * (m - 1.0)
        c = x * nsig_b * np.sqrt(2.0 * (m - 1.0))
    ok = (m >= min_count) & (x >= 0) & (a > c)
    return ok if valid else masked


@jit
def _edge_test(row, mrow, i, nx, low, high, cm, cx, cy, nsig_b, min_count, gain, masked):
    """The width-3 test at an edge column i (window cut by the image border)."""
    c0, c1 = _bounds(i, nx, 3)
    sm = 0
    sx = 0
    sy = 0
    for q in range(c0, c1):
        sm += cm[q]
        sx += cx[q]
        sy += cy[q]
    f = np.float64(row[i])
    valid = mrow[i] & (f >= low) & (f <= high)
    return _pixel_test(valid, np.float64(sm), np.float64(sx), np.float64(sy), nsig_b, min_count, gain, masked)


@jit
def _window_test_k3(image, mask, j, low, high, cm, cx, cy, nsig_b, min_count, gain, masked,
                    out):
    """Window sums over 7 columns (kernel_x = 3, window area below 128 so cm, cx are int32)
    fused with the dispersion test of row j; out receives the not-background flags."""
    nx = cm.shape[0]
    row = image[j]
    mrow = mask[j]
    for i in range(nx):
        if i == 3 and nx > 6:
            break
        out[i] = _edge_test(row, mrow, i, nx, low, high, cm, cx, cy, nsig_b, min_count, gain, masked)
    if nx <= 6:
        return
    for i in range(nx - 3, nx):
        out[i] = _edge_test(row, mrow, i, nx, low, high, cm, cx, cy, nsig_b, min_count, gain, masked)
    _k3_general(row, mrow, low, high, cm, cx, cy, nsig_b, min_count, gain, masked, out, 3,
                nx - 3)


@jit
def _k3_general(row, mrow, low, high, cm, cx, cy, nsig_b, min_count, gain, masked, out,
                b0, b1):
    """Pixels b0..b1-1 (3 <= b0, b1 <= nx - 3) of `_window_test_k3`, any counts."""
    n = b1 - b0
    m0, m1, m2, m3 = cm[b0 - 3:], cm[b0 - 2:], cm[b0 - 1:], cm[b0:]
    m4, m5, m6 = cm[b0 + 1:], cm[b0 + 2:], cm[b0 + 3:]
    x0, x1, x2, x3 = cx[b0 - 3:], cx[b0 - 2:], cx[b0 - 1:], cx[b0:]
    x4, x5, x6 = cx[b0 + 1:], cx[b0 + 2:], cx[b0 + 3:]
    y0, y1, y2, y3 = cy[b0 - 3:], cy[b0 - 2:], cy[b0 - 1:], cy[b0:]
    y4, y5, y6 = cy[b0 + 1:], cy[b0 + 2:], cy[b0 + 3:]
    r = row[b0:]
    mr = mrow[b0:]
    o = out[b0:]
    if gain > 0:
        for i in range(n):
            sm = np.int32(m0[i] + m1[i] + m2[i] + m3[i] + m4[i] + m5[i] + m6[i])
            sx = np.int32(x0[i] + x1[i] + x2[i] + x3[i] + x4[i] + x5[i] + x6[i])
            sy = y0[i] + y1[i] + y2[i] + y3[i] + y4[i] + y5[i] + y6[i]
            f = np.float64(r[i])
            valid = mr[i] & (f >= low) & (f <= high)
            m = np.float64(sm)
            x = np.float64(sx)
            a = m * np.float64(sy) - x * x
            c = gain * x * (m - 1.0 + nsig_b * np.sqrt(2.0 * (m - 1.0)))
            ok = (m >= min_count) & (x >= 0) & (a > c)
            o[i] = ok if valid else masked
    else:
        for i in range(n):
            sm = np.int32(m0[i] + m1[i] + m2[i] + m3[i] + m4[i] + m5[i] + m6[i])
            sx = np.int32(x0[i] + x1[i] + x2[i] + x3[i] + x4[i] + x5[i] + x6[i])
            sy = y0[i] + y1[i] + y2[i] + y3[i] + y4[i] + y5[i] + y6[i]
            f = np.float64(r[i])
            valid = mr[i] & (f >= low) & (f <= high)
            m = np.float64(sm)
            x = np.float64(sx)
            a = m * np.float64(sy) - x * x - x * (m - 1.0)
            c = x * nsig_b * np.sqrt(2.0 * (m - 1.0))
            ok = (m >= min_count) & (x >= 0) & (a > c)
            o[i] = ok if valid else masked


@jit
def _plain_strong_row(image, j, nb_padded, cm, cx, kx, nsig_s, global_threshold, g, found,
                      n_found):
    """Strength test of plain `dispersion` at the not-background pixels of row j (window
    count and sum from the column sums cm, cx)."""
    nx = image.shape[1]
    words = nb_padded.view(np.uint64)
    nw = words.shape[0]
    for b in range(0, nw, 8):  # 64-pixel blocks, then 8-pixel words
        e = min(b + 8, nw)
        acc = np.uint64(0)
        for w in range(b, e):
            acc |= words[w]
        if acc == 0:
            continue
        for w in range(b, e):
            if words[w] == 0:
                continue
            for i in range(8 * w, min(8 * w + 8, nx)):
                if nb_padded[i]:
                    v = np.float64(image[j, i])
                    if not v > global_threshold:
                        continue
                    c0, c1 = _bounds(i, nx, kx)
                    sm = 0
                    sx = 0
                    for q in range(c0, c1):
                        sm += cm[q]
                        sx += cx[q]
                    m = np.float64(sm)
                    x = np.float64(sx)
                    if m * v - x > nsig_s * np.sqrt(g * x * m):
                        found = _append(found, n_found, j * nx + i)
                        n_found += 1
    return found, n_found
