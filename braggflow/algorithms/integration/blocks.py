"""Block plan and the streaming executor (algorithms.md 7.4, braggflow design).

The scan is cut into blocks of frames; a reflection belongs to the block holding its first
bbox frame, and the block's task reads on until the last frame any of its reflections needs
(so blocks overlap by at most the deepest bbox and no reflection is ever split). Inside a
task frames are read once, in order; reflections starting on a frame get fresh pixel buffers
(one ragged group per start frame), every open group receives its pixels from each frame,
and a group is integrated and freed as soon as its last frame has been read. Peak memory is
one image plus the open groups (about one bbox depth of reflections), independent of the
block and sweep length. Tasks run in joblib (loky) processes; each opens its own images.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from braggflow.algorithms.integration import _kernels
from braggflow.model.shoebox import bbox_volume

__all__ = ["ShoeboxStore", "BlockTask", "plan_blocks", "run_block", "run_tasks", "block_size_frames"]


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
        if not stores:
            return cls.allocate(np.zeros((0, 6), np.int32))
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
    mode "integrate" returns results; "extract" returns the pixels (profile-model pass);
    "reference" integrates and adds good references to profile grids, returning the grids.
    """

    imageset: Any
    zfirst: int  # array index of imageset index 0
    frames: tuple[int, int]  # [start, end) array indices to read
    rows: np.ndarray
    refl: dict[str, np.ndarray]
    geometry: Any  # shoeboxes.PanelArrays
    mode: str = "integrate"
    options: dict[str, Any] = field(default_factory=dict)


def block_size_frames(size: float | None, units: str, width_deg: float, n_frames: int, depth: int,
                      nproc: int) -> tuple[int, list[str]]:
    """Frames per block and warnings. Auto: about 4 blocks per process, >= 8 x bbox depth."""
    warnings = []
    if size is None:
        target = math.ceil(n_frames / max(4 * nproc, 1)) if nproc > 1 else n_frames
        frames = max(target, 8 * depth, 1)
    else:
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
    """(rows sorted by z0, frames to read) per block; empty blocks dropped."""
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


def _read(task: BlockTask, z: int):  # type: ignore[no-untyped-def]
    return task.imageset.read(z - task.zfirst)


def run_block(task: BlockTask) -> dict[str, Any]:
    """Stream the task's frames; see the module docstring."""
    t_start = time.perf_counter()
    t_read = 0.0
    refl = task.refl
    bbox = refl["bbox"]
    z0 = bbox[:, 4]
    n = len(bbox)
    starts = np.searchsorted(z0, np.arange(task.frames[0], task.frames[1] + 1))
    out = np.zeros((n, _kernels.N_COLS))
    flags = np.zeros(n, dtype=np.int64)
    kept: list[tuple[np.ndarray, ShoeboxStore]] = []
    grids = None
    if task.mode == "reference":
        shape = task.options["grid_shape"]
        grids = (np.zeros(shape), np.zeros(shape))
    open_groups: list[dict[str, Any]] = []
    peak = 0
    frames_read = 0
    g = task.geometry
    for k, z in enumerate(range(task.frames[0], task.frames[1])):
        lo, hi = starts[k], starts[k + 1]
        if hi > lo:  # one group per (first, last) frame: each is freed as soon as it is complete
            z1s = bbox[lo:hi, 5]
            for zend in np.unique(z1s):
                local = lo + np.nonzero(z1s == zend)[0]
                store = ShoeboxStore.allocate(bbox[local])
                panel = refl["panel"][local]
                by_panel = [np.nonzero(panel == p)[0].astype(np.int64) for p in range(len(g.trusted_max))]
                open_groups.append({"rows": local, "store": store, "by_panel": by_panel, "zend": int(zend)})
        if not open_groups:
            continue
        t0 = time.perf_counter()
        data, valid = _read(task, z)
        t_read += time.perf_counter() - t0
        frames_read += 1
        for grp in open_groups:
            s = grp["store"]
            for p, rows_p in enumerate(grp["by_panel"]):
                if len(rows_p):
                    _kernels.extract_frame(data[p], valid[p], z, g.trusted_max[p], rows_p, s.bbox, s.offsets, s.data, s.mask)
        peak = max(peak, sum(grp["store"].nbytes for grp in open_groups))
        still = []
        for grp in open_groups:
            if grp["zend"] <= z + 1:
                if task.mode == "extract":
                    kept.append((grp["rows"], grp["store"]))
                elif task.mode == "reference":
                    _process(task, grp["rows"], grp["store"], out, flags)
                    _accumulate(task, grp["rows"], grp["store"], out, flags, grids)
                else:
                    _process(task, grp["rows"], grp["store"], out, flags)
            else:
                still.append(grp)
        open_groups = still
    result: dict[str, Any] = {"rows": task.rows, "peak_bytes": peak, "frames_read": frames_read,
                              "seconds": time.perf_counter() - t_start, "read_seconds": t_read}
    if task.mode == "extract":
        result["local"] = np.concatenate([r for r, _ in kept]) if kept else np.zeros(0, np.int64)
        result["store"] = ShoeboxStore.concatenate([s for _, s in kept])
    elif task.mode == "reference":
        result["num"], result["den"] = grids
        result["out"] = out
        result["flags"] = flags
    else:
        result["out"] = out
        result["flags"] = flags
    return result


def _accumulate(task: BlockTask, rows: np.ndarray, store: ShoeboxStore, out: np.ndarray, flags: np.ndarray, grids) -> None:  # type: ignore[no-untyped-def]
    """Add the group's good references (summation OK, full, positive) to the profile grids."""
    r = task.refl
    g = task.geometry
    o = task.options
    isum = out[rows, _kernels.C_ISUM]
    good = ((flags[rows] & _kernels.F_SUM) != 0) & ((flags[rows] & _kernels.F_BG_BAD) == 0) & (isum > 0) & r["use_ref"][rows]
    scale = np.ascontiguousarray(np.where(good, isum, 0.0))
    sub = {k: np.ascontiguousarray(r[k][rows]) for k in ("panel", "e1", "e2", "targets", "weights")}
    _kernels.accumulate_reference(store.bbox, store.offsets, sub["panel"], store.data, store.mask,
                                  np.ascontiguousarray(out[rows, _kernels.C_BGMEAN]), g.origin, g.fast, g.slow,
                                  g.pixel_size, sub["e1"], sub["e2"], scale, sub["targets"], sub["weights"],
                                  o["step"], o["nsub"], grids[0], grids[1])


def _process(task: BlockTask, rows: np.ndarray, store: ShoeboxStore, out: np.ndarray, flags: np.ndarray) -> None:
    r = task.refl
    o = task.options
    g = task.geometry
    sub = {k: np.ascontiguousarray(v[rows]) for k, v in r.items()}
    _kernels.foreground_mask(store.bbox, store.offsets, sub["panel"], store.mask, g.origin, g.fast, g.slow,
                             g.pixel_size, sub["e1"], sub["e2"], sub["delta_b"])
    o_out = np.zeros((len(rows), _kernels.N_COLS))
    o_flags = np.zeros(len(rows), dtype=np.int64)
    _kernels.integrate_group(store.bbox, store.offsets, sub["panel"], store.data, store.mask, g.origin, g.fast,
                             g.slow, g.pixel_size, sub["e1"], sub["e2"], sub["phi_c"], sub["zeta"], o["sigma_m"],
                             o["scan_geom"], o["bg_opts"], o["profiles"], sub["prof_idx"], o["fit_opts"], o_out, o_flags)
    out[rows] = o_out
    flags[rows] = o_flags


def run_tasks(tasks: list[BlockTask], nproc: int, progress=None) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Run the tasks, in joblib processes when nproc > 1; results in task order."""
    if nproc <= 1 or len(tasks) <= 1:
        results = []
        for t in tasks:
            results.append(run_block(t))
            if progress is not None:
                progress(1)
        return results
    from joblib import Parallel, delayed

    results = []
    parallel = Parallel(n_jobs=min(nproc, len(tasks)), backend="loky", return_as="generator")
    for res in parallel(delayed(run_block)(t) for t in tasks):
        results.append(res)
        if progress is not None:
            progress(1)
    return results
