"""Overlapping reflections (algorithms.md 7.3): for every reflection, the neighbours whose
foreground can reach its shoebox, as fixed-width per-reflection arrays that travel with the
other per-reflection arrays into the block tasks (where `_kernels_overlap.mark_overlaps`
sets the Overlapped mask bit after the foreground mask)."""

from __future__ import annotations

import numpy as np

from braggflow.algorithms.integration._kernels_overlap import bbox_neighbours

__all__ = ["MAX_NEIGHBOURS", "band_order", "foreground_boxes", "neighbour_arrays"]

MAX_NEIGHBOURS = 6
BAND_PX = 32  # neighbour search: rows sorted by (core y0 // BAND_PX, core x0)


def band_order(core: np.ndarray, band_px: int = BAND_PX) -> tuple[np.ndarray, np.ndarray]:
    """(order, band_start) for `bbox_neighbours`: rows sorted by (y band, x0) and the first
    sorted row of each band (bands counted from the smallest core y0)."""
    if len(core) == 0:
        return np.zeros(0, np.int64), np.zeros(1, np.int64)
    band = (core[:, 2] - core[:, 2].min()) // band_px
    order = np.lexsort((core[:, 0], band)).astype(np.int64)
    band_start = np.searchsorted(band[order], np.arange(int(band.max()) + 2)).astype(np.int64)
    return order, band_start


def foreground_boxes(fg_bbox: np.ndarray, bbox: np.ndarray) -> np.ndarray:
    """Boxes holding each foreground: ``fg_bbox`` (compute_bbox with multiplier 1, the box of
    the +-delta_b Kabsch square) grown by one pixel (the pixel-corner rule), z from ``bbox``."""
    core = np.array(fg_bbox, dtype=np.int32, copy=True)
    core[:, 0] -= 1
    core[:, 2] -= 1
    core[:, 1] += 1
    core[:, 3] += 1
    core[:, 4:6] = bbox[:, 4:6]
    return core


def neighbour_arrays(bbox: np.ndarray, core: np.ndarray, panel: np.ndarray, e1: np.ndarray, e2: np.ndarray,
                     delta_b: np.ndarray, rows: np.ndarray, k: int = MAX_NEIGHBOURS) -> tuple[dict[str, np.ndarray], int]:
    """Per-reflection neighbour arrays (n, k, ...) for the rows to integrate: nb_bbox (empty box
    = unused slot), nb_e1, nb_e2, nb_delta_b; and the count of reflections with more than k
    neighbours (the nearest k are kept)."""
    n = len(bbox)
    nb = np.full((n, k), -1, dtype=np.int64)
    dropped = 0
    if len(rows):
        sub_bbox = np.ascontiguousarray(bbox[rows], dtype=np.int64)
        sub_core = np.ascontiguousarray(core[rows], dtype=np.int64)
        order, band_start = band_order(sub_core)
        local = np.full((len(rows), k), -1, dtype=np.int64)
        dropped = int(bbox_neighbours(sub_bbox, sub_core, np.ascontiguousarray(panel[rows], dtype=np.int64), order,
                                      band_start, BAND_PX, local))
        nb[rows] = np.where(local >= 0, rows[np.maximum(local, 0)], -1)
    used = nb >= 0
    safe = np.maximum(nb, 0)
    nb_bbox = np.where(used[..., None], bbox[safe], 0).astype(np.int32)
    arrays = {
        "nb_bbox": np.ascontiguousarray(nb_bbox),
        "nb_e1": np.ascontiguousarray(np.where(used[..., None], e1[safe], 0.0), dtype=np.float32),
        "nb_e2": np.ascontiguousarray(np.where(used[..., None], e2[safe], 0.0), dtype=np.float32),
        "nb_delta_b": np.ascontiguousarray(np.where(used, delta_b[safe], 0.0)),
    }
    return arrays, dropped
