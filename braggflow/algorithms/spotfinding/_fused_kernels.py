"""Fused integer threshold kernel (twin: `_reference.fused_strong_pixels`).

One streaming pass per panel image for integer images:

- the valid mask (static mask AND trusted range) is formed on the fly, never stored;
- window sums are rolling column sums over the 2k+1 window rows (count and sum as int32
  when the window area is below 128, sum of squares as float64), then 2k+1-column sums
  along each row (branch-free in the interior, so LLVM vectorises them);
- the dispersion test runs on whole rows with `_kernels._dispersion_row`'s expressions;
- erosion follows h = min(kernel) - 1 rows behind: AND of the 2h+1 not-background rows,
  then runs of 2h+1 along the row, skipping all-zero 8-pixel words;
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
def _column_update(image, mask, add, sub, low, high, cm, cx, cy, acc):
    """Add row `add` to and remove row `sub` from the column sums (-1: none).

    cm, cx : counts and sums (int32 when the window area is below 128, so no overflow for
    pixels below 2**24; else float64); cy : float64 sums of squares. `acc` accumulates v*v
    of added rows per column (for the exactness bound). The float64 sums hold exact
    integers while the image's sum of squares is below 2**51.
    """
    nx = image.shape[1]
    zero = np.int32(0)
    if add >= 0 and sub >= 0:
        ra, rb, ma, mb = image[add], image[sub], mask[add], mask[sub]
        for i in range(nx):
            a = ra[i]
            b = rb[i]
            fa = np.float64(a)
            fb = np.float64(b)
            oka = ma[i] & (fa >= low) & (fa <= high) & (fa < BIG)
            okb = mb[i] & (fb >= low) & (fb <= high) & (fb < BIG)
            ia = np.int32(a) if oka else zero
            ib = np.int32(b) if okb else zero
            cm[i] += np.int32(oka) - np.int32(okb)
            cx[i] += ia - ib
            va = np.float64(ia)
            vb = np.float64(ib)
            cy[i] += va * va - vb * vb
            acc[i] += va * va
    elif add >= 0:
        ra, ma = image[add], mask[add]
        for i in range(nx):
            a = ra[i]
            fa = np.float64(a)
            oka = ma[i] & (fa >= low) & (fa <= high) & (fa < BIG)
            ia = np.int32(a) if oka else zero
            cm[i] += np.int32(oka)
            cx[i] += ia
            va = np.float64(ia)
            cy[i] += va * va
            acc[i] += va * va
    elif sub >= 0:
        rb, mb = image[sub], mask[sub]
        for i in range(nx):
            b = rb[i]
            fb = np.float64(b)
            okb = mb[i] & (fb >= low) & (fb <= high) & (fb < BIG)
            ib = np.int32(b) if okb else zero
            cm[i] -= np.int32(okb)
            cx[i] -= ib
            vb = np.float64(ib)
            cy[i] -= vb * vb


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
    trusted range) formed on the fly and wm, wx of any numeric type."""
    n = wm.shape[0]
    row = image[j]
    mrow = mask[j]
    if gain > 0:
        for i in range(n):
            f = np.float64(row[i])
            valid = mrow[i] & (f >= low) & (f <= high)
            m = np.float64(wm[i])
            x = np.float64(wx[i])
            a = m * wy[i] - x * x
            c = gain * x * (m - 1.0 + nsig_b * np.sqrt(2.0 * (m - 1.0)))
            ok = (m >= min_count) & (x >= 0) & (a > c)
            out[i] = ok if valid else masked
    else:
        for i in range(n):
            f = np.float64(row[i])
            valid = mrow[i] & (f >= low) & (f <= high)
            m = np.float64(wm[i])
            x = np.float64(wx[i])
            a = m * wy[i] - x * x - x * (m - 1.0)
            c = x * nsig_b * np.sqrt(2.0 * (m - 1.0))
            ok = (m >= min_count) & (x >= 0) & (a > c)
            out[i] = ok if valid else masked


@jit
def _plain_strong_row(image, j, nb_padded, wm, wx, nsig_s, global_threshold, g, found, n_found):
    """Strength test of plain `dispersion` at the not-background pixels of row j."""
    nx = image.shape[1]
    words = nb_padded.view(np.uint64)
    for w in range(words.shape[0]):
        if words[w] == 0:
            continue
        for i in range(8 * w, min(8 * w + 8, nx)):
            if nb_padded[i]:
                m = np.float64(wm[i])
                x = np.float64(wx[i])
                v = np.float64(image[j, i])
                if v > global_threshold and m * v - x > nsig_s * np.sqrt(g * x * m):
                    found = _append(found, n_found, j * nx + i)
                    n_found += 1
    return found, n_found


@jit
def _erode_row(ring, r, ny, h, vand, core, found, n_found):
    """Core pixels of row r: not background with no background within h (Chebyshev).

    `ring` holds not-background rows (uint8, row j in slot j % len, padded to whole 8-byte
    words with zeros); `vand` (same padded width) receives the AND over the clipped rows
    [r-h, r+h]. Words of `vand` that are all zero are skipped 8 pixels at a time.
    """
    nx = core.shape[1]
    R = ring.shape[0]
    lo, hi = _bounds(r, ny, h)
    first = ring[lo % R]
    for i in range(vand.shape[0]):
        vand[i] = first[i]
    for q in range(lo + 1, hi):
        row = ring[q % R]
        for i in range(vand.shape[0]):
            vand[i] &= row[i]
    words = vand.view(np.uint64)
    for w in range(words.shape[0]):
        if words[w] == 0:
            continue
        for i in range(8 * w, min(8 * w + 8, nx)):
            if vand[i] == 0:
                continue
            c0, c1 = _bounds(i, nx, h)
            ok = True
            for c in range(c0, c1):
                if vand[c] == 0:
                    ok = False
                    break
            if ok:
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
    z = np.zeros(nx)
    return _fused(*args, z, z.copy(), z.copy(), z.copy())


@jit
def _fused(
    image, mask, low, high, core, kernel_y, kernel_x, nsig_b, nsig_s, global_threshold,
    min_count, gain, erode_from_mask, extended, cm, cx, wm, wx,
):
    ny, nx = image.shape
    cy = np.zeros(nx)
    wy = np.empty(nx)
    h = min(kernel_y, kernel_x) - 1
    width = 8 * ((nx + 7) // 8)
    ring = np.zeros((2 * h + 2, width), dtype=np.uint8)
    vand = np.zeros(width, dtype=np.uint8)
    found = np.empty(1024, dtype=np.int64)
    n_found = 0
    g = gain if gain > 0 else 1.0
    acc = np.zeros(nx)
    added = 0  # rows [removed, added) are in the column sums
    removed = 0
    for j in range(ny):
        r0, r1 = _bounds(j, ny, kernel_y)
        while added < r1 or removed < r0:
            add = added if added < r1 else -1
            sub = removed if removed < r0 else -1
            _column_update(image, mask, add, sub, low, high, cm, cx, cy, acc)
            added += add >= 0
            removed += sub >= 0
        nb = ring[j % ring.shape[0]][:nx].view(np.bool_)
        masked = (not erode_from_mask) if extended else False
        _window_cols(cm, kernel_x, wm)
        _window_cols(cx, kernel_x, wx)
        _window_cols(cy, kernel_x, wy)
        _dispersion_row_in_range(
            image, mask, j, low, high, wm, wx, wy, nsig_b, min_count, gain, masked, nb
        )
        if not extended:
            found, n_found = _plain_strong_row(
                image, j, ring[j % ring.shape[0]], wm, wx, nsig_s, global_threshold, g, found,
                n_found,
            )
            continue
        r = j - h
        if r >= 0:
            found, n_found = _erode_row(ring, r, ny, h, vand, core, found, n_found)
    exact = acc.sum() < EXACT_LIMIT
    if not extended:
        return found[:n_found], exact
    for r in range(max(ny - h, 0), ny):
        found, n_found = _erode_row(ring, r, ny, h, vand, core, found, n_found)
    core_pixels = found[:n_found]
    # only valid core pixels above the global threshold can be strong: the background
    # mean is needed there alone (with erode_from_mask False, masked gaps are all core)
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
