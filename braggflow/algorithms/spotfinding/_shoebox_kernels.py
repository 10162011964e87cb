"""numba kernel filling the strong.refl shoebox column from the labelled spot pixels."""

from __future__ import annotations

import numpy as np

from braggflow._numba import jit


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
