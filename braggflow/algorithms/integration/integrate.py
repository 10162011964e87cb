"""`integrate`: predict, model the profile, stream the images and integrate every reflection
(summation and profile fitting), with corrections and flags; see algorithms.md section 7."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from braggflow.algorithms.integration._context import IntegrationContext
from braggflow.algorithms.integration.assemble import assemble_table
from braggflow.algorithms.integration.model_pass import known_profile_model, profile_model_pass
from braggflow.algorithms.integration.overlaps import foreground_boxes, neighbour_arrays
from braggflow.algorithms.integration.params import IntegrateParams, resolve_nproc
from braggflow.algorithms.integration.passes import learn_profiles, main_pass
from braggflow.algorithms.integration.predict import predict_for_integration
from braggflow.algorithms.integration.profile_fitting import ReferenceProfiles, choose_profiles
from braggflow.algorithms.integration.profile_model import ProfileEstimate
from braggflow.algorithms.integration.references import match_references
from braggflow.algorithms.integration.shoeboxes import compute_bbox, effective_s1, kabsch_frames, nonempty, panel_arrays
from braggflow.errors import InputDataError, StageFailed
from braggflow.formats.imageset import open_imageset
from braggflow.model import Experiment, ExperimentList, ProfileModel
from braggflow.model.reflections import Flags, ReflectionTable

__all__ = ["IntegrationResult", "integrate", "corner_d_min"]

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


def _integrate_one(i, expt, table, params, progress, warnings, timing, memory):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    ctx = _prepare(i, expt, table, params, progress)
    ctx.warnings, ctx.timing, ctx.memory = warnings, timing, memory
    timing["predict"] = timing.get("predict", 0.0) + time.perf_counter() - t0
    # --- reference pass: estimate the profile model, learn reference profiles
    t1 = time.perf_counter()
    est = profile_model_pass(ctx, known_profile_model(expt, params, warnings))
    model = ProfileModel(sigma_b_deg=est.sigma_b_deg, sigma_m_deg=est.sigma_m_deg, n_sigma=ctx.n_sigma)
    sb_rad, sm_rad = math.radians(model.sigma_b_deg), math.radians(model.sigma_m_deg)
    bbox, todo, arrays = _boxes_and_neighbours(ctx, sb_rad, sm_rad)
    reference = None
    if params.integration.profile.fitting:
        nb = {k: v for k, v in arrays.items() if k.startswith("nb_")}
        reference = learn_profiles(ctx, sb_rad, sm_rad, nb)
    timing["reference"] = timing.get("reference", 0.0) + time.perf_counter() - t1
    # --- main pass
    t2 = time.perf_counter()
    if reference is not None and np.any(reference.usable):
        xyz = ctx.cols["xyzcal.px"]
        arrays["prof_idx"][todo] = choose_profiles(reference.grid, xyz[todo], ctx.cols["panel"][todo], reference.usable)
    out, flags = main_pass(ctx, todo, arrays, reference, sm_rad)
    timing["integrate"] = timing.get("integrate", 0.0) + time.perf_counter() - t2
    dont = np.ones(len(bbox), dtype=bool)
    dont[todo] = False
    flags |= np.where(dont, int(Flags.dont_integrate), 0)
    flags[ctx.pred_rows] |= int(Flags.reference_spot)
    return assemble_table(ctx, bbox, out, flags, sm_rad), model, est, reference


def _prepare(i, expt, table, params, progress) -> IntegrationContext:  # type: ignore[no-untyped-def]
    """Predict to d_min (default: the detector corners) and match the reference spots."""
    p = params
    d_min = p.prediction.d_min or corner_d_min(expt)
    cols = predict_for_integration(expt, d_min, d_max=p.prediction.d_max, padding_deg=p.prediction.padding,
                                   force_static=p.prediction.force_static)
    n = len(cols["d"])
    if n == 0:
        raise StageFailed(f"experiment {i}: no reflections are predicted on the detector to d_min = {d_min:.2f} A")
    pa = panel_arrays(expt.detector)
    s1e = effective_s1(pa, cols["xyzcal.px"], cols["panel"], expt.beam.wavelength)
    e1, e2, _ = kabsch_frames(s1e, expt.beam.s0)
    zeta = cols["zeta"]
    pred_rows, in_rows = match_references(table, i, cols["miller_index"], cols["xyzcal.px"][:, 2])
    spot_row = np.full(n, -1, dtype=np.int64)
    spot_row[pred_rows] = in_rows
    refl_arrays = {"panel": cols["panel"].astype(np.int64), "e1": e1, "e2": e2, "phi_c": cols["xyzcal.mm"][:, 2],
                   "zeta": zeta, "xyzcal_px": cols["xyzcal.px"]}
    geom = dict(pa=pa, iset=open_imageset(expt), zfirst=expt.scan.array_range[0], nproc=resolve_nproc(p))
    return IntegrationContext(
        index=i, expt=expt, params=p, table=table, cols=cols, refl_arrays=refl_arrays, s1e=s1e, geom=geom,
        n_sigma=p.profile.gaussian_rs.parameters.n_sigma, pred_rows=pred_rows, in_rows=in_rows,
        ref_rows=pred_rows[np.abs(zeta[pred_rows]) >= p.integration.filter.min_zeta], spot_row=spot_row,
        progress=progress)


def _boxes_and_neighbours(ctx: IntegrationContext, sb_rad: float, sm_rad: float):  # type: ignore[no-untyped-def]
    """Bounding boxes with the final model, the rows to integrate (|zeta| >= min_zeta, box on
    the detector) and the main-pass arrays, including each row's overlapping neighbours."""
    expt, cols, ra = ctx.expt, ctx.cols, ctx.refl_arrays
    n = len(cols["d"])
    bbox = compute_bbox(expt, ctx.s1e, cols["panel"], ra["phi_c"], ra["zeta"], sb_rad, sm_rad, ctx.n_sigma)
    dont = (np.abs(ra["zeta"]) < ctx.params.integration.filter.min_zeta) | ~nonempty(bbox)
    todo = np.nonzero(~dont)[0]
    delta_b = np.full(n, ctx.n_sigma * sb_rad)
    fg_box = foreground_boxes(compute_bbox(expt, ctx.s1e, cols["panel"], ra["phi_c"], ra["zeta"], sb_rad, sm_rad,
                                           ctx.n_sigma, multiplier=1.0), bbox)
    neighbours, crowded = neighbour_arrays(bbox, fg_box, cols["panel"], ra["e1"], ra["e2"], delta_b, todo)
    ctx.memory["overlap_rows_over_max_neighbours"] = ctx.memory.get("overlap_rows_over_max_neighbours", 0) + crowded
    arrays = dict(ra, bbox=bbox, prof_idx=np.full(n, -1, dtype=np.int64), delta_b=delta_b, **neighbours)
    return bbox, todo, arrays
