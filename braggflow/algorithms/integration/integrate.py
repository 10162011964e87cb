"""`integrate`: predict, model the profile, stream the images and integrate every reflection
(summation and profile fitting), with corrections and flags; see algorithms.md section 7."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from braggflow.algorithms.integration import _kernels
from braggflow.algorithms.integration.background import background_options
from braggflow.algorithms.integration.blocks import BlockTask, ShoeboxStore, block_size_frames, plan_blocks, run_tasks
from braggflow.algorithms.integration.corrections import detector_efficiency, lorentz_polarization
from braggflow.algorithms.integration.params import IntegrateParams, resolve_nproc
from braggflow.algorithms.integration.predict import predict_for_integration
from braggflow.algorithms.integration.profile_fitting import (
    NSUB, ReferenceProfiles, finalize_profiles, make_reference_grid, nearest_profile, profile_weights)
from braggflow.algorithms.integration.profile_model import ProfileEstimate, clamp_sigmas, estimate_profile
from braggflow.algorithms.integration.references import (
    choose_reference_subset, input_shoebox_samples, match_references, pixel_samples)
from braggflow.algorithms.integration.shoeboxes import (
    compute_bbox, effective_s1, kabsch_frames, panel_arrays, partiality)
from braggflow.algorithms.integration.statistics import ice_ring_mask
from braggflow.errors import InputDataError, StageFailed
from braggflow.formats.imageset import open_imageset
from braggflow.model import Experiment, ExperimentList, ProfileModel
from braggflow.model.reflections import Flags, ReflectionTable

__all__ = ["IntegrationResult", "integrate", "corner_d_min"]

MAX_ESTIMATION_REFS = 1500

Progress = Callable[[str, int], Callable[[int], None]] | None


@dataclass(frozen=True)
class IntegrationResult:
    reflections: ReflectionTable
    experiments: ExperimentList
    profile_estimates: tuple[ProfileEstimate, ...]
    reference_profiles: tuple[ReferenceProfiles | None, ...]
    warnings: tuple[str, ...]
    timing: dict[str, float] = field(default_factory=dict)
    memory: dict[str, float] = field(default_factory=dict)


def corner_d_min(experiment: Experiment) -> float:
    """Smallest d (A) at the corners and edge midpoints of every panel."""
    s0 = experiment.beam.s0
    best = np.inf
    for pan in experiment.detector:
        nf, ns = pan.image_size
        pts = np.array([[x, y] for x in (0, nf / 2, nf) for y in (0, ns / 2, ns)], dtype=float)
        lab = pan.get_lab_coord(pts * np.array(pan.pixel_size))
        s1 = lab / np.linalg.norm(lab, axis=1)[:, None] * np.linalg.norm(s0)
        q = np.linalg.norm(s1 - s0, axis=1)
        best = min(best, float(1.0 / q.max()))
    return best


def _validate(experiments: ExperimentList, reflections: ReflectionTable) -> None:
    if len(experiments) == 0:
        raise InputDataError("experiments", "the experiment list is empty; give refined.expt")
    for i, e in enumerate(experiments):
        missing = [n for n in ("beam", "detector", "goniometer", "scan", "crystal", "imageset") if getattr(e, n) is None]
        if missing:
            raise InputDataError(f"experiment {i}", f"has no {', '.join(missing)}; integrate needs indexed (refined) "
                                 "experiments of a rotation sweep (run braggflow.index / braggflow.refine first)")
        if e.scan.is_still:
            raise InputDataError(f"experiment {i}", "is a still (oscillation width 0); braggflow integrates rotation sweeps only")
    ids = set(experiments.identifiers())
    for k, ident in reflections.experiment_identifiers.items():
        if ident not in ids:
            raise InputDataError("reflections", f"experiment id {k} has identifier {ident!r}, which is not in the "
                                 "experiment list; use the .refl written together with this .expt")
    if "id" in reflections and len(reflections):
        ids_used = np.unique(np.asarray(reflections["id"]))
        bad = ids_used[(ids_used >= len(experiments))]
        if len(bad):
            raise InputDataError("reflections", f"rows have experiment id {int(bad[0])} but there are only "
                                 f"{len(experiments)} experiment(s); use the matching .expt")


def integrate(experiments: ExperimentList, reflections_indexed: ReflectionTable, params: IntegrateParams, *,
              progress: Progress = None) -> IntegrationResult:
    """Integrate every experiment; returns the integrated table and updated experiments."""
    _validate(experiments, reflections_indexed)
    tables, new_expts, estimates, profiles, warnings = [], ExperimentList(), [], [], []
    timing: dict[str, float] = {}
    memory: dict[str, float] = {}
    identifiers = {}
    for i, expt in enumerate(experiments):
        out = _integrate_one(i, expt, reflections_indexed, params, progress, warnings, timing, memory)
        table, model, est, prof = out
        tables.append(table)
        new_expts.append(expt.replace(profile=model))
        estimates.append(est)
        profiles.append(prof)
        identifiers[i] = expt.identifier
    result = ReflectionTable.concatenate(tables) if tables else ReflectionTable()
    result.experiment_identifiers = identifiers
    return IntegrationResult(result, new_expts, tuple(estimates), tuple(profiles), tuple(warnings), timing, memory)


def _profile_model(expt: Experiment, params: IntegrateParams, warnings: list[str]) -> tuple[float, float, str] | None:
    """User-given or experiment sigmas (deg), or None if they must be estimated."""
    g = params.profile.gaussian_rs.parameters
    if g.sigma_b is not None and g.sigma_m is not None:
        sb, sm, w = clamp_sigmas(g.sigma_b, g.sigma_m, "profile.gaussian_rs.parameters:")
        warnings.extend(w)
        return sb, sm, "user"
    if not params.create_profile_model and expt.profile is not None:
        return expt.profile.sigma_b_deg, expt.profile.sigma_m_deg, "experiment"
    return None


def _initial_guess(expt: Experiment, table: ReflectionTable, ref_in: np.ndarray) -> tuple[float, float]:
    """Generous starting sigmas (deg) for the reference pass when none are known."""
    if expt.profile is not None:
        return expt.profile.sigma_b_deg, expt.profile.sigma_m_deg
    width = abs(expt.scan.oscillation_width_deg)
    if "bbox" in table and len(ref_in):
        b = np.asarray(table["bbox"])[ref_in]
        pan = expt.detector[0]
        size_px = np.median(np.maximum(b[:, 1] - b[:, 0], b[:, 3] - b[:, 2]))
        sb = math.degrees(size_px * pan.pixel_size[0] / pan.distance) / 4.0
        sm = max(float(np.median(b[:, 5] - b[:, 4])) * width / 4.0, 0.05)
        return float(np.clip(sb, 0.01, 0.3)), float(np.clip(sm, 0.02, 1.0))
    return 0.05, max(0.1, width)


def _integrate_one(i, expt, table, params, progress, warnings, timing, memory):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    p = params
    scan = expt.scan
    d_min = p.prediction.d_min or corner_d_min(expt)
    cols = predict_for_integration(expt, d_min, d_max=p.prediction.d_max, padding_deg=p.prediction.padding,
                                   force_static=p.prediction.force_static)
    n = len(cols["d"])
    if n == 0:
        raise StageFailed(f"experiment {i}: no reflections are predicted on the detector to d_min = {d_min:.2f} A")
    pa = panel_arrays(expt.detector)
    s1e = effective_s1(pa, cols["xyzcal.px"], cols["panel"], expt.beam.wavelength)
    e1, e2, _ = kabsch_frames(s1e, expt.beam.s0)
    phi_c = cols["xyzcal.mm"][:, 2]
    zeta = cols["zeta"]
    pred_rows, in_rows = match_references(table, i, cols["miller_index"], cols["xyzcal.px"][:, 2])
    timing["predict"] = timing.get("predict", 0.0) + time.perf_counter() - t0
    nproc = resolve_nproc(p)
    iset = open_imageset(expt)
    zfirst = scan.array_range[0]
    geom = dict(pa=pa, iset=iset, zfirst=zfirst, nproc=nproc)
    known = _profile_model(expt, p, warnings)
    n_sigma = p.profile.gaussian_rs.parameters.n_sigma
    refl_arrays = {"panel": cols["panel"].astype(np.int64), "e1": e1, "e2": e2, "phi_c": phi_c, "zeta": zeta,
                   "xyzcal_px": cols["xyzcal.px"]}
    # --- reference pass: estimate the profile model, learn reference profiles
    t1 = time.perf_counter()
    if known is None:
        sb0, sm0 = _initial_guess(expt, table, in_rows)
        box_sb, box_sm, estimate_needed = sb0 * 1.5, sm0 * 1.5, True
    else:
        box_sb, box_sm, estimate_needed = known[0], known[1], False
    ref_rows = pred_rows[np.abs(zeta[pred_rows]) >= p.integration.filter.min_zeta]
    spot_row = np.full(n, -1, dtype=np.int64)
    spot_row[pred_rows] = in_rows
    if estimate_needed and _has_input_shoeboxes(table, in_rows):
        est = _estimate_from_input(expt, p, table, pred_rows, in_rows, s1e, refl_arrays, pa, warnings)
    elif estimate_needed:
        bbox_ref = compute_bbox(expt, s1e[ref_rows], cols["panel"][ref_rows], phi_c[ref_rows], zeta[ref_rows],
                                math.radians(box_sb), math.radians(box_sm), n_sigma)
        keep = _nonempty(bbox_ref)
        est_rows, bbox_ref = ref_rows[keep], bbox_ref[keep]
        priority = None
        if "intensity.sum.value" in table:
            priority = np.nan_to_num(np.asarray(table["intensity.sum.value"], dtype=float)[spot_row[est_rows]])
        sub = choose_reference_subset(bbox_ref, scan.array_range, MAX_ESTIMATION_REFS, priority=priority, stride_windows=8)
        store, est_rows, peak1, frames1 = _extract(est_rows[sub], bbox_ref[sub], refl_arrays, geom, progress)
        memory["model_pass_peak_shoebox_MB"] = max(memory.get("model_pass_peak_shoebox_MB", 0.0), peak1 / 1e6)
        memory["model_pass_frames_read"] = memory.get("model_pass_frames_read", 0) + frames1
        est = _estimate(expt, p, store, est_rows, dict(refl_arrays, spot_row=spot_row), s1e, pa, box_sb, box_sm,
                        n_sigma, warnings, table)
        del store
    else:
        est = ProfileEstimate(known[0], known[1], len(ref_rows), known[2])
    model = ProfileModel(sigma_b_deg=est.sigma_b_deg, sigma_m_deg=est.sigma_m_deg, n_sigma=n_sigma)
    sb_rad, sm_rad = math.radians(model.sigma_b_deg), math.radians(model.sigma_m_deg)
    reference = None
    if p.integration.profile.fitting:
        reference, peak_r, frames_r = _learn_profiles(expt, p, ref_rows, refl_arrays, cols, s1e, geom, sb_rad,
                                                      sm_rad, n_sigma, progress)
        memory["reference_pass_peak_shoebox_MB"] = max(memory.get("reference_pass_peak_shoebox_MB", 0.0), peak_r / 1e6)
        memory["reference_pass_frames_read"] = memory.get("reference_pass_frames_read", 0) + frames_r
    timing["reference"] = timing.get("reference", 0.0) + time.perf_counter() - t1
    # --- main pass
    t2 = time.perf_counter()
    bbox = compute_bbox(expt, s1e, cols["panel"], phi_c, zeta, sb_rad, sm_rad, n_sigma)
    dont = (np.abs(zeta) < p.integration.filter.min_zeta) | ~_nonempty(bbox)
    todo = np.nonzero(~dont)[0]
    prof_idx = np.full(n, -1, dtype=np.int64)
    if reference is not None and np.any(reference.usable):
        xyz = cols["xyzcal.px"]
        prof_idx[todo] = nearest_profile(reference.grid, xyz[todo], cols["panel"][todo], reference.usable)
    arrays = dict(refl_arrays, bbox=bbox, prof_idx=prof_idx, delta_b=np.full(n, n_sigma * sb_rad))
    out, flags, peak2, frames2 = _main_pass(expt, p, todo, arrays, geom, reference, sm_rad, progress, warnings,
                                            timing)
    memory["main_pass_peak_shoebox_MB"] = max(memory.get("main_pass_peak_shoebox_MB", 0.0), peak2 / 1e6)
    memory["main_pass_frames_read"] = memory.get("main_pass_frames_read", 0) + frames2
    timing["integrate"] = timing.get("integrate", 0.0) + time.perf_counter() - t2
    flags |= np.where(dont, int(Flags.dont_integrate), 0)
    flags[pred_rows] |= int(Flags.reference_spot)
    result = _assemble(i, expt, cols, bbox, out, flags, sm_rad, p)
    return result, model, est, reference


def _nonempty(bbox: np.ndarray) -> np.ndarray:
    return (bbox[:, 1] > bbox[:, 0]) & (bbox[:, 3] > bbox[:, 2]) & (bbox[:, 5] > bbox[:, 4])


def _tasks(rows, bbox, arrays, geom, mode, options, frames_per_block):  # type: ignore[no-untyped-def]
    plans = plan_blocks(bbox[:, 4], bbox[:, 5], geom["iset_range"], frames_per_block)
    tasks = []
    for local, frames in plans:
        sel = rows[local]
        refl = {k: np.ascontiguousarray(v[sel]) for k, v in arrays.items() if k != "bbox"}
        refl["bbox"] = np.ascontiguousarray(bbox[local])
        tasks.append(BlockTask(geom["iset"], geom["zfirst"], frames, sel, refl, geom["pa"], mode, options))
    return tasks


def _extract(rows, bbox, refl_arrays, geom, progress):  # type: ignore[no-untyped-def]
    if len(rows) == 0:
        return ShoeboxStore.allocate(np.zeros((0, 6), np.int32)), rows, 0, 0
    g = dict(geom, iset_range=(geom["zfirst"], geom["zfirst"] + len(geom["iset"])))
    n_frames = len(geom["iset"])
    depth = int(np.max(bbox[:, 5] - bbox[:, 4]))
    fpb, _ = block_size_frames(None, "frames", 1.0, n_frames, depth, geom["nproc"])
    tasks = _tasks(rows, bbox, refl_arrays, g, "extract", {}, fpb)
    advance = progress("Reference pass", len(tasks)) if progress else None
    results = run_tasks(tasks, geom["nproc"], advance)
    stores, order = [], []
    for res in results:
        stores.append(res["store"])
        order.append(res["rows"][res["local"]])
    peak = max(r["peak_bytes"] for r in results)
    frames = sum(r["frames_read"] for r in results)
    return ShoeboxStore.concatenate(stores), np.concatenate(order), peak, frames


def _scan_geom(expt: Experiment) -> np.ndarray:
    scan = expt.scan
    return np.array([math.radians(scan.oscillation_start_deg), math.radians(scan.oscillation_width_deg),
                     float(scan.array_range[0])])


def _options(expt, p, sm_rad, profiles, fit, step):  # type: ignore[no-untyped-def]
    fit_opts = np.array([1.0 if fit else 0.0, step, p.integration.profile.valid_foreground_threshold,
                         0.0 if p.integration.profile.variance == "fit" else 1.0, float(NSUB)])
    return {"sigma_m": sm_rad, "scan_geom": _scan_geom(expt), "bg_opts": background_options(p.integration.background, expt.detector),
            "profiles": profiles, "fit_opts": fit_opts}


def _integrate_store(expt, p, store, rows, refl_arrays, sb_rad, sm_rad, n_sigma, pa):  # type: ignore[no-untyped-def]
    """Summation of the reference shoeboxes in memory (masks redone for sb_rad)."""
    sub = {k: np.ascontiguousarray(v[rows]) for k, v in refl_arrays.items()}
    store.mask &= ~(_kernels.FOREGROUND | _kernels.BACKGROUND | _kernels.BACKGROUND_USED)
    _kernels.foreground_mask(store.bbox, store.offsets, sub["panel"], store.mask, pa.origin, pa.fast, pa.slow,
                             pa.pixel_size, sub["e1"], sub["e2"], np.full(len(rows), n_sigma * sb_rad))
    o = _options(expt, p, sm_rad, np.zeros((1, 3, 3)), False, 1.0)
    out = np.zeros((len(rows), _kernels.N_COLS))
    flags = np.zeros(len(rows), dtype=np.int64)
    # store.mask keeps the private overload bit cleared by integrate_group; keep a copy
    _kernels.integrate_group(store.bbox, store.offsets, sub["panel"], store.data, store.mask, pa.origin, pa.fast,
                             pa.slow, pa.pixel_size, sub["e1"], sub["e2"], sub["phi_c"], sub["zeta"], sm_rad,
                             o["scan_geom"], o["bg_opts"], np.zeros((1, 3, 3)), np.full(len(rows), -1, np.int64),
                             o["fit_opts"], out, flags)
    return out, flags


def _estimate(expt, p, store, rows, refl_arrays, s1e, pa, sb0, sm0, n_sigma, warnings, table):  # type: ignore[no-untyped-def]
    if len(rows) == 0:
        if expt.profile is not None:
            warnings.append("no reference reflections for the profile model; using the experiment's profile")
            return ProfileEstimate(expt.profile.sigma_b_deg, expt.profile.sigma_m_deg, 0, "experiment")
        raise StageFailed("integration: no indexed strong reflections match the predictions, so the profile model "
                          "cannot be estimated; give profile.gaussian_rs.parameters.sigma_b= and sigma_m=")
    out, flags = _integrate_store(expt, p, store, rows, refl_arrays, math.radians(sb0), math.radians(sm0), n_sigma, pa)
    isig = out[:, _kernels.C_ISUM] / np.sqrt(np.maximum(out[:, _kernels.C_VSUM], 1e-9))
    ok = ((flags & _kernels.F_SUM) != 0) & (isig > 10)
    local = np.nonzero(ok)[0]
    if len(local) > 5000:
        local = local[np.argsort(-isig[local])[:5000]]
    scan = expt.scan
    spot_bbox = None
    if "bbox" in table and "spot_row" in refl_arrays:
        src = refl_arrays["spot_row"][rows]
        spot_bbox = np.where((src >= 0)[:, None], np.asarray(table["bbox"])[np.maximum(src, 0)], 0)
    refl, frame, weight, angle_sq = pixel_samples(store, refl_arrays["panel"][rows], s1e[rows],
                                                  out[:, _kernels.C_BGMEAN], pa, local, spot_bbox,
                                                  refl_arrays["xyzcal_px"][rows])
    phi_of_frame = lambda z: np.radians(scan.angle_from_array_index(z))  # noqa: E731
    g = p.profile.gaussian_rs
    min_spots = max(g.min_spots.overall, 0)
    est = estimate_profile(refl, frame, weight, angle_sq, refl_arrays["phi_c"][rows][local], refl_arrays["zeta"][rows][local],
                           phi_of_frame, math.radians(scan.oscillation_width_deg), algorithm=g.sigma_m_algorithm,
                           min_spots=min_spots)
    warnings.extend(est.warnings)
    return est


def _has_input_shoeboxes(table: ReflectionTable, in_rows: np.ndarray) -> bool:
    if "shoebox" not in table or len(in_rows) == 0:
        return False
    return int(np.sum(np.asarray(table["shoebox"].has_data)[in_rows])) >= 20


def _estimate_from_input(expt, p, table, pred_rows, in_rows, s1e, refl_arrays, pa, warnings):  # type: ignore[no-untyped-def]
    """sigma_b / sigma_m from the spot-finding shoeboxes carried by the input reflections."""
    keep = np.abs(refl_arrays["zeta"][pred_rows]) >= p.integration.filter.min_zeta
    pred_rows, in_rows = pred_rows[keep], in_rows[keep]
    used, refl, frame, weight, angle_sq = input_shoebox_samples(table["shoebox"], in_rows, s1e[pred_rows], pa)
    scan = expt.scan
    phi_of_frame = lambda z: np.radians(scan.angle_from_array_index(z))  # noqa: E731
    g = p.profile.gaussian_rs
    est = estimate_profile(refl, frame, weight, angle_sq, refl_arrays["phi_c"][pred_rows][used],
                           refl_arrays["zeta"][pred_rows][used], phi_of_frame, math.radians(scan.oscillation_width_deg),
                           algorithm=g.sigma_m_algorithm, min_spots=g.min_spots.overall)
    warnings.extend(est.warnings)
    return est


def _learn_profiles(expt, p, ref_rows, refl_arrays, cols, s1e, geom, sb_rad, sm_rad, n_sigma, progress):  # type: ignore[no-untyped-def]
    """Stream the reference subset with the final model; workers add good references to
    the profile grids and return only the grids."""
    g = p.profile.gaussian_rs.fitting
    pa = geom["pa"]
    grid = make_reference_grid(pa.image_size, expt.scan.array_range, expt.scan.oscillation_width_deg,
                               grid_method=g.grid_method, scan_step_deg=g.scan_step, grid_size=g.grid_size,
                               sigma_b_rad=sb_rad)
    G = 2 * grid.grid_size + 1
    n = len(cols["d"])
    bbox = compute_bbox(expt, s1e[ref_rows], cols["panel"][ref_rows],
                        refl_arrays["phi_c"][ref_rows], refl_arrays["zeta"][ref_rows], sb_rad, sm_rad, n_sigma)
    keep = _nonempty(bbox)
    rows, bbox = ref_rows[keep], bbox[keep]
    sub = choose_reference_subset(bbox, expt.scan.array_range, g.max_reference_reflections)
    rows, bbox = rows[sub], bbox[sub]
    if len(rows) == 0:
        zeros = np.zeros((grid.n_profiles, G, G))
        return finalize_profiles(grid, zeros, zeros, np.zeros(grid.n_profiles)), 0, 0
    targets = np.full((n, 8), -1, dtype=np.int64)
    weights = np.zeros((n, 8))
    t, w = profile_weights(grid, cols["xyzcal.px"][rows], cols["panel"][rows])
    targets[rows, : t.shape[1]] = t
    weights[rows, : w.shape[1]] = w
    use_ref = np.zeros(n, dtype=bool)
    use_ref[rows] = partiality(bbox, refl_arrays["phi_c"][rows], refl_arrays["zeta"][rows], sm_rad, expt) > 0.99
    arrays = dict(refl_arrays, prof_idx=np.full(n, -1, dtype=np.int64), delta_b=np.full(n, n_sigma * sb_rad),
                  targets=targets, weights=weights, use_ref=use_ref)
    options = _options(expt, p, sm_rad, np.zeros((1, 3, 3)), False, 1.0)
    options.update(grid_shape=(grid.n_profiles, G, G), step=grid.step_rad, nsub=NSUB)
    gg = dict(geom, iset_range=(geom["zfirst"], geom["zfirst"] + len(geom["iset"])))
    depth = int(np.max(bbox[:, 5] - bbox[:, 4]))
    fpb, _ = block_size_frames(None, "frames", 1.0, len(geom["iset"]), depth, geom["nproc"])
    tasks = _tasks(rows, bbox, arrays, gg, "reference", options, fpb)
    advance = progress("Reference profiles", len(tasks)) if progress else None
    results = run_tasks(tasks, geom["nproc"], advance)
    num = sum(r["num"] for r in results)
    den = sum(r["den"] for r in results)
    counts = np.zeros(grid.n_profiles)
    for res in results:
        o, f = res["out"], res["flags"]
        good = ((f & _kernels.F_SUM) != 0) & ((f & _kernels.F_BG_BAD) == 0) & (o[:, _kernels.C_ISUM] > 0)
        good &= use_ref[res["rows"]]
        tt, ww = targets[res["rows"][good]], weights[res["rows"][good]]
        counts += np.bincount(tt[ww >= 0.5].ravel(), minlength=grid.n_profiles)
    peak = max(r["peak_bytes"] for r in results)
    frames = sum(r["frames_read"] for r in results)
    return finalize_profiles(grid, num, den, counts), peak, frames


def _main_pass(expt, p, todo, arrays, geom, reference, sm_rad, progress, warnings, timing):  # type: ignore[no-untyped-def]
    n = len(arrays["bbox"])
    out = np.zeros((n, _kernels.N_COLS))
    flags = np.zeros(n, dtype=np.int64)
    if len(todo) == 0:
        return out, flags, 0, 0
    bbox = arrays["bbox"][todo]
    depth = int(np.percentile(bbox[:, 5] - bbox[:, 4], 95))
    blk = p.integration.block
    fpb, w = block_size_frames(blk.size, blk.units, expt.scan.oscillation_width_deg, len(geom["iset"]), max(depth, 1), geom["nproc"])
    warnings.extend(w)
    fit = reference is not None and bool(np.any(reference.usable))
    profiles = reference.density if fit else np.zeros((1, 3, 3))
    step = reference.grid.step_rad if fit else 1.0
    options = _options(expt, p, sm_rad, profiles, fit, step)
    g = dict(geom, iset_range=(geom["zfirst"], geom["zfirst"] + len(geom["iset"])))
    tasks = _tasks(todo, bbox, arrays, g, "integrate", options, fpb)
    advance = progress("Integrating", len(tasks)) if progress else None
    results = run_tasks(tasks, geom["nproc"], advance)
    for res in results:
        out[res["rows"]] = res["out"]
        flags[res["rows"]] = res["flags"]
    peak = max(r["peak_bytes"] for r in results)
    frames = sum(r["frames_read"] for r in results)
    timing["main_pass_task_seconds"] = timing.get("main_pass_task_seconds", 0.0) + sum(r["seconds"] for r in results)
    timing["main_pass_read_seconds"] = timing.get("main_pass_read_seconds", 0.0) + sum(r["read_seconds"] for r in results)
    return out, flags, peak, frames


def _assemble(i, expt, cols, bbox, out, flags, sm_rad, p) -> ReflectionTable:  # type: ignore[no-untyped-def]
    n = len(bbox)
    K = _kernels
    part = partiality(bbox, cols["xyzcal.mm"][:, 2], cols["zeta"], sm_rad, expt)
    if p.integration.filter.ice_rings:
        flags |= np.where(ice_ring_mask(cols["d"]), int(Flags.in_powder_ring), 0)
    flags |= int(Flags.predicted)
    xyzobs = out[:, [K.C_X, K.C_Y, K.C_Z]].copy()
    missing = ~np.isfinite(xyzobs).all(axis=1) | ((flags & int(Flags.integrated_sum)) == 0)
    xyzobs[missing] = cols["xyzcal.px"][missing]
    mm = np.empty_like(xyzobs)
    for pnl in np.unique(cols["panel"]):
        sel = cols["panel"] == pnl
        mm[sel, :2] = expt.detector[int(pnl)].pixel_to_millimeter(xyzobs[sel, :2])
    mm[:, 2] = np.radians(expt.scan.angle_from_array_index(xyzobs[:, 2]))
    pix = np.column_stack([expt.detector[int(q)].pixel_size for q in cols["panel"]]).T if n else np.zeros((0, 2))
    var_px = out[:, [K.C_VX, K.C_VY, K.C_VZ]]
    var_mm = np.column_stack([var_px[:, 0] * pix[:, 0] ** 2, var_px[:, 1] * pix[:, 1] ** 2,
                              var_px[:, 2] * math.radians(expt.scan.oscillation_width_deg) ** 2]) if n else var_px
    columns: dict[str, Any] = {
        "miller_index": cols["miller_index"], "id": np.full(n, i, dtype=np.int32), "imageset_id": np.full(n, i, dtype=np.int32),
        "panel": cols["panel"].astype(np.uint64), "entering": cols["entering"], "s1": cols["s1"], "d": cols["d"],
        "zeta": cols["zeta"], "xyzcal.mm": cols["xyzcal.mm"], "xyzcal.px": cols["xyzcal.px"], "bbox": bbox,
        "partiality": part, "partial_id": np.arange(n, dtype=np.uint64), "flags": flags.astype(np.uint64),
        "background.mean": out[:, K.C_BGMEAN], "background.sum.value": out[:, K.C_BGSUM],
        "background.sum.variance": out[:, K.C_BGVAR], "intensity.sum.value": out[:, K.C_ISUM],
        "intensity.sum.variance": out[:, K.C_VSUM], "intensity.prf.value": out[:, K.C_IPRF],
        "intensity.prf.variance": out[:, K.C_VPRF], "profile.correlation": out[:, K.C_CC],
        "lp": lorentz_polarization(expt, cols["s1"]), "qe": detector_efficiency(expt, cols["s1"], cols["panel"]),
        "xyzobs.px.value": xyzobs, "xyzobs.px.variance": var_px, "xyzobs.mm.value": mm, "xyzobs.mm.variance": var_mm,
        "num_pixels.valid": out[:, K.C_NVALID].astype(np.int32), "num_pixels.foreground": out[:, K.C_NFG].astype(np.int32),
        "num_pixels.background": out[:, K.C_NBG].astype(np.int32),
        "num_pixels.background_used": out[:, K.C_NBGUSED].astype(np.int32),
    }
    return ReflectionTable(columns, experiment_identifiers={i: expt.identifier})
