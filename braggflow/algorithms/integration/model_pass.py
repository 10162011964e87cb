"""The profile-model pass (algorithms.md 7.2): sigma_b / sigma_m given by the user or the
experiment, or estimated from the reference spots (their spot-finding shoeboxes when the
input carries them, else shoeboxes streamed from the images with a generous first model)."""

from __future__ import annotations

import math

import numpy as np

from braggflow.algorithms.integration import _kernels
from braggflow.algorithms.integration._context import IntegrationContext
from braggflow.algorithms.integration.params import IntegrateParams
from braggflow.algorithms.integration.passes import extract_pass, kernel_options
from braggflow.algorithms.integration.profile_model import ProfileEstimate, clamp_sigmas, estimate_profile
from braggflow.algorithms.integration.references import (
    choose_reference_subset, input_shoebox_samples, pixel_samples)
from braggflow.algorithms.integration.shoeboxes import compute_bbox, nonempty
from braggflow.errors import StageFailed
from braggflow.model import Experiment
from braggflow.model.reflections import ReflectionTable

__all__ = ["MAX_ESTIMATION_REFS", "known_profile_model", "initial_guess", "profile_model_pass"]

MAX_ESTIMATION_REFS = 1500


def known_profile_model(expt: Experiment, params: IntegrateParams, warnings: list[str]) -> tuple[float, float, str] | None:
    """User-given or experiment sigmas (deg), or None if they must be estimated."""
    g = params.profile.gaussian_rs.parameters
    if g.sigma_b is not None and g.sigma_m is not None:
        sb, sm, w = clamp_sigmas(g.sigma_b, g.sigma_m, "profile.gaussian_rs.parameters:")
        warnings.extend(w)
        return sb, sm, "user"
    if not params.create_profile_model and expt.profile is not None:
        return expt.profile.sigma_b_deg, expt.profile.sigma_m_deg, "experiment"
    return None


def initial_guess(expt: Experiment, table: ReflectionTable, ref_in: np.ndarray) -> tuple[float, float]:
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


def profile_model_pass(ctx: IntegrationContext, known: tuple[float, float, str] | None) -> ProfileEstimate:
    """The profile model of one experiment: known, from input shoeboxes, or from a streamed
    subset of reference shoeboxes."""
    if known is not None:
        return ProfileEstimate(known[0], known[1], len(ctx.ref_rows), known[2])
    if _has_input_shoeboxes(ctx.table, ctx.in_rows):
        return _estimate_from_input(ctx)
    expt, table, ra = ctx.expt, ctx.table, ctx.refl_arrays
    sb0, sm0 = initial_guess(expt, table, ctx.in_rows)
    box_sb, box_sm = sb0 * 1.5, sm0 * 1.5
    rows = ctx.ref_rows
    bbox_ref = compute_bbox(expt, ctx.s1e[rows], ctx.cols["panel"][rows], ra["phi_c"][rows], ra["zeta"][rows],
                            math.radians(box_sb), math.radians(box_sm), ctx.n_sigma)
    keep = nonempty(bbox_ref)
    est_rows, bbox_ref = rows[keep], bbox_ref[keep]
    priority = None
    if "intensity.sum.value" in table:
        priority = np.nan_to_num(np.asarray(table["intensity.sum.value"], dtype=float)[ctx.spot_row[est_rows]])
    sub = choose_reference_subset(bbox_ref, expt.scan.array_range, MAX_ESTIMATION_REFS, priority=priority,
                                  stride_windows=8)
    store, est_rows = extract_pass(ctx, est_rows[sub], bbox_ref[sub])
    return _estimate(ctx, store, est_rows, box_sb, box_sm)


def _integrate_store(ctx: IntegrationContext, store, rows: np.ndarray, sb_rad: float, sm_rad: float):  # type: ignore[no-untyped-def]
    """Summation of the reference shoeboxes in memory (masks redone for sb_rad)."""
    pa = ctx.geom["pa"]
    sub = {k: np.ascontiguousarray(v[rows]) for k, v in ctx.refl_arrays.items()}
    store.mask &= ~(_kernels.FOREGROUND | _kernels.BACKGROUND | _kernels.BACKGROUND_USED)
    _kernels.foreground_mask(store.bbox, store.offsets, sub["panel"], store.mask, pa.origin, pa.fast, pa.slow,
                             pa.pixel_size, sub["e1"], sub["e2"], np.full(len(rows), ctx.n_sigma * sb_rad))
    o = kernel_options(ctx, sm_rad, np.zeros((1, 3, 3)), False, 1.0)
    out = np.zeros((len(rows), _kernels.N_COLS))
    flags = np.zeros(len(rows), dtype=np.int64)
    _kernels.integrate_group(store.bbox, store.offsets, sub["panel"], store.data, store.mask, pa.origin, pa.fast,
                             pa.slow, pa.pixel_size, sub["e1"], sub["e2"], sub["phi_c"], sub["zeta"], sm_rad,
                             o["scan_geom"], o["bg_opts"], np.zeros((1, 3, 3)), np.full(len(rows), -1, np.int64),
                             o["fit_opts"], out, flags)
    return out, flags


def _estimate(ctx: IntegrationContext, store, rows: np.ndarray, sb0: float, sm0: float) -> ProfileEstimate:  # type: ignore[no-untyped-def]
    expt = ctx.expt
    if len(rows) == 0:
        if expt.profile is not None:
            ctx.warnings.append("no reference reflections for the profile model; using the experiment's profile")
            return ProfileEstimate(expt.profile.sigma_b_deg, expt.profile.sigma_m_deg, 0, "experiment")
        raise StageFailed("integration: no indexed strong reflections match the predictions, so the profile model "
                          "cannot be estimated; give profile.gaussian_rs.parameters.sigma_b= and sigma_m=")
    out, flags = _integrate_store(ctx, store, rows, math.radians(sb0), math.radians(sm0))
    isig = out[:, _kernels.C_ISUM] / np.sqrt(np.maximum(out[:, _kernels.C_VSUM], 1e-9))
    local = np.nonzero(((flags & _kernels.F_SUM) != 0) & (isig > 10))[0]
    if len(local) > 5000:
        local = local[np.argsort(-isig[local])[:5000]]
    spot_bbox = None
    if "bbox" in ctx.table:
        src = ctx.spot_row[rows]
        spot_bbox = np.where((src >= 0)[:, None], np.asarray(ctx.table["bbox"])[np.maximum(src, 0)], 0)
    ra = ctx.refl_arrays
    samples = pixel_samples(store, ra["panel"][rows], ctx.s1e[rows], out[:, _kernels.C_BGMEAN], ctx.geom["pa"], local,
                            spot_bbox, ra["xyzcal_px"][rows])
    g = ctx.params.profile.gaussian_rs
    return _fit_model(ctx, samples, ra["phi_c"][rows][local], ra["zeta"][rows][local], max(g.min_spots.overall, 0))


def _fit_model(ctx: IntegrationContext, samples, phi_c: np.ndarray, zeta: np.ndarray, min_spots: int) -> ProfileEstimate:  # type: ignore[no-untyped-def]
    """estimate_profile on (refl, frame, weight, angle_sq) pixel samples; warnings recorded."""
    scan = ctx.expt.scan
    phi_of_frame = lambda z: np.radians(scan.angle_from_array_index(z))  # noqa: E731
    refl, frame, weight, angle_sq = samples
    est = estimate_profile(refl, frame, weight, angle_sq, phi_c, zeta, phi_of_frame,
                           math.radians(scan.oscillation_width_deg),
                           algorithm=ctx.params.profile.gaussian_rs.sigma_m_algorithm, min_spots=min_spots)
    ctx.warnings.extend(est.warnings)
    return est


def _has_input_shoeboxes(table: ReflectionTable, in_rows: np.ndarray) -> bool:
    if "shoebox" not in table or len(in_rows) == 0:
        return False
    return int(np.sum(np.asarray(table["shoebox"].has_data)[in_rows])) >= 20


def _estimate_from_input(ctx: IntegrationContext) -> ProfileEstimate:
    """sigma_b / sigma_m from the spot-finding shoeboxes carried by the input reflections."""
    ra = ctx.refl_arrays
    keep = np.abs(ra["zeta"][ctx.pred_rows]) >= ctx.params.integration.filter.min_zeta
    pred_rows, in_rows = ctx.pred_rows[keep], ctx.in_rows[keep]
    used, *samples = input_shoebox_samples(ctx.table["shoebox"], in_rows, ctx.s1e[pred_rows], ctx.geom["pa"])
    return _fit_model(ctx, samples, ra["phi_c"][pred_rows][used], ra["zeta"][pred_rows][used],
                      ctx.params.profile.gaussian_rs.min_spots.overall)
