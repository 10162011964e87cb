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
from braggflow.algorithms.spotfinding._kernels import BIG, _append, _bounds

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
        out[i] = _pixel_test(valid, np.float64(sm), np.float64(sx), np.float64(sy), nsig_b,
                             min_count, gain, masked)
    if nx <= 6:
        return
    for i in range(nx - 3, nx):
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
        out[i] = _pixel_test(valid, np.float64(sm), np.float64(sx), np.float64(sy), nsig_b,
                             min_count, gain, masked)
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


@jit
def _erode_row(ring, r, ny, h, vand, hand, hand64, core, found, n_found, image, mask,
               low, high, valid_only):
    """Core pixels of row r: not background with no background within h (Chebyshev).

    `ring` holds not-background rows (uint8, row j in slot j % len, padded to whole 8-byte
    words with zeros); `vand` (same padded width) receives the AND over the clipped rows
    [r-h, r+h], `hand` (same width, zero beyond nx; `hand64` its uint64 view) the AND of
    `vand` over the clipped columns [i-h, i+h] (byte-wise passes, vectorised). Words of
    `hand` that are all zero are skipped 8 pixels at a time. With `valid_only` (masked
    pixels count as not background), only valid core pixels are collected and marked:
    the background sums and the strength test read valid pixels only.
    """
    nx = core.shape[1]
    R = ring.shape[0]
    lo, hi = _bounds(r, ny, h)
    first = ring[lo % R]
    for i in range(nx):
        vand[i] = first[i]
    for q in range(lo + 1, hi):
        row = ring[q % R]
        for i in range(nx):
            vand[i] &= row[i]
    for i in range(nx):
        if i == h and nx > 2 * h:
            break
        c0, c1 = _bounds(i, nx, h)
        v = vand[c0]
        for c in range(c0 + 1, c1):
            v &= vand[c]
        hand[i] = v
    if nx > 2 * h:
        for i in range(nx - h, nx):
            c0, c1 = _bounds(i, nx, h)
            v = vand[c0]
            for c in range(c0 + 1, c1):
                v &= vand[c]
            hand[i] = v
        n = nx - 2 * h
        o = hand[h:]
        for i in range(n):
            o[i] = vand[i]
        for d in range(1, 2 * h + 1):
            vd = vand[d:]
            for i in range(n):
                o[i] &= vd[i]
    if valid_only:  # invalid pixels are never background nor strong: no need to mark them
        row = image[r]
        mrow = mask[r]
        for i in range(nx):
            f = np.float64(row[i])
            hand[i] &= np.uint8(mrow[i] & (f >= low) & (f <= high))
    nw = hand64.shape[0]
    for b in range(0, nw, 8):  # 64-pixel blocks, then 8-pixel words
        e = min(b + 8, nw)
        acc = np.uint64(0)
        for w in range(b, e):
            acc |= hand64[w]
        if acc == 0:
            continue
        for w in range(b, e):
            if hand64[w] == 0:
                continue
            for i in range(8 * w, min(8 * w + 8, nx)):
                if hand[i] != 0:
                    core[r, i] = True
                    found = _append(found, n_found, r * nx + i)
                    n_found += 1
    return found, n_found


@jit
def _bg_pixel(image, mask, core, r, c, low, high):
    """(1, v) for a valid, not-core pixel below 2**24, else (0, 0)."""
    v = np.int64(image[r, c])
    f = np.float64(v)
    if mask[r, c] and not core[r, c] and f >= low and f <= high and f < BIG:
        return 1, v
    return 0, np.int64(0)


@jit
def _background_sums(image, mask, low, high, core, core_pixels, ky, kx):
    """(count, sum) over valid, not-core pixels (< 2**24) in each core pixel's window.

    Column sums over the window rows are cached per column with the row they belong to
    (`stamp`): reused within a row, moved by one row (one pixel out, one in) when the
    column was used on the row before, else summed afresh. A spot costs about
    (width + 2k) columns per row, and even an image that is all core costs O(2 pixels).
    """
    ny, nx = image.shape
    n = core_pixels.shape[0]
    m = np.empty(n)
    x = np.empty(n)
    stamp = np.full(nx, -1, dtype=np.int64)
    cm = np.zeros(nx, dtype=np.int64)
    cx = np.zeros(nx, dtype=np.int64)
    for q in range(n):
        j, i = core_pixels[q] // nx, core_pixels[q] % nx
        r0, r1 = _bounds(j, ny, ky)
        c0, c1 = _bounds(i, nx, kx)
        sm = 0
        sx = 0
        for c in range(c0, c1):
            if stamp[c] == j - 1 and j > 0:
                p0, p1 = _bounds(j - 1, ny, ky)
                if r0 > p0:  # row p0 leaves the window
                    a, b = _bg_pixel(image, mask, core, p0, c, low, high)
                    cm[c] -= a
                    cx[c] -= b
                if r1 > p1:  # row r1 - 1 enters it
                    a, b = _bg_pixel(image, mask, core, r1 - 1, c, low, high)
                    cm[c] += a
                    cx[c] += b
                stamp[c] = j
            elif stamp[c] != j:
                sa = 0
                sb = np.int64(0)
                for r in range(r0, r1):
                    a, b = _bg_pixel(image, mask, core, r, c, low, high)
                    sa += a
                    sb += b
                cm[c] = sa
                cx[c] = sb
                stamp[c] = j
            sm += cm[c]
            sx += cx[c]
        m[q] = np.float64(sm)
        x[q] = np.float64(sx)
    return m, x


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


@jit
def fill_shoeboxes(keys, values, pixel_offsets, bbox, panel, heights, widths, z_offset,
                   sb_offsets, data, mask, code):
    """Write each spot's pixels into its zeroed shoebox (data = count, mask = `code`).

    keys : linear pixel keys (z*ny + y)*nx + x of spot i at pixel_offsets[i]:[i+1] (z =
    sweep index = bbox z - z_offset); bbox (n, 6) x0, x1, y0, y1, z0, z1; shoebox i's
    pixels start at sb_offsets[i] in data/mask ((z, y, x) C order over the bbox).
    """
    for s in range(bbox.shape[0]):
        nx = np.int64(widths[panel[s]])
        ny = np.int64(heights[panel[s]])
        x0, x1, y0, y1, z0 = bbox[s, 0], bbox[s, 1], bbox[s, 2], bbox[s, 3], bbox[s, 4]
        w = x1 - x0
        hgt = y1 - y0
        for p in range(pixel_offsets[s], pixel_offsets[s + 1]):
            k = keys[p]
            x = k % nx
            y = (k // nx) % ny
            z = k // (nx * ny) + z_offset
            q = sb_offsets[s] + ((z - z0) * hgt + (y - y0)) * w + (x - x0)
            data[q] = values[p]
            mask[q] = code


__all__ = ["fused_strong_pixels", "fill_shoeboxes", "EXACT_LIMIT"]
