"""numba kernels of dispersion_extended's second stage: erosion of the core mask and the
background sums around the core pixels (called by `_fused_kernels._fused`)."""

from __future__ import annotations

import numpy as np

from braggflow._numba import jit
from braggflow.algorithms.spotfinding._kernels import BIG, _append, _bounds


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
