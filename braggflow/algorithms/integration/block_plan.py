"""Integration block plan: the shoebox store, the task description, block sizes and the
split of deep reflections between blocks (the executor is `blocks.py`; see its docstring)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from braggflow.model.shoebox import bbox_volume

__all__ = ["ShoeboxStore", "BlockTask", "block_size_frames", "plan_blocks", "split_plan"]

OVERLAP_PERCENTILE = 95.0
REDECODE_FRACTION = 0.1  # auto blocks: frames decoded twice / frames in the scan, at most


@dataclass
class ShoeboxStore:
    """Ragged pixels of a set of reflections (local row order)."""

    bbox: np.ndarray  # (n, 6) int32
    offsets: np.ndarray  # (n + 1,) int64
    data: np.ndarray  # float32
    mask: np.ndarray  # int32

    @classmethod
    def allocate(cls, bbox: np.ndarray) -> "ShoeboxStore":
        bbox = np.ascontiguousarray(bbox, dtype=np.int32)
        sizes = bbox_volume(bbox)
        offsets = np.zeros(len(bbox) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        n = int(offsets[-1])
        return cls(bbox, offsets, np.zeros(n, dtype=np.float32), np.zeros(n, dtype=np.int32))

    @property
    def nbytes(self) -> int:
        return self.data.nbytes + self.mask.nbytes + self.offsets.nbytes + self.bbox.nbytes

    @classmethod
    def concatenate(cls, stores: list["ShoeboxStore"]) -> "ShoeboxStore":
        stores = [s for s in stores if len(s.bbox)]
        if not stores:
            return cls.allocate(np.zeros((0, 6), np.int32))
        if len(stores) == 1:
            return stores[0]
        sizes = np.concatenate([np.diff(s.offsets) for s in stores])
        offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        return cls(np.concatenate([s.bbox for s in stores]), offsets,
                   np.concatenate([s.data for s in stores]), np.concatenate([s.mask for s in stores]))


@dataclass
class BlockTask:
    """Everything one worker needs (picklable: arrays, the ImageSequence, plain options).

    rows are global row numbers of the reflections owned (sorted by bbox z0); refl holds their
    per-reflection arrays (bbox, panel, e1, e2, phi_c, zeta, delta_b) in the same order.
    frames = [start, end) array indices to read; an owned reflection whose bbox ends after
    ``end`` is returned as a partial slab. Guests (set by `split_plan`) are reflections owned
    by an earlier block: this block only extracts their pixels in ``guest_bbox`` (their bbox
    with z cut to this block's share) and returns them.
    mode "integrate" returns results; "extract" returns the pixels (profile-model pass);
    "reference" integrates and adds good references to profile grids, returning the grids.
    """

    imageset: Any
    zfirst: int  # array index of imageset index 0
    frames: tuple[int, int]
    rows: np.ndarray
    refl: dict[str, np.ndarray]
    geometry: Any  # shoeboxes.PanelArrays
    mode: str = "integrate"
    options: dict[str, Any] = field(default_factory=dict)
    guest_rows: np.ndarray | None = None
    guest_bbox: np.ndarray | None = None
    guest_panel: np.ndarray | None = None


def block_size_frames(size: float | None, units: str, width_deg: float, n_frames: int, depth: int,
                      nproc: int) -> tuple[int, list[str]]:
    """Frames per block and warnings.

    Auto: one block at nproc 1; else k * nproc blocks of equal length for the largest k in
    (4, 3, 2) such that a block is at least 2 x ``depth`` long and the frames decoded twice
    (up to ``depth``, the 95th-percentile bbox depth, per block boundary) stay under 10 % of
    the scan; else one block per process. More blocks balance the threads better.
    """
    warnings = []
    if size is None:
        if nproc <= 1:
            return max(n_frames, 1), warnings
        depth = max(int(depth), 1)
        frames = math.ceil(n_frames / nproc)
        for k in (4, 3, 2):
            f = math.ceil(n_frames / (k * nproc))
            if f >= 2 * depth and (k * nproc - 1) * depth <= REDECODE_FRACTION * n_frames:
                frames = f
                break
        return max(min(frames, n_frames), 1), warnings
    if units == "frames":
        frames = int(math.ceil(size))
    else:
        deg = size if units == "degrees" else math.degrees(size)
        frames = int(math.ceil(deg / abs(width_deg)))
    frames = max(frames, 1)
    if frames > n_frames:
        warnings.append(f"integration.block.size = {size:g} {units} is larger than the scan "
                        f"({n_frames} frames); using one block of the whole scan")
    return min(frames, n_frames), warnings


def plan_blocks(z0: np.ndarray, z1: np.ndarray, array_range: tuple[int, int], frames_per_block: int) -> list[tuple[np.ndarray, tuple[int, int]]]:
    """(rows sorted by z0, frames they span) per block; empty blocks dropped.

    A block owns the reflections whose z0 falls in its frame range; the span is
    [min z0, max z1) of those rows (`split_plan` later trims the end when the tasks run
    together)."""
    a0, a1 = array_range
    order = np.argsort(z0, kind="stable")
    zs = z0[order]
    plans = []
    for start in range(a0, a1, frames_per_block):
        lo, hi = np.searchsorted(zs, [start, start + frames_per_block])
        if start == a0:
            lo = 0
        if start + frames_per_block >= a1:
            hi = len(zs)
        rows = order[lo:hi]
        if len(rows) == 0:
            continue
        plans.append((rows, (int(z0[rows].min()), int(z1[rows].max()))))
    return plans


def split_plan(tasks: list[BlockTask], overlap: int | None = None) -> tuple[list[BlockTask], dict[str, np.ndarray] | None]:
    """Trim each task's frames to ``e_k`` and hand the frames of deeper reflections to later
    blocks as guests (module docstring). Returns the new tasks and the split reflections
    (owner task, local row, global row, full bbox), or the tasks unchanged and None when
    there is a single task or the tasks are not in frame order."""
    if len(tasks) < 2:
        return tasks, None
    starts = [t.frames[0] for t in tasks]
    if any(b < a for a, b in zip(starts[:-1], starts[1:])) or any(t.guest_rows is not None for t in tasks):
        return tasks, None
    if overlap is None:
        depth = np.concatenate([t.refl["bbox"][:, 5] - t.refl["bbox"][:, 4] for t in tasks])
        overlap = int(math.ceil(np.percentile(depth, OVERLAP_PERCENTILE))) if len(depth) else 0
    end = max(t.frames[1] for t in tasks)
    ends = [min(s + overlap, end) for s in starts[1:]] + [end]
    owner, local, grow, fbox, panel = [], [], [], [], []
    for k, t in enumerate(tasks):
        sp = np.nonzero(t.refl["bbox"][:, 5] > ends[k])[0]
        owner.append(np.full(len(sp), k, dtype=np.int64))
        local.append(sp)
        grow.append(np.asarray(t.rows)[sp])
        fbox.append(t.refl["bbox"][sp])
        panel.append(np.asarray(t.refl["panel"])[sp])
    split = {"owner": np.concatenate(owner), "local": np.concatenate(local), "rows": np.concatenate(grow),
             "bbox": np.concatenate(fbox).astype(np.int32).reshape(-1, 6), "panel": np.concatenate(panel)}
    out = []
    for k, t in enumerate(tasks):
        own_end = int(np.minimum(t.refl["bbox"][:, 5], ends[k]).max()) if len(t.rows) else t.frames[0]
        read_end = own_end
        g_rows = g_box = g_panel = None
        if k > 0 and ends[k] > ends[k - 1]:
            g = np.nonzero((split["owner"] < k) & (split["bbox"][:, 5] > ends[k - 1]))[0]
            if len(g):
                g_box = split["bbox"][g].copy()
                g_box[:, 4] = ends[k - 1]
                np.minimum(g_box[:, 5], ends[k], out=g_box[:, 5])
                g_rows, g_panel = split["rows"][g], split["panel"][g]
                read_end = max(read_end, int(g_box[:, 5].max()))
        out.append(replace(t, frames=(t.frames[0], read_end), guest_rows=g_rows, guest_bbox=g_box, guest_panel=g_panel))
    return out, split
