"""numba kernel for 6-connected labelling of strong pixels (`_reference.label_pixels` twin)."""

from __future__ import annotations

import numpy as np

from braggflow._numba import jit


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


__all__ = ["label_pixels"]
