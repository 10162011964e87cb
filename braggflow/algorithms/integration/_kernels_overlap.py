"""numba kernels for overlapping reflections (algorithms.md 7.3): which bounding boxes can
see another reflection's foreground, and the Overlapped mask bit (numpy twins in
`_reference.py`)."""

from __future__ import annotations

import numpy as np

from braggflow._numba import jit
from braggflow.algorithms.integration._constants import FOREGROUND, OVERLAPPED
from braggflow.algorithms.integration._kernels import _corner_kabsch


@jit
def _keep_nearest(dist, slots, s, d):
    """Put candidate s at distance d into the farthest slot if nearer; True if a candidate
    (s or the one it replaced) was dropped."""
    worst = 0
    for q in range(1, slots.shape[0]):
        if dist[q] > dist[worst]:
            worst = q
    if d >= dist[worst]:
        return True
    dropped = slots[worst] >= 0
    dist[worst] = d
    slots[worst] = s
    return dropped


@jit
def bbox_neighbours(bbox, core, panel, order, band_start, band_h, out):
    """For each reflection r, up to out.shape[1] other reflections s on the same panel whose
    ``core`` box (n, 6; a box holding s's foreground) intersects r's bbox in x, y and z
    (nearest core centres first); -1 pads.

    ``order`` sorts the rows by (core y0 // band_h, core x0); ``band_start`` (n_bands + 1)
    indexes the first sorted row of each band. Returns the number of reflections that had
    more candidates than fit (the nearest were kept).
    """
    n = bbox.shape[0]
    out[:] = -1
    dist = np.full(out.shape, np.inf)
    wmax = 0
    hmax = 0
    for r in range(n):
        wmax = max(wmax, core[r, 1] - core[r, 0])
        hmax = max(hmax, core[r, 3] - core[r, 2])
    xs = np.empty(n, dtype=np.int64)
    for k in range(n):
        xs[k] = core[order[k], 0]
    n_bands = band_start.shape[0] - 1
    ymin = core[order[0], 2] if n else 0
    for r in range(n):
        ymin = min(ymin, core[r, 2])
    dropped = 0
    for r in range(n):
        if bbox[r, 1] <= bbox[r, 0]:
            continue
        cx = 0.5 * (bbox[r, 0] + bbox[r, 1])
        cy = 0.5 * (bbox[r, 2] + bbox[r, 3])
        cz = 0.5 * (bbox[r, 4] + bbox[r, 5])
        b0 = max((bbox[r, 2] - hmax - ymin) // band_h, 0)
        b1 = min((bbox[r, 3] - ymin) // band_h, n_bands - 1)
        full = False
        for b in range(b0, b1 + 1):
            lo, hi = band_start[b], band_start[b + 1]
            k = lo + np.searchsorted(xs[lo:hi], bbox[r, 0] - wmax)
            while k < hi and xs[k] < bbox[r, 1]:
                s = order[k]
                k += 1
                if s == r or panel[s] != panel[r] or core[s, 1] <= core[s, 0]:
                    continue
                if core[s, 1] <= bbox[r, 0] or core[s, 3] <= bbox[r, 2] or core[s, 2] >= bbox[r, 3]:
                    continue
                if core[s, 5] <= bbox[r, 4] or core[s, 4] >= bbox[r, 5]:
                    continue
                d = (abs(0.5 * (core[s, 0] + core[s, 1]) - cx) + abs(0.5 * (core[s, 2] + core[s, 3]) - cy)
                     + abs(0.5 * (core[s, 4] + core[s, 5]) - cz))
                full |= _keep_nearest(dist[r], out[r], s, d)
        if full:
            dropped += 1
    return dropped


@jit
def mark_overlaps(bbox, offsets, panel, mask, pan_o, pan_f, pan_s, pan_px, nb_bbox, nb_e1, nb_e2, nb_delta_b):
    """Set OVERLAPPED on every pixel of each shoebox that lies in a neighbour's foreground:
    the neighbour's own rule (min over the pixel's four corners of (c1^2 + c2^2) in the
    neighbour's Kabsch frame <= delta_b^2) on the frames both bboxes cover.

    nb_bbox (n, K, 6) int32, nb_e1 / nb_e2 (n, K, 3), nb_delta_b (n, K); a neighbour with an
    empty nb_bbox (z1 <= z0) is unused. Neighbours are on the reflection's own panel.
    Returns the number of (reflection, neighbour) pairs whose foreground reached the shoebox.
    """
    n_pairs = 0
    for r in range(bbox.shape[0]):
        lo = offsets[r]
        if offsets[r + 1] == lo:
            continue
        x0, x1, y0, y1, z0, z1 = bbox[r, 0], bbox[r, 1], bbox[r, 2], bbox[r, 3], bbox[r, 4], bbox[r, 5]
        w, h = x1 - x0, y1 - y0
        p = panel[r]
        for q in range(nb_bbox.shape[1]):
            b = nb_bbox[r, q]
            if b[5] <= b[4]:
                continue
            xa, xb = max(x0, b[0]), min(x1, b[1])
            ya, yb = max(y0, b[2]), min(y1, b[3])
            za, zb = max(z0, b[4]), min(z1, b[5])
            if xa >= xb or ya >= yb or za >= zb:
                continue
            c = np.empty((yb - ya + 1, xb - xa + 1, 2))
            _corner_kabsch(xa, ya, xb - xa, yb - ya, pan_o[p], pan_f[p], pan_s[p], pan_px[p], nb_e1[r, q],
                           nb_e2[r, q], c)
            d2 = nb_delta_b[r, q] * nb_delta_b[r, q]
            hit = False
            for j in range(yb - ya):
                for i in range(xb - xa):
                    best = 1e300
                    for dj in range(2):
                        for di in range(2):
                            v = c[j + dj, i + di, 0] ** 2 + c[j + dj, i + di, 1] ** 2
                            if v < best:
                                best = v
                    if best > d2:
                        continue
                    hit = True
                    for z in range(za, zb):
                        idx = lo + ((z - z0) * h + (j + ya - y0)) * w + (i + xa - x0)
                        mask[idx] |= OVERLAPPED
            if hit:
                n_pairs += 1
    return n_pairs


@jit
def overlap_flags(offsets, mask, out):
    """out[r, 0] / out[r, 1]: overlapped foreground / background pixels of each shoebox."""
    for r in range(offsets.shape[0] - 1):
        nf = 0
        nb = 0
        for k in range(offsets[r], offsets[r + 1]):
            m = mask[k]
            if m & OVERLAPPED:
                if m & FOREGROUND:
                    nf += 1
                else:
                    nb += 1
        out[r, 0] = nf
        out[r, 1] = nb
