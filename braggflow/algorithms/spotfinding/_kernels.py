"""numba kernels for spot finding; `_reference.py` holds the numpy twins (same signatures).

Kernels take contiguous arrays and scalars only and never raise user errors; the public
wrappers in `threshold.py` and `labelling.py` check and convert their inputs first. See
`_reference.py` for the conventions (window clipping, the 2**24 cut, `gain <= 0`).
"""

from __future__ import annotations

import numpy as np

from braggflow._numba import jit

BIG = float(1 << 24)


@jit
def _prefix_tables(image, valid):
    """Summed-area tables (count, sum, sum of squares) over valid pixels below 2**24."""
    ny, nx = image.shape
    tm = np.zeros((ny + 1, nx + 1), dtype=np.int64)
    tx = np.zeros((ny + 1, nx + 1), dtype=np.float64)
    ty = np.zeros((ny + 1, nx + 1), dtype=np.float64)
    for j in range(ny):
        run_m = 0
        run_x = 0.0
        run_y = 0.0
        for i in range(nx):
            v = image[j, i]
            if valid[j, i] and v < BIG:
                run_m += 1
                run_x += v
                run_y += v * v
            else:
                run_x += 0.0
                run_y += 0.0
            tm[j + 1, i + 1] = tm[j, i + 1] + run_m
            tx[j + 1, i + 1] = tx[j, i + 1] + run_x
            ty[j + 1, i + 1] = ty[j, i + 1] + run_y
    return tm, tx, ty


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
def _wsum_f(t, r0, r1, c0, c1):
    return ((t[r1, c1] - t[r0, c1]) - t[r1, c0]) + t[r0, c0]


@jit
def _wsum_i(t, r0, r1, c0, c1):
    return ((t[r1, c1] - t[r0, c1]) - t[r1, c0]) + t[r0, c0]


@jit
def _dispersion_ok(m, x, y, nsig_b, gain):
    if gain > 0:
        a = m * y - x * x
        c = gain * x * (m - 1.0 + nsig_b * np.sqrt(2.0 * (m - 1.0)))
    else:
        a = m * y - x * x - x * (m - 1.0)
        c = x * nsig_b * np.sqrt(2.0 * (m - 1.0))
    return a > c


@jit
def dispersion_threshold(
    image, mask, kernel_y, kernel_x, nsig_b, nsig_s, global_threshold, min_count, gain,
    erode_from_mask,
):
    """Strong pixels by the plain `dispersion` test (one 7x7 window for everything)."""
    ny, nx = image.shape
    tm, tx, ty = _prefix_tables(image, mask)
    out = np.zeros((ny, nx), dtype=np.bool_)
    g = gain if gain > 0 else 1.0
    for j in range(ny):
        r0, r1 = _bounds(j, ny, kernel_y)
        for i in range(nx):
            if not mask[j, i]:
                continue
            c0, c1 = _bounds(i, nx, kernel_x)
            m = float(_wsum_i(tm, r0, r1, c0, c1))
            x = _wsum_f(tx, r0, r1, c0, c1)
            v = image[j, i]
            if m >= min_count and x >= 0 and v > global_threshold:
                y = _wsum_f(ty, r0, r1, c0, c1)
                b = m * v - x
                d = nsig_s * np.sqrt(g * x * m)
                out[j, i] = _dispersion_ok(m, x, y, nsig_b, gain) and b > d
    return out


@jit
def erode_core(not_background, kernel_y, kernel_x):
    """Pixels whose Chebyshev distance to the nearest background pixel is >= min(kernel).

    Counts background pixels in the clipped (2e-1)^2 window with a summed-area table:
    zero means every pixel closer than e is not background (outside counts as none).
    """
    ny, nx = not_background.shape
    e = min(kernel_y, kernel_x)
    t = np.zeros((ny + 1, nx + 1), dtype=np.int64)
    for j in range(ny):
        run = 0
        for i in range(nx):
            if not not_background[j, i]:
                run += 1
            t[j + 1, i + 1] = t[j, i + 1] + run
    out = np.zeros((ny, nx), dtype=np.bool_)
    for j in range(ny):
        r0, r1 = _bounds(j, ny, e - 1)
        for i in range(nx):
            if not_background[j, i]:
                c0, c1 = _bounds(i, nx, e - 1)
                out[j, i] = _wsum_i(t, r0, r1, c0, c1) == 0
    return out


@jit
def dispersion_extended_threshold(
    image, mask, kernel_y, kernel_x, nsig_b, nsig_s, global_threshold, min_count, gain,
    erode_from_mask,
):
    """Strong pixels by `dispersion_extended` (dispersion, erosion, 11x11 background mean)."""
    ny, nx = image.shape
    tm, tx, ty = _prefix_tables(image, mask)
    not_bg = np.full((ny, nx), not erode_from_mask, dtype=np.bool_)
    for j in range(ny):
        r0, r1 = _bounds(j, ny, kernel_y)
        for i in range(nx):
            if not mask[j, i]:
                continue
            c0, c1 = _bounds(i, nx, kernel_x)
            m = float(_wsum_i(tm, r0, r1, c0, c1))
            x = _wsum_f(tx, r0, r1, c0, c1)
            if m >= min_count and x >= 0:
                y = _wsum_f(ty, r0, r1, c0, c1)
                not_bg[j, i] = _dispersion_ok(m, x, y, nsig_b, gain)
            else:
                not_bg[j, i] = False
    core = erode_core(not_bg, kernel_y, kernel_x)
    background = np.empty((ny, nx), dtype=np.bool_)
    for j in range(ny):
        for i in range(nx):
            background[j, i] = mask[j, i] and not core[j, i]
    tm, tx, ty = _prefix_tables(image, background)
    out = np.zeros((ny, nx), dtype=np.bool_)
    g = gain if gain > 0 else 1.0
    for j in range(ny):
        r0, r1 = _bounds(j, ny, kernel_y + 2)
        for i in range(nx):
            if not (mask[j, i] and core[j, i]):
                continue
            c0, c1 = _bounds(i, nx, kernel_x + 2)
            m = float(_wsum_i(tm, r0, r1, c0, c1))
            x = _wsum_f(tx, r0, r1, c0, c1)
            v = image[j, i]
            if x >= 0 and v > global_threshold:
                mean = x / m if m >= 2 else 0.0
                out[j, i] = v >= mean + nsig_s * np.sqrt(g * mean)
    return out


@jit
def _find(parent, i):
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        nxt = parent[i]
        parent[i] = root
        i = nxt
    return root


@jit
def _union(parent, a, b):
    ra = _find(parent, a)
    rb = _find(parent, b)
    if ra < rb:
        parent[rb] = ra
    elif rb < ra:
        parent[ra] = rb


@jit
def label_pixels(keys, height, width, connect_z):
    """Connected components (6-connectivity) of pixels given by sorted linear keys.

    `keys` : (n,) int64, strictly increasing, key = (z * height + y) * width + x.
    Returns (n,) int64 labels numbered 0.. in order of each component's first pixel.
    """
    n = keys.shape[0]
    frame = height * width
    parent = np.arange(n)
    for p in range(n):
        k = keys[p]
        x = k % width
        y = (k % frame) // width
        if x > 0 and p > 0 and keys[p - 1] == k - 1:
            _union(parent, p, p - 1)
        if y > 0:
            q = np.searchsorted(keys[:p], k - width)
            if q < p and keys[q] == k - width:
                _union(parent, p, q)
        if connect_z and k >= frame:
            q = np.searchsorted(keys[:p], k - frame)
            if q < p and keys[q] == k - frame:
                _union(parent, p, q)
    labels = np.empty(n, dtype=np.int64)
    root_label = np.full(n, -1, dtype=np.int64)
    nxt = 0
    for p in range(n):
        r = _find(parent, p)
        if root_label[r] < 0:
            root_label[r] = nxt
            nxt += 1
        labels[p] = root_label[r]
    return labels


__all__ = [
    "dispersion_threshold",
    "dispersion_extended_threshold",
    "erode_core",
    "label_pixels",
]
