"""The streaming passes over the images (algorithms.md 7.4): shoebox extraction for the
profile model, reference-profile learning and the main integration pass, all as block tasks
run by `blocks.run_tasks`."""

from __future__ import annotations

import math

import numpy as np

from braggflow.algorithms.integration import _kernels
from braggflow.algorithms.integration._context import IntegrationContext
from braggflow.algorithms.integration.background import background_options
from braggflow.algorithms.integration.blocks import BlockTask, ShoeboxStore, block_size_frames, plan_blocks, run_tasks
from braggflow.algorithms.integration.profile_fitting import (
    NSUB, finalize_profiles, make_reference_grid, oversample_for, profile_weights)
from braggflow.algorithms.integration.references import choose_reference_subset
from braggflow.algorithms.integration.shoeboxes import compute_bbox, nonempty, partiality
from braggflow.model import Experiment

# profile fitting fails when the fitted pixels hold less than this fraction of the modelled
# spot (Sum p): below it prf extrapolates from tails (centred off the scan: I -> 1e17)
PRF_MIN_FRACTION = 0.25
# reference reflections: fully recorded (DIALS: partiality > 0.99) or partials recording at
# least this fraction of the rocking curve, weighted by their partiality (the (c1, c2) shape
# of a partial is the full one; only its counts are fewer)
REF_MIN_PARTIALITY = 0.5

__all__ = ["PRF_MIN_FRACTION", "REF_MIN_PARTIALITY", "reference_weights", "make_tasks", "extract_pass", "scan_geom", "kernel_options", "learn_profiles", "main_pass"]


def make_tasks(rows, bbox, arrays, geom, mode, options, frames_per_block):  # type: ignore[no-untyped-def]
    plans = plan_blocks(bbox[:, 4], bbox[:, 5], geom["iset_range"], frames_per_block)
    tasks = []
    for local, frames in plans:
        sel = rows[local]
        refl = {k: np.ascontiguousarray(v[sel]) for k, v in arrays.items() if k != "bbox"}
        refl["bbox"] = np.ascontiguousarray(bbox[local])
        tasks.append(BlockTask(geom["iset"], geom["zfirst"], frames, sel, refl, geom["pa"], mode, options))
    return tasks


def _with_range(geom):  # type: ignore[no-untyped-def]
    return dict(geom, iset_range=(geom["zfirst"], geom["zfirst"] + len(geom["iset"])))


def extract_pass(ctx: IntegrationContext, rows: np.ndarray, bbox: np.ndarray):  # type: ignore[no-untyped-def]
    """Pixels of the given reflections (profile-model pass): (store, rows in store order)."""
    geom = ctx.geom
    if len(rows) == 0:
        return ShoeboxStore.allocate(np.zeros((0, 6), np.int32)), rows
    depth = int(np.max(bbox[:, 5] - bbox[:, 4]))
    fpb, _ = block_size_frames(None, "frames", 1.0, len(geom["iset"]), depth, geom["nproc"])
    tasks = make_tasks(rows, bbox, ctx.refl_arrays, _with_range(geom), "extract", {}, fpb)
    advance = ctx.progress("Reference pass", len(tasks)) if ctx.progress else None
    results = run_tasks(tasks, geom["nproc"], advance)
    stores, order = [], []
    for res in results:
        stores.append(res["store"])
        order.append(res["rows"][res["local"]])
    ctx.add_memory("model_pass", max(r["peak_bytes"] for r in results), sum(r["frames_read"] for r in results))
    return ShoeboxStore.concatenate(stores), np.concatenate(order)


def scan_geom(expt: Experiment) -> np.ndarray:
    scan = expt.scan
    return np.array([math.radians(scan.oscillation_start_deg), math.radians(scan.oscillation_width_deg),
                     float(scan.array_range[0])])


def kernel_options(ctx: IntegrationContext, sm_rad: float, profiles: np.ndarray, fit: bool, step: float) -> dict:
    p = ctx.params
    fit_opts = np.array([1.0 if fit else 0.0, step, p.integration.profile.valid_foreground_threshold,
                         0.0 if p.integration.profile.variance == "fit" else 1.0, float(NSUB), PRF_MIN_FRACTION])
    return {"sigma_m": sm_rad, "scan_geom": scan_geom(ctx.expt),
            "bg_opts": background_options(p.integration.background, ctx.expt.detector),
            "profiles": profiles, "fit_opts": fit_opts}


def learn_profiles(ctx: IntegrationContext, sb_rad: float, sm_rad: float, neighbours: dict | None = None):  # type: ignore[no-untyped-def]
    """Stream the reference subset with the final model; workers add good references to
    the profile grids and return only the grids (``neighbours``: `overlaps.neighbour_arrays`,
    so that neighbouring spots are masked out of the references)."""
    expt, g, cols, ra = ctx.expt, ctx.params.profile.gaussian_rs.fitting, ctx.cols, ctx.refl_arrays
    n = len(cols["d"])
    rows = ctx.ref_rows
    bbox = compute_bbox(expt, ctx.s1e[rows], cols["panel"][rows], ra["phi_c"][rows], ra["zeta"][rows], sb_rad,
                        sm_rad, ctx.n_sigma)
    rows, bbox = rows[nonempty(bbox)], bbox[nonempty(bbox)]
    sub = choose_reference_subset(bbox, expt.scan.array_range, g.max_reference_reflections)
    rows, bbox = rows[sub], bbox[sub]
    grid_args = dict(grid_method=g.grid_method, scan_step_deg=g.scan_step, grid_size=g.grid_size, sigma_b_rad=sb_rad)
    args = (ctx.geom["pa"].image_size, expt.scan.array_range, expt.scan.oscillation_width_deg)
    n_profiles = make_reference_grid(*args, **grid_args).n_profiles
    grid = make_reference_grid(*args, **grid_args, oversample=oversample_for(len(rows) / max(n_profiles, 1)))
    G = 2 * grid.grid_size + 1
    if len(rows) == 0:
        zeros = np.zeros((grid.n_profiles, G, G))
        return finalize_profiles(grid, zeros, zeros, np.zeros(grid.n_profiles))
    t, w = profile_weights(grid, cols["xyzcal.px"][rows], cols["panel"][rows])
    ref_w = reference_weights(partiality(bbox, ra["phi_c"][rows], ra["zeta"][rows], sm_rad, expt))
    targets = np.full((n, t.shape[1]), -1, dtype=np.int64)
    weights = np.zeros((n, t.shape[1]))
    targets[rows] = np.where(ref_w[:, None] > 0, t, -1)
    weights[rows] = w * ref_w[:, None]
    use_ref = np.zeros(n, dtype=bool)
    use_ref[rows] = ref_w > 0
    arrays = dict(ra, prof_idx=np.full(n, -1, dtype=np.int64), delta_b=np.full(n, ctx.n_sigma * sb_rad),
                  targets=targets, weights=weights, use_ref=use_ref, **(neighbours or {}))
    options = kernel_options(ctx, sm_rad, np.zeros((1, 3, 3)), False, 1.0)
    options.update(grid_shape=(grid.n_profiles, G, G), step=grid.step_rad, nsub=NSUB)
    depth = int(np.max(bbox[:, 5] - bbox[:, 4]))
    fpb, _ = block_size_frames(None, "frames", 1.0, len(ctx.geom["iset"]), depth, ctx.geom["nproc"])
    tasks = make_tasks(rows, bbox, arrays, _with_range(ctx.geom), "reference", options, fpb)
    advance = ctx.progress("Reference profiles", len(tasks)) if ctx.progress else None
    results = run_tasks(tasks, ctx.geom["nproc"], advance)
    ctx.add_memory("reference_pass", max(r["peak_bytes"] for r in results), sum(r["frames_read"] for r in results))
    return finalize_profiles(grid, sum(r["num"] for r in results), sum(r["den"] for r in results),
                             _reference_counts(results, targets, weights, use_ref, grid.n_profiles))


def reference_weights(partiality_values: np.ndarray) -> np.ndarray:
    """Weight of each candidate reference in the profiles: 1 when fully recorded
    (P > 0.99), P for partials with P >= `REF_MIN_PARTIALITY`, else 0 (not a reference)."""
    p = np.asarray(partiality_values, dtype=float)
    return np.where(p > 0.99, 1.0, np.where(p >= REF_MIN_PARTIALITY, p, 0.0))


def _reference_counts(results, targets, weights, use_ref, n_profiles):  # type: ignore[no-untyped-def]
    """References per profile (weight >= 0.5 counted as one) that passed the reference tests."""
    counts = np.zeros(n_profiles)
    for res in results:
        o, f = res["out"], res["flags"]
        good = ((f & _kernels.F_SUM) != 0) & ((f & _kernels.F_BG_BAD) == 0) & (o[:, _kernels.C_ISUM] > 0)
        good &= use_ref[res["rows"]]
        tt, ww = targets[res["rows"][good]], weights[res["rows"][good]]
        counts += np.bincount(tt[ww >= 0.5].ravel(), minlength=n_profiles)
    return counts


def main_pass(ctx: IntegrationContext, todo: np.ndarray, arrays: dict[str, np.ndarray], reference, sm_rad: float):  # type: ignore[no-untyped-def]
    """Integrate the rows ``todo``: (out (n, N_COLS), flags (n,))."""
    n = len(arrays["bbox"])
    out = np.zeros((n, _kernels.N_COLS))
    flags = np.zeros(n, dtype=np.int64)
    if len(todo) == 0:
        return out, flags
    bbox = arrays["bbox"][todo]
    depth = int(np.percentile(bbox[:, 5] - bbox[:, 4], 95))
    blk = ctx.params.integration.block
    fpb, w = block_size_frames(blk.size, blk.units, ctx.expt.scan.oscillation_width_deg, len(ctx.geom["iset"]),
                               max(depth, 1), ctx.geom["nproc"])
    ctx.warnings.extend(w)
    fit = reference is not None and bool(np.any(reference.usable))
    profiles = reference.density if fit else np.zeros((1, 3, 3))
    options = kernel_options(ctx, sm_rad, profiles, fit, reference.grid.step_rad if fit else 1.0)
    tasks = make_tasks(todo, bbox, arrays, _with_range(ctx.geom), "integrate", options, fpb)
    advance = ctx.progress("Integrating", len(tasks)) if ctx.progress else None
    results = run_tasks(tasks, ctx.geom["nproc"], advance)
    for res in results:
        out[res["rows"]] = res["out"]
        flags[res["rows"]] = res["flags"]
    ctx.add_memory("main_pass", max(r["peak_bytes"] for r in results), sum(r["frames_read"] for r in results))
    t = ctx.timing
    t["main_pass_task_seconds"] = t.get("main_pass_task_seconds", 0.0) + sum(r["seconds"] for r in results)
    t["main_pass_read_seconds"] = t.get("main_pass_read_seconds", 0.0) + sum(r["read_seconds"] for r in results)
    return out, flags
