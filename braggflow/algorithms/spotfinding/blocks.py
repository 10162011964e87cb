"""One pure task per block of images: read, threshold, extract strong pixels, label."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from braggflow.algorithms.spotfinding.labelling import PanelBlock, split_block_components
from braggflow.algorithms.spotfinding.params import ThresholdParams
from braggflow.algorithms.spotfinding.threshold import strong_pixel_indices
from braggflow.errors import InputDataError


@dataclass(frozen=True, slots=True)
class BlockTask:
    """Small, picklable description of one block (local sweep indices [start, stop))."""

    start: int
    stop: int
    seam_frames: tuple[int, ...]
    connect_z: bool
    threshold: ThresholdParams
    max_strong_pixel_fraction: float
    region_of_interest: tuple[int, int, int, int] | None
    excluded: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class BlockResult:
    """strong_pixels[i] counts image start+i before any rejection; rejected are indices."""

    start: int
    stop: int
    strong_pixels: np.ndarray
    rejected: tuple[int, ...]
    panels: tuple[PanelBlock, ...]
    shapes: tuple[tuple[int, int], ...]


def _strong_panel(data, valid, task: BlockTask) -> np.ndarray:
    """Flat indices (ascending) of the panel's strong pixels."""
    if task.region_of_interest is None:
        return strong_pixel_indices(data, valid, task.threshold)
    x0, x1, y0, y1 = task.region_of_interest
    sub = data[y0:y1, x0:x1]
    flat = strong_pixel_indices(sub, valid[y0:y1, x0:x1], task.threshold)
    rows, cols = np.divmod(flat, max(sub.shape[1], 1))
    return (rows + y0) * data.shape[1] + cols + x0


def _read(reader, index, static_mask):
    data, valid = reader.read(index)
    if len(data) != len(valid) or (static_mask is not None and len(static_mask) != len(data)):
        raise InputDataError(f"image {index}", "panel counts of data, mask and static mask differ")
    if static_mask is not None:
        valid = tuple(v & s for v, s in zip(valid, static_mask))
    return data, valid


def process_block(reader, task: BlockTask, static_mask) -> BlockResult:
    """Threshold every image of the block and label its strong pixels per panel."""
    pix: list[list[tuple[np.ndarray, np.ndarray]]] = []
    counts, rejected, shapes = [], [], ()
    for index in range(task.start, task.stop):
        data, valid = _read(reader, index, static_mask)
        shapes = tuple(d.shape for d in data)
        if not pix:
            pix = [[] for _ in data]
        if index in task.excluded:
            strong = [np.zeros(0, dtype=np.int64) for _ in data]
        else:
            strong = [_strong_panel(d, v, task) for d, v in zip(data, valid)]
        n_strong = sum(s.size for s in strong)
        counts.append(n_strong)
        n_pixels = sum(d.size for d in data)
        limit = math.ceil(task.max_strong_pixel_fraction * n_pixels)
        if task.max_strong_pixel_fraction < 1 and n_strong > limit:
            rejected.append(index)
            continue
        for p, (d, flat) in enumerate(zip(data, strong)):
            values = np.asarray(d).reshape(-1)[flat].astype(np.float64)
            pix[p].append((index * d.size + flat, values))
    panels = tuple(
        _label_panel(parts, shape, task) for parts, shape in zip(pix, shapes)
    )
    return BlockResult(
        task.start, task.stop, np.asarray(counts, np.int64), tuple(rejected), panels, shapes
    )


def _label_panel(parts, shape, task: BlockTask) -> PanelBlock:
    keys = np.concatenate([k for k, _ in parts]) if parts else np.zeros(0, np.int64)
    values = np.concatenate([v for _, v in parts]) if parts else np.zeros(0)
    return split_block_components(
        keys.astype(np.int64),
        values,
        shape[0],
        shape[1],
        connect_z=task.connect_z,
        seam_frames=task.seam_frames,
    )


__all__ = ["BlockTask", "BlockResult", "process_block"]
