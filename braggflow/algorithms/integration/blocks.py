"""The streaming block executor (algorithms.md 7.4, braggflow design; the plan is `block_plan.py`).

The scan is cut into blocks of frames; a reflection belongs to the block holding its first
bbox frame. Inside a task frames are read once, in order; reflections starting on a frame get
fresh pixel buffers (one ragged group per start and end frame), every open group receives its
pixels from each frame, and a group is integrated and freed as soon as its last frame has been
read. Peak memory is one image plus the open groups (about one bbox depth of reflections),
independent of the block and sweep length.

Several blocks (`run_tasks`): block k reads from its first reflection's z0 up to at most
``e_k`` = (start of block k + 1) + ``overlap`` frames, ``overlap`` being the 95th percentile of
the bbox depths, so at most ``overlap`` frames per block boundary are decoded twice. The few
deeper reflections that run past ``e_k`` are split: their owner returns the pixels it read as a
slab (the shoebox layout is z-major, so a slab is a contiguous piece of the full buffer), each
later block whose frames [e_(j-1), e_j) they reach extracts the next slab as a "guest", and the
caller's thread joins the slabs and integrates the joined reflections (same kernels, so the
results are bit-identical whatever the blocks and nproc). Layout-independent outputs: the
extract mode returns each task's pixels in (z0, row) order, so the tasks' outputs concatenate
in one global order, and reference-profile sums are accumulated per bbox z range in
double-double and combined over the tasks once, so the profiles are bit-identical too. Every task is a pure function of its
arguments (arrays, the ImageSequence, plain options) returning numpy arrays; with nproc > 1 the
tasks run in joblib threads (the numba kernels, file reads and CBF decoding release the GIL),
and under a process or dask joblib backend they would run unchanged.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from braggflow.algorithms.integration import _kernels
from braggflow.algorithms.integration.block_plan import (  # noqa: F401 (re-exported API)
    BlockTask, ShoeboxStore, block_size_frames, plan_blocks, split_plan,
)
from braggflow.errors import StageFailed
from braggflow.model.shoebox import bbox_volume

__all__ = ["ShoeboxStore", "BlockTask", "plan_blocks", "run_block", "run_tasks", "block_size_frames",
           "split_plan"]

PHASES = ("read", "extract", "process", "accumulate")


def _read(task: BlockTask, z: int):  # type: ignore[no-untyped-def]
    return task.imageset.read(z - task.zfirst)


def run_block(task: BlockTask) -> dict[str, Any]:
    """Stream the task's frames; see the module docstring.

    Returns numpy arrays only: ``out`` (n, N_COLS) and ``flags`` of the owned rows (zero
    where split), or ``local``/``store`` (extract mode), ``num``/``den`` (reference mode);
    ``partial_rows`` (global rows) and ``partial_store`` (slabs, bbox z cut to the frames
    read); bookkeeping ``peak_bytes``, ``frames_read``, ``seconds``, ``read_seconds`` and
    ``phases`` (seconds per phase)."""
    t_start = time.perf_counter()
    ph = dict.fromkeys(PHASES, 0.0)
    refl = task.refl
    own = np.ascontiguousarray(refl["bbox"], dtype=np.int32)
    n = len(own)
    f0, f1 = task.frames
    ebox = own.copy()
    np.minimum(ebox[:, 5], f1, out=ebox[:, 5])
    kind = (own[:, 5] > f1).astype(np.int64)  # 0 complete, 1 owned but cut at f1, 2 guest
    panel = np.asarray(refl["panel"], dtype=np.int64)
    if task.guest_rows is not None and len(task.guest_rows):
        ebox = np.concatenate([ebox, np.asarray(task.guest_bbox, dtype=np.int32)])
        kind = np.concatenate([kind, np.full(len(task.guest_rows), 2, dtype=np.int64)])
        panel = np.concatenate([panel, np.asarray(task.guest_panel, dtype=np.int64)])
    rows = np.asarray(task.rows)
    extracted = None
    if task.mode == "extract":
        # the output, in (z0, row) order so that the tasks' outputs concatenate in one order
        # whatever the blocks; owned pixels (cut ones too) are copied in as groups complete
        canon = np.lexsort((rows, own[:, 4]))
        extracted = ShoeboxStore.allocate(own[canon])
        slot = np.empty(n, dtype=np.int64)
        slot[canon] = np.arange(n)
    order = np.lexsort((ebox[:, 5], ebox[:, 4]))
    starts = np.searchsorted(ebox[order, 4], np.arange(f0, f1 + 1))
    out = np.zeros((n, _kernels.N_COLS))
    flags = np.zeros(n, dtype=np.int64)
    slabs: list[tuple[np.ndarray, ShoeboxStore]] = []
    grids = _new_grids(task.options["grid_shape"]) if task.mode == "reference" else None
    open_groups: list[tuple[int, np.ndarray, ShoeboxStore, list[np.ndarray], bool]] = []
    open_bytes = 0
    peak = 0
    frames_read = 0
    g = task.geometry
    n_panels = len(g.trusted_max)
    for k, z in enumerate(range(f0, f1)):
        lo, hi = starts[k], starts[k + 1]
        if hi > lo:  # one group per (last frame, kind): each is freed as soon as it is complete
            ids = order[lo:hi]
            key = ebox[ids, 5].astype(np.int64) * 4 + kind[ids]
            for kv in np.unique(key):
                members = ids[key == kv]
                store = ShoeboxStore.allocate(ebox[members])
                pm = panel[members]
                by_panel = [np.nonzero(pm == p)[0].astype(np.int64) for p in range(n_panels)]
                open_groups.append((int(kv // 4), members, store, by_panel, int(kv % 4)))
                open_bytes += store.nbytes
        if not open_groups:
            continue
        t0 = time.perf_counter()
        data, valid = _read(task, z)
        t1 = time.perf_counter()
        ph["read"] += t1 - t0
        frames_read += 1
        for _, _, s, by_panel, _ in open_groups:
            for p, rows_p in enumerate(by_panel):
                if len(rows_p):
                    _kernels.extract_frame(data[p], valid[p], z, g.trusted_max[p], rows_p, s.bbox, s.offsets,
                                           s.data, s.mask)
        ph["extract"] += time.perf_counter() - t1
        peak = max(peak, open_bytes)
        still = []
        for grp in open_groups:
            zend, members, store, _, group_kind = grp
            if zend > z + 1:
                still.append(grp)
                continue
            open_bytes -= store.nbytes
            if extracted is not None and group_kind < 2:
                _copy_slabs(store, extracted, slot[members], ebox[members, 4] - own[members, 4])
            elif group_kind > 0:
                slabs.append((members, store))
            else:
                t2 = time.perf_counter()
                _process(task, members, store, out, flags)
                t3 = time.perf_counter()
                ph["process"] += t3 - t2
                if task.mode == "reference":
                    _accumulate(task, members, store, out, flags, grids)
                    ph["accumulate"] += time.perf_counter() - t3
        open_groups = still
    all_rows = rows if task.guest_rows is None else np.concatenate([rows, np.asarray(task.guest_rows)])
    slab_ids = np.concatenate([m for m, _ in slabs]) if slabs else np.zeros(0, np.int64)
    result: dict[str, Any] = {"rows": task.rows, "peak_bytes": peak, "frames_read": frames_read,
                              "partial_rows": all_rows[slab_ids],
                              "partial_store": ShoeboxStore.concatenate([s for _, s in slabs])}
    if extracted is not None:
        result["local"], result["store"] = canon, extracted
    else:
        result["out"] = out
        result["flags"] = flags
        if task.mode == "reference":
            result.update(grids)
    result["seconds"] = time.perf_counter() - t_start
    result["read_seconds"] = ph["read"]
    result["phases"] = ph
    return result


def _copy_slabs(src: ShoeboxStore, dst: ShoeboxStore, positions: np.ndarray, dz: np.ndarray) -> None:
    """Copy each reflection i of ``src`` into reflection positions[i] of ``dst``, starting
    dz[i] frames into it (a slab is a z-major piece of the full shoebox)."""
    for i, (pos, shift) in enumerate(zip(positions, dz)):
        b = dst.bbox[pos]
        start = dst.offsets[pos] + int(shift) * int(b[1] - b[0]) * int(b[3] - b[2])
        lo, hi = src.offsets[i], src.offsets[i + 1]
        dst.data[start:start + hi - lo] = src.data[lo:hi]
        dst.mask[start:start + hi - lo] = src.mask[lo:hi]


def _new_grids(shape) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """Reference-profile sums as double-double pairs (value, low-order correction)."""
    return {k: np.zeros(shape) for k in ("num", "num_lo", "den", "den_lo")}


def _two_sum_into(hi: np.ndarray, lo: np.ndarray, idx, add: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    """hi[idx] + lo[idx] += add, keeping the rounding error of hi in lo (Knuth's TwoSum), so
    the total does not depend on the order or grouping of the additions (to ~1e-32)."""
    h = hi[idx]
    s = h + add
    bp = s - h
    lo[idx] += (h - (s - bp)) + (add - bp)
    hi[idx] = s


def _accumulate(task: BlockTask, rows: np.ndarray, store: ShoeboxStore, out: np.ndarray, flags: np.ndarray, grids) -> None:  # type: ignore[no-untyped-def]
    """Add the group's good references (summation OK, full, positive) to the profile grids.

    The group's sums go to a fresh grid of the profiles it touches and then into the task's
    double-double grids: groups are the same whatever the blocks (all reflections with one
    bbox z range, in row order), so the final grids are bit-identical for any nproc."""
    r = task.refl
    g = task.geometry
    o = task.options
    isum = out[rows, _kernels.C_ISUM]
    good = ((flags[rows] & _kernels.F_SUM) != 0) & ((flags[rows] & _kernels.F_BG_BAD) == 0) & (isum > 0) & r["use_ref"][rows]
    if not np.any(good):
        return
    scale = np.ascontiguousarray(np.where(good, isum, 0.0))
    sub = {k: np.ascontiguousarray(r[k][rows]) for k in ("panel", "e1", "e2", "targets", "weights")}
    targets = sub["targets"]
    touched = np.unique(targets[good][targets[good] >= 0])
    if len(touched) == 0:
        return
    local = np.where(targets >= 0, np.minimum(np.searchsorted(touched, targets), len(touched) - 1), -1)
    G = grids["num"].shape[1:]
    num, den = np.zeros((len(touched), *G)), np.zeros((len(touched), *G))
    _kernels.accumulate_reference(store.bbox, store.offsets, sub["panel"], store.data, store.mask,
                                  np.ascontiguousarray(out[rows, _kernels.C_BGMEAN]), g.origin, g.fast, g.slow,
                                  g.pixel_size, sub["e1"], sub["e2"], scale, np.ascontiguousarray(local, dtype=np.int64),
                                  sub["weights"], o["step"], o["nsub"], num, den)
    _two_sum_into(grids["num"], grids["num_lo"], touched, num)
    _two_sum_into(grids["den"], grids["den_lo"], touched, den)


def _process(task: BlockTask, rows: np.ndarray, store: ShoeboxStore, out: np.ndarray, flags: np.ndarray) -> None:
    r = task.refl
    o = task.options
    g = task.geometry
    sub = {k: np.ascontiguousarray(v[rows]) for k, v in r.items()}
    _kernels.foreground_mask(store.bbox, store.offsets, sub["panel"], store.mask, g.origin, g.fast, g.slow,
                             g.pixel_size, sub["e1"], sub["e2"], sub["delta_b"])
    if "nb_bbox" in sub:  # neighbours' foregrounds (overlaps.neighbour_arrays): Overlapped bit
        from braggflow.algorithms.integration._kernels_overlap import mark_overlaps

        mark_overlaps(store.bbox, store.offsets, sub["panel"], store.mask, g.origin, g.fast, g.slow, g.pixel_size,
                      sub["nb_bbox"], sub["nb_e1"], sub["nb_e2"], sub["nb_delta_b"])
    o_out = np.zeros((len(rows), _kernels.N_COLS))
    o_flags = np.zeros(len(rows), dtype=np.int64)
    _kernels.integrate_group(store.bbox, store.offsets, sub["panel"], store.data, store.mask, g.origin, g.fast,
                             g.slow, g.pixel_size, sub["e1"], sub["e2"], sub["phi_c"], sub["zeta"], o["sigma_m"],
                             o["scan_geom"], o["bg_opts"], o["profiles"], sub["prof_idx"], o["fit_opts"], o_out, o_flags)
    out[rows] = o_out
    flags[rows] = o_flags


class _Joiner:
    """Joins the slabs of split reflections as block results arrive (in task order) and
    finishes each reflection, in the owner's result, once its last slab is in (extract mode:
    the slabs go straight into the owner's output store)."""

    def __init__(self, tasks: list[BlockTask], split: dict[str, np.ndarray]) -> None:
        self.tasks = tasks
        self.split = split
        self.index = {int(r): q for q, r in enumerate(split["rows"])}
        self.pending = set(range(len(split["rows"])))
        self.open: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.slot: dict[int, np.ndarray] = {}
        self.open_bytes = 0
        self.peak_bytes = 0
        self.seconds = 0.0
        self.joined = 0

    def add(self, res: dict[str, Any], results: list[dict[str, Any]]) -> None:
        t0 = time.perf_counter()
        st: ShoeboxStore = res.pop("partial_store")
        rows = res.pop("partial_rows")
        fbox, owner, local = self.split["bbox"], self.split["owner"], self.split["local"]
        q_all = np.array([self.index[int(r)] for r in rows], dtype=np.int64)
        done = q_all[st.bbox[:, 5] == fbox[q_all, 5]]
        if self.tasks[0].mode == "extract":
            for k in np.unique(owner[q_all]):
                if int(k) not in self.slot:
                    inverse = np.empty(len(results[k]["local"]), dtype=np.int64)
                    inverse[results[k]["local"]] = np.arange(len(inverse))
                    self.slot[int(k)] = inverse
                sel = np.nonzero(owner[q_all] == k)[0]
                sub = _select(st, sel)
                _copy_slabs(sub, results[k]["store"], self.slot[int(k)][local[q_all[sel]]],
                            st.bbox[sel, 4] - fbox[q_all[sel], 4])
            self._close(done)
            self.seconds += time.perf_counter() - t0
            return
        for i, q in enumerate(q_all):
            b = fbox[q]
            wh = int(b[1] - b[0]) * int(b[3] - b[2])
            if q not in self.open:
                size = wh * int(b[5] - b[4])
                self.open[q] = (np.zeros(size, np.float32), np.zeros(size, np.int32))
                self.open_bytes += size * 8
            d, m = self.open[q]
            lo, hi = st.offsets[i], st.offsets[i + 1]
            off = (int(st.bbox[i, 4]) - int(b[4])) * wh
            d[off:off + hi - lo] = st.data[lo:hi]
            m[off:off + hi - lo] = st.mask[lo:hi]
        self.peak_bytes = max(self.peak_bytes, self.open_bytes)
        for k in np.unique(owner[done]):
            qa = done[owner[done] == k]
            box = fbox[qa]
            # canonical groups: one per bbox z range, rows in the owner's order (as in run_block)
            qa = qa[np.lexsort((local[qa], box[:, 5], box[:, 4]))]
            box = fbox[qa]
            cut = np.nonzero((np.diff(box[:, 4]) != 0) | (np.diff(box[:, 5]) != 0))[0] + 1
            for part in np.split(qa, cut):
                bufs = [self.open.pop(int(q)) for q in part]
                self.open_bytes -= sum(b[0].nbytes * 2 for b in bufs)
                gbox = np.ascontiguousarray(fbox[part])
                offsets = np.zeros(len(part) + 1, dtype=np.int64)
                np.cumsum(bbox_volume(gbox), out=offsets[1:])
                store = ShoeboxStore(gbox, offsets, np.concatenate([b[0] for b in bufs]),
                                     np.concatenate([b[1] for b in bufs]))
                _finish(self.tasks[int(k)], results[int(k)], local[part], store)
        self._close(done)
        self.seconds += time.perf_counter() - t0

    def _close(self, done: np.ndarray) -> None:
        self.pending.difference_update(int(q) for q in done)
        self.joined += len(done)


def _select(store: ShoeboxStore, sel: np.ndarray) -> ShoeboxStore:
    """Reflections ``sel`` of a store (a copy)."""
    sizes = np.diff(store.offsets)[sel]
    offsets = np.zeros(len(sel) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    idx = np.repeat(store.offsets[:-1][sel] - offsets[:-1], sizes) + np.arange(int(offsets[-1]))
    return ShoeboxStore(store.bbox[sel], offsets, store.data[idx], store.mask[idx])


def _finish(task: BlockTask, result: dict[str, Any], local: np.ndarray, store: ShoeboxStore) -> None:
    """What run_block does with a completed group, for joined reflections of ``task``."""
    _process(task, local, store, result["out"], result["flags"])
    if task.mode == "reference":
        _accumulate(task, local, store, result["out"], result["flags"], result)


def _combine_grids(results: list[dict[str, Any]]) -> None:
    """Reference mode: the total grids (double-double sum over the tasks, rounded once, so
    independent of the block layout) in the first result, zeros in the others."""
    tot = _new_grids(results[0]["num"].shape)
    every = slice(None)
    for r in results:
        for key in ("num", "den"):
            _two_sum_into(tot[key], tot[key + "_lo"], every, r.pop(key))
            _two_sum_into(tot[key], tot[key + "_lo"], every, r.pop(key + "_lo"))
    for i, r in enumerate(results):
        for key in ("num", "den"):
            r[key] = tot[key] + tot[key + "_lo"] if i == 0 else np.zeros_like(tot[key])


def run_tasks(tasks: list[BlockTask], nproc: int, progress=None) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Run the tasks (joblib threads when nproc > 1); results in task order, with the split
    reflections joined and finished in their owner's result."""
    tasks, split = split_plan(list(tasks))
    joiner = _Joiner(tasks, split) if split is not None else None
    results: list[dict[str, Any]] = []
    if nproc <= 1 or len(tasks) <= 1:
        stream = (run_block(t) for t in tasks)
    else:
        from joblib import Parallel, delayed

        static = getattr(tasks[0].imageset, "static_mask", None)
        if callable(static):
            static()  # fill the reader's cache once, before the threads share it
        parallel = Parallel(n_jobs=min(nproc, len(tasks)), prefer="threads", return_as="generator")
        stream = parallel(delayed(run_block)(t) for t in tasks)
    for res in stream:
        results.append(res)
        if joiner is not None:
            joiner.add(res, results)
        else:
            res.pop("partial_store", None)
            res.pop("partial_rows", None)
        if progress is not None:
            progress(1)
    if results and tasks[0].mode == "reference":
        _combine_grids(results)
    if joiner is not None:
        if joiner.pending:
            raise StageFailed(f"integration blocks: {len(joiner.pending)} split reflections never received their last "
                              "frames (a bug); rerun with integration.block.size larger than the scan")
        for res in results:
            res["join_peak_bytes"] = joiner.peak_bytes
        results[-1]["phases"]["join"] = joiner.seconds
        results[-1]["joined"] = joiner.joined
    return results
