"""Plain numpy twins of the numba kernels in `_kernels.py` (same names, same signatures).

They are the readable statement of each algorithm and the oracle the kernel tests compare
against. Production code imports only `_kernels`. The arithmetic is written in the same
order as the kernels (sequential prefix sums, the same window expression), so both give
bit-identical results.

Threshold conventions shared with the kernels (DIALS `DispersionThreshold` and
`DispersionExtendedThreshold`):

- `image` is a (ny, nx) float64 array, `mask` a (ny, nx) bool array of valid pixels.
- Window sums use only valid pixels whose value is below 2**24; windows are clipped at the
  image edge; `kernel_y`, `kernel_x` are half-sizes (3 -> 7 px).
- `gain <= 0` means "no gain given": DIALS' gain-free formulas are used (equal to gain 1
  mathematically, not bit for bit).
- `erode_from_mask` (extended only): False treats masked pixels as "not background", so they
  do not erode spots next to module gaps (DIALS since PR #2790, the algorithms.md rule);
  True treats them as background, as DIALS <= 3.2x did (e.g. the Debian DIALS 3.12 that
  made the reference results in shared/data).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

BIG = float(1 << 24)


def _prefix_sums(values: np.ndarray) -> np.ndarray:
    """(ny+1, nx+1) table: out[j, i] = sum of values[:j, :i] (rows first, then columns)."""
    table = np.zeros((values.shape[0] + 1, values.shape[1] + 1), dtype=values.dtype)
    table[1:, 1:] = np.cumsum(np.cumsum(values, axis=1), axis=0)
    return table


def _window_sum(table: np.ndarray, ky: int, kx: int) -> np.ndarray:
    """Sum over the clipped window [j-ky, j+ky] x [i-kx, i+kx] for every pixel."""
    ny, nx = table.shape[0] - 1, table.shape[1] - 1
    j = np.arange(ny)
    i = np.arange(nx)
    r0 = np.maximum(j - ky, 0)[:, None]
    r1 = (np.minimum(j + ky, ny - 1) + 1)[:, None]
    c0 = np.maximum(i - kx, 0)[None, :]
    c1 = (np.minimum(i + kx, nx - 1) + 1)[None, :]
    return ((table[r1, c1] - table[r0, c1]) - table[r1, c0]) + table[r0, c0]


def _window_stats(image, valid, ky, kx):
    use = valid & (image < BIG)
    v = np.where(use, image, 0.0)
    m = _window_sum(_prefix_sums(use.astype(np.int64)), ky, kx).astype(np.float64)
    x = _window_sum(_prefix_sums(v), ky, kx)
    y = _window_sum(_prefix_sums(v * v), ky, kx)
    return m, x, y


def _dispersion_test(m, x, y, nsig_b, gain):
    mm1 = np.maximum(m - 1.0, 0.0)
    if gain > 0:
        a = m * y - x * x
        c = gain * x * (m - 1.0 + nsig_b * np.sqrt(2.0 * mm1))
    else:
        a = m * y - x * x - x * (m - 1.0)
        c = x * nsig_b * np.sqrt(2.0 * mm1)
    return a > c


def dispersion_threshold(
    image, mask, kernel_y, kernel_x, nsig_b, nsig_s, global_threshold, min_count, gain,
    erode_from_mask,
):
    """Strong pixels by the plain `dispersion` test (one 7x7 window for everything)."""
    m, x, y = _window_stats(image, mask, kernel_y, kernel_x)
    ok = mask & (m >= min_count) & (x >= 0) & (image > global_threshold)
    disp = _dispersion_test(m, x, y, nsig_b, gain)
    b = m * image - x
    g = gain if gain > 0 else 1.0
    d = nsig_s * np.sqrt(np.maximum(g * x * m, 0.0))
    return ok & disp & (b > d)


def erode_core(not_background, kernel_y, kernel_x):
    """Pixels whose Chebyshev distance to the nearest background pixel is >= min(kernel).

    Outside the image counts as "no background". Equivalent to DIALS' two-pass Chebyshev
    distance transform followed by `distance >= min(kernel_y, kernel_x)`.
    """
    e = min(kernel_y, kernel_x)
    size = 2 * e - 1
    ok = ndimage.minimum_filter(
        not_background.astype(np.uint8), size=size, mode="constant", cval=1
    )
    return not_background & (ok == 1)


def dispersion_extended_threshold(
    image, mask, kernel_y, kernel_x, nsig_b, nsig_s, global_threshold, min_count, gain,
    erode_from_mask,
):
    """Strong pixels by `dispersion_extended` (dispersion, erosion, 11x11 background mean)."""
    m, x, y = _window_stats(image, mask, kernel_y, kernel_x)
    tested = (m >= min_count) & (x >= 0)
    not_bg = tested & _dispersion_test(m, x, y, nsig_b, gain)
    if erode_from_mask:
        not_bg &= mask
    else:
        not_bg |= ~mask
    core = erode_core(not_bg, kernel_y, kernel_x)
    background = mask & ~core
    m2, x2, _ = _window_stats(image, background, kernel_y + 2, kernel_x + 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(m2 >= 2, x2 / np.where(m2 >= 2, m2, 1.0), 0.0)
    g = gain if gain > 0 else 1.0
    bound = mean + nsig_s * np.sqrt(np.maximum(g * mean, 0.0))
    return mask & (x2 >= 0) & core & (image > global_threshold) & (image >= bound)


def label_pixels(keys, height, width, connect_z):
    """Connected components (6-connectivity) of pixels given by sorted linear keys.

    `keys` : (n,) int64, strictly increasing, key = (z * height + y) * width + x.
    Returns (n,) int64 labels numbered 0.. in order of each component's first pixel.
    `connect_z` False labels each image separately (force_2d).
    """
    n = keys.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    frame = height * width
    z = keys // frame
    y = (keys % frame) // width
    x = keys % width
    z0 = z.min()
    vol = np.zeros((z.max() - z0 + 1, height, width), dtype=bool)
    vol[z - z0, y, x] = True
    structure = ndimage.generate_binary_structure(3, 1)
    if not connect_z:
        structure[0, 1, 1] = False
        structure[2, 1, 1] = False
    lab, _ = ndimage.label(vol, structure=structure)
    raw = lab[z - z0, y, x]
    _, first = np.unique(raw, return_index=True)
    order = np.argsort(np.argsort(first))
    relabel = np.zeros(raw.max() + 1, dtype=np.int64)
    relabel[np.unique(raw)] = order
    return relabel[raw]


EXACT_LIMIT = float(1 << 51)


def fused_strong_pixels(
    image, mask, low, high, core, kernel_y, kernel_x, nsig_b, nsig_s, global_threshold,
    min_count, gain, erode_from_mask, extended,
):
    """Twin of `_fused_kernels.fused_strong_pixels`: (flat strong indices, exact).

    Valid pixels are `mask` and low <= value <= high; `core` (scratch) is unused here.
    `exact` says whether float64 summed-area tables of this image are exact (sum of
    squares of the summed pixels below 2**51).
    """
    f = np.asarray(image, dtype=np.float64)
    valid = mask & (f >= low) & (f <= high)
    summed = np.where(valid & (f < BIG), f, 0.0)
    exact = float(np.sum(summed * summed)) < EXACT_LIMIT
    fn = dispersion_extended_threshold if extended else dispersion_threshold
    strong = fn(f, valid, kernel_y, kernel_x, nsig_b, nsig_s, global_threshold, min_count,
                gain, erode_from_mask)
    return np.flatnonzero(strong), exact


def fill_shoeboxes(keys, values, pixel_offsets, bbox, panel, heights, widths, z_offset,
                   sb_offsets, data, mask, code):
    """Twin of `_fused_kernels.fill_shoeboxes` (vectorised; needs one int64 per pixel)."""
    sizes = np.diff(pixel_offsets)
    spot = np.repeat(np.arange(len(bbox)), sizes)
    pan = np.asarray(panel, dtype=np.int64)[spot]
    nx, ny = np.asarray(widths, np.int64)[pan], np.asarray(heights, np.int64)[pan]
    x = keys % nx
    y = (keys // nx) % ny
    z = keys // (nx * ny) + z_offset
    b = np.asarray(bbox, dtype=np.int64)[spot]
    q = sb_offsets[spot] + (
        ((z - b[:, 4]) * (b[:, 3] - b[:, 2]) + (y - b[:, 2])) * (b[:, 1] - b[:, 0]) + (x - b[:, 0])
    )
    data[q] = values
    mask[q] = code


__all__ = [
    "fill_shoeboxes",
    "fused_strong_pixels",
    "dispersion_threshold",
    "dispersion_extended_threshold",
    "erode_core",
    "label_pixels",
]
