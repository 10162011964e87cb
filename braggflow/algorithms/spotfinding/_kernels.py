"""numba kernels for spot finding; `_reference.py` holds the numpy twins (same signatures).

Kernels take contiguous arrays and scalars only and never raise user errors; the public
wrappers in `threshold.py` and `labelling.py` check and convert their inputs first. See
`_reference.py` for the conventions (window clipping, the 2**24 cut, `gain <= 0`).

The threshold kernels stream over image rows: the summed-area tables live in small ring
buffers of 2k+2 rows (a few hundred kB, cache resident) instead of three (ny+1, nx+1)
tables, but every table entry and every window sum is formed by the same floating-point
operations in the same order as a full table, so results are bit-identical to it (and to
the reference). Images of any real dtype are read as float64 pixel by pixel.
"""

from __future__ import annotations

import numpy as np

from braggflow._numba import jit
from braggflow.algorithms.spotfinding._label_kernels import label_pixels

BIG = float(1 << 24)



@jit
def _sat_row(image, valid, row, prev, cur, tm, tx, ty):
    """Summed-area row `row + 1` (ring slot `cur`) from row `row` (slot `prev`).

    Same additions, in the same order, as a full (ny+1, nx+1) table: t[r+1, i+1] =
    t[r, i+1] + (running sum of image row r up to column i), over valid pixels below 2**24.
    """
    run_m = 0
    run_x = 0.0
    run_y = 0.0
    for i in range(image.shape[1]):
        v = np.float64(image[row, i])
        if valid[row, i] and v < BIG:
            run_m += 1
            run_x += v
            run_y += v * v
        tm[cur, i + 1] = tm[prev, i + 1] + run_m
        tx[cur, i + 1] = tx[prev, i + 1] + run_x
        ty[cur, i + 1] = ty[prev, i + 1] + run_y


@jit
def _sat_row_background(image, mask, core, row, prev, cur, tm, tx):
    """Like `_sat_row` (count and sum only) over pixels valid in `mask` and not in `core`."""
    run_m = 0
    run_x = 0.0
    for i in range(image.shape[1]):
        v = np.float64(image[row, i])
        if mask[row, i] and not core[row, i] and v < BIG:
            run_m += 1
            run_x += v
        tm[cur, i + 1] = tm[prev, i + 1] + run_m
        tx[cur, i + 1] = tx[prev, i + 1] + run_x


@jit
def _window_row(t, a0, a1, k, out):
    """out[i] = clipped window sum over columns [i-k, i+k] between ring slots a0 and a1.

    The unclipped middle runs over offset views with non-negative indices so that LLVM
    vectorizes it; each sum is the same expression as `_wsum`.
    """
    nx = out.shape[0]
    t0 = t[a0]
    t1 = t[a1]
    lo = min(k, nx)
    hi = max(nx - k - 1, lo)
    for i in range(lo):
        c1 = min(i + k, nx - 1) + 1
        out[i] = ((t1[c1] - t0[c1]) - t1[0]) + t0[0]
    n = hi - lo
    if n > 0:
        p1 = t1[2 * k + 1 :]
        p0 = t0[2 * k + 1 :]
        o = out[lo:hi]
        for i in range(n):
            o[i] = ((p1[i] - p0[i]) - t1[i]) + t0[i]
    for i in range(hi, nx):
        c0 = max(i - k, 0)
        c1 = min(i + k, nx - 1) + 1
        out[i] = ((t1[c1] - t0[c1]) - t1[c0]) + t0[c0]


@jit
def _bounds(j, n, k):
    lo = j - k
    if lo < 0:
        lo = 0
    hi = j + k
    if hi > n - 1:
        hi = n - 1
    return lo, hi + 1


@jit
def _wsum(t, r0, r1, c0, c1):
    return ((t[r1, c1] - t[r0, c1]) - t[r1, c0]) + t[r0, c0]


@jit
def _window_stats_rows(nx, ky):
    """Ring tables and row buffers for streaming 3-table window sums."""
    ring = 2 * ky + 2
    tm = np.zeros((ring, nx + 1), dtype=np.int64)
    tx = np.zeros((ring, nx + 1), dtype=np.float64)
    ty = np.zeros((ring, nx + 1), dtype=np.float64)
    return tm, tx, ty, np.empty(nx), np.empty(nx), np.empty(nx)


@jit
def _row_window_stats(image, valid, j, ky, kx, done, tm, tx, ty, wm, wx, wy):
    """Fill wm, wx, wy with the clipped window sums of row j; returns the rows now done."""
    ring = tm.shape[0]
    r0, r1 = _bounds(j, image.shape[0], ky)
    while done < r1:
        _sat_row(image, valid, done, done % ring, (done + 1) % ring, tm, tx, ty)
        done += 1
    a0, a1 = r0 % ring, r1 % ring
    _window_row(tm, a0, a1, kx, wm)
    _window_row(tx, a0, a1, kx, wx)
    _window_row(ty, a0, a1, kx, wy)
    return done


@jit
def _append(buf, n, value):
    if n == buf.shape[0]:
        buf = np.concatenate((buf, np.empty_like(buf)))
    buf[n] = value
    return buf


@jit
def dispersion_strong_pixels(
    image, mask, kernel_y, kernel_x, nsig_b, nsig_s, global_threshold, min_count, gain,
    erode_from_mask,
):
    """Flat indices (ascending) of the strong pixels of the plain `dispersion` test."""
    ny, nx = image.shape
    tm, tx, ty, wm, wx, wy = _window_stats_rows(nx, kernel_y)
    disp = np.empty(nx, dtype=np.bool_)
    found = np.empty(1024, dtype=np.int64)
    n = 0
    g = gain if gain > 0 else 1.0
    done = 0
    for j in range(ny):
        done = _row_window_stats(
            image, mask, j, kernel_y, kernel_x, done, tm, tx, ty, wm, wx, wy
        )
        _dispersion_row(mask[j], wm, wx, wy, nsig_b, min_count, gain, False, disp)
        for i in range(nx):
            if disp[i]:
                m = wm[i]
                x = wx[i]
                v = np.float64(image[j, i])
                if v > global_threshold and m * v - x > nsig_s * np.sqrt(g * x * m):
                    found = _append(found, n, j * nx + i)
                    n += 1
    return found[:n]


@jit
def _as_image(shape, flat_indices):
    out = np.zeros(shape, dtype=np.bool_)
    flat = out.reshape(-1)
    for k in flat_indices:
        flat[k] = True
    return out


@jit
def dispersion_threshold(
    image, mask, kernel_y, kernel_x, nsig_b, nsig_s, global_threshold, min_count, gain,
    erode_from_mask,
):
    """Strong pixels by the plain `dispersion` test (one 7x7 window for everything)."""
    return _as_image(image.shape, dispersion_strong_pixels(
        image, mask, kernel_y, kernel_x, nsig_b, nsig_s, global_threshold, min_count, gain,
        erode_from_mask,
    ))


@jit
def _erode_rows(not_background, kernel_y, kernel_x, core):
    """Fill `core` (all False on entry); return the flat indices of its True pixels.

    Keeps per-column counts of background pixels over the clipped rows [j-h, j+h]
    (h = min(kernel) - 1); a not-background pixel is core when the counts of columns
    [i-h, i+h] sum to zero. Only not-background pixels (a small fraction) are summed.
    """
    ny, nx = not_background.shape
    h = min(kernel_y, kernel_x) - 1
    col = np.zeros(nx, dtype=np.int32)
    found = np.empty(1024, dtype=np.int64)
    n_found = 0
    added = 0
    removed = 0
    for j in range(ny):
        r0, r1 = _bounds(j, ny, h)
        while added < r1:
            row = not_background[added]
            for i in range(nx):
                col[i] += np.int32(1) - row[i]
            added += 1
        while removed < r0:
            row = not_background[removed]
            for i in range(nx):
                col[i] -= np.int32(1) - row[i]
            removed += 1
        row = not_background[j]
        for i in range(nx):
            if not row[i]:
                continue
            c0, c1 = _bounds(i, nx, h)
            s = 0
            for c in range(c0, c1):
                s += col[c]
            if s == 0:
                core[j, i] = True
                found = _append(found, n_found, j * nx + i)
                n_found += 1
    return found[:n_found]


@jit
def erode_core(not_background, kernel_y, kernel_x):
    """Pixels whose Chebyshev distance to the nearest background pixel is >= min(kernel).

    Zero background pixels in the clipped (2e-1)^2 window means every pixel closer than e
    is not background (outside the image counts as none).
    """
    core = np.zeros(not_background.shape, dtype=np.bool_)
    _erode_rows(not_background, kernel_y, kernel_x, core)
    return core


@jit
def _dispersion_row(valid, wm, wx, wy, nsig_b, min_count, gain, masked, out):
    """Branch-free (vectorizable) `_dispersion_ok` plus window checks for one image row.

    out[i] = m >= min_count and x >= 0 and dispersion test, where valid; `masked` elsewhere.
    """
    n = wm.shape[0]
    if gain > 0:
        for i in range(n):
            m = wm[i]
            x = wx[i]
            a = m * wy[i] - x * x
            c = gain * x * (m - 1.0 + nsig_b * np.sqrt(2.0 * (m - 1.0)))
            ok = (m >= min_count) & (x >= 0) & (a > c)
            out[i] = ok if valid[i] else masked
    else:
        for i in range(n):
            m = wm[i]
            x = wx[i]
            a = m * wy[i] - x * x - x * (m - 1.0)
            c = x * nsig_b * np.sqrt(2.0 * (m - 1.0))
            ok = (m >= min_count) & (x >= 0) & (a > c)
            out[i] = ok if valid[i] else masked


@jit
def _not_background(image, mask, kernel_y, kernel_x, nsig_b, min_count, gain, erode_from_mask):
    ny, nx = image.shape
    tm, tx, ty, wm, wx, wy = _window_stats_rows(nx, kernel_y)
    not_bg = np.empty((ny, nx), dtype=np.bool_)
    done = 0
    for j in range(ny):
        done = _row_window_stats(
            image, mask, j, kernel_y, kernel_x, done, tm, tx, ty, wm, wx, wy
        )
        _dispersion_row(
            mask[j], wm, wx, wy, nsig_b, min_count, gain, not erode_from_mask, not_bg[j]
        )
    return not_bg


@jit
def _background_mean_sat(image, mask, core, core_pixels, ky, kx):
    """(count, sum) of background pixels (valid, not core) in each core pixel's window.

    `core_pixels` ascending flat indices; the ring tables advance with the core rows.
    """
    ny, nx = image.shape
    ring = 2 * ky + 2
    tm = np.zeros((ring, nx + 1), dtype=np.int64)
    tx = np.zeros((ring, nx + 1), dtype=np.float64)
    m = np.empty(core_pixels.shape[0])
    x = np.empty(core_pixels.shape[0])
    done = 0
    for q in range(core_pixels.shape[0]):
        j, i = core_pixels[q] // nx, core_pixels[q] % nx
        r0, r1 = _bounds(j, ny, ky)
        while done < r1:
            _sat_row_background(image, mask, core, done, done % ring, (done + 1) % ring, tm, tx)
            done += 1
        c0, c1 = _bounds(i, nx, kx)
        m[q] = float(_wsum(tm, r0 % ring, r1 % ring, c0, c1))
        x[q] = _wsum(tx, r0 % ring, r1 % ring, c0, c1)
    return m, x


@jit
def extended_strong_pixels(
    image, mask, kernel_y, kernel_x, nsig_b, nsig_s, global_threshold, min_count, gain,
    erode_from_mask,
):
    """Flat indices (ascending) of the strong pixels of `dispersion_extended`.

    Dispersion test (not background), erosion to core pixels, then the (k+2) window
    background mean, which is needed at core pixels only (a small fraction).
    """
    ny, nx = image.shape
    not_bg = _not_background(
        image, mask, kernel_y, kernel_x, nsig_b, min_count, gain, erode_from_mask
    )
    core = np.zeros((ny, nx), dtype=np.bool_)
    core_pixels = _erode_rows(not_bg, kernel_y, kernel_x, core)
    m, x = _background_mean_sat(image, mask, core, core_pixels, kernel_y + 2, kernel_x + 2)
    found = np.empty(core_pixels.shape[0], dtype=np.int64)
    n = 0
    g = gain if gain > 0 else 1.0
    for q in range(core_pixels.shape[0]):
        p = core_pixels[q]
        v = np.float64(image[p // nx, p % nx])
        if mask[p // nx, p % nx] and x[q] >= 0 and v > global_threshold:
            mean = x[q] / m[q] if m[q] >= 2 else 0.0
            if v >= mean + nsig_s * np.sqrt(g * mean):
                found[n] = p
                n += 1
    return found[:n]


@jit
def dispersion_extended_threshold(
    image, mask, kernel_y, kernel_x, nsig_b, nsig_s, global_threshold, min_count, gain,
    erode_from_mask,
):
    """Strong pixels by `dispersion_extended` (dispersion, erosion, 11x11 background mean)."""
    return _as_image(image.shape, extended_strong_pixels(
        image, mask, kernel_y, kernel_x, nsig_b, nsig_s, global_threshold, min_count, gain,
        erode_from_mask,
    ))


__all__ = [
    "dispersion_strong_pixels",
    "extended_strong_pixels",
    "dispersion_threshold",
    "dispersion_extended_threshold",
    "erode_core",
    "label_pixels",
]
