"""One pure task per block of images: read, threshold, extract strong pixels, label."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from braggflow.algorithms.spotfinding.labelling import PanelBlock, split_block_components
from braggflow.algorithms.spotfinding.params import ThresholdParams
from braggflow.algorithms.spotfinding.threshold import strong_pixels_in_range
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
    with_pixels: bool = False


@dataclass(frozen=True, slots=True)
class BlockResult:
    """strong_pixels[i] counts image start+i before any rejection; rejected are indices."""

    start: int
    stop: int
    strong_pixels: np.ndarray
    rejected: tuple[int, ...]
    panels: tuple[PanelBlock, ...]
    shapes: tuple[tuple[int, int], ...]


ALL = (-np.inf, np.inf)


class FrameSource:
    """Reads (per-panel data, per-panel masks, per-panel trusted ranges) for the kernels.

    An `ImageSequence`-like reader (``read_checked``, ``static_mask``, ``trusted_ranges``)
    is read raw: its static mask is combined once with the user's, and the trusted range
    is tested inside the threshold kernel, so no valid mask is built per image. Any other
    reader's ``read(i)`` -> (data, valid) is used as is (trusted range: everything).
    """

    def __init__(self, reader, static_mask=None) -> None:
        self.reader = reader
        self.user_mask = static_mask
        self.fused = all(
            hasattr(reader, a) for a in ("read_checked", "static_mask", "trusted_ranges")
        )
        self.masks = None
        if self.fused:
            own = reader.static_mask()
            self._check(own, "static mask")
            if static_mask is not None:
                own = tuple(a & b for a, b in zip(own, static_mask))
            self.masks = tuple(np.ascontiguousarray(m, dtype=bool) for m in own)
            self.trusted = tuple(reader.trusted_ranges())

    def _check(self, parts, what: str) -> None:
        if self.user_mask is not None and len(self.user_mask) != len(parts):
            raise InputDataError("static mask", f"panel counts of {what} and static mask differ")

    def read(self, index: int):
        if self.fused:
            data = self.reader.read_checked(index)
            if len(data) != len(self.masks):
                raise InputDataError(f"image {index}", "panel counts of data and mask differ")
            return data, self.masks, self.trusted
        data, valid = self.reader.read(index)
        if len(data) != len(valid):
            raise InputDataError(f"image {index}", "panel counts of data, mask and static mask differ")
        self._check(data, "data")
        if self.user_mask is not None:
            valid = tuple(v & s for v, s in zip(valid, self.user_mask))
        return data, valid, (ALL,) * len(data)


def _strong_panel(data, valid, trusted, task: BlockTask, scratch: dict) -> np.ndarray:
    """Flat indices (ascending) of the panel's strong pixels."""
    if task.region_of_interest is not None:
        x0, x1, y0, y1 = task.region_of_interest
        sub = data[y0:y1, x0:x1]
        flat = strong_pixels_in_range(sub, valid[y0:y1, x0:x1], trusted, task.threshold)
        rows, cols = np.divmod(flat, max(sub.shape[1], 1))
        return (rows + y0) * data.shape[1] + cols + x0
    core = scratch.get(data.shape)
    if core is None:
        core = scratch[data.shape] = np.zeros(data.shape, dtype=bool)
    return strong_pixels_in_range(data, valid, trusted, task.threshold, core)


def process_block(source, task: BlockTask, static_mask=None) -> BlockResult:
    """Threshold every image of the block and label its strong pixels per panel.

    `source` is a `FrameSource` (or any reader, wrapped here with `static_mask`).
    """
    if not isinstance(source, FrameSource):
        source = FrameSource(source, static_mask)
    pix: list[list[tuple[np.ndarray, np.ndarray]]] = []
    counts, rejected, shapes = [], [], ()
    scratch: dict = {}
    for index in range(task.start, task.stop):
        data, valid, trusted = source.read(index)
        shapes = tuple(d.shape for d in data)
        if not pix:
            pix = [[] for _ in data]
        if index in task.excluded:
            strong = [np.zeros(0, dtype=np.int64) for _ in data]
        else:
            strong = [
                _strong_panel(d, v, t, task, scratch) for d, v, t in zip(data, valid, trusted)
            ]
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
        with_pixels=task.with_pixels,
    )


__all__ = ["BlockTask", "BlockResult", "FrameSource", "process_block"]
