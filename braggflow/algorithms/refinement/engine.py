"""Geometry refinement of rotation experiments: `refine(experiments, reflections, params)`.

Flow (algorithms.md 5): usable indexed reflections -> initial prediction -> spindle/scan-margin
selection -> centroid outlier rejection on the initial residuals -> working-set sample ->
auto-reduction check -> minimiser -> refined models, re-predicted reflections, flags, RMSDs.
With `parameterisation.scan_varying=True` the crystals vary smoothly over their scans
(algorithms.md 5.6): scans are first trimmed to the observations, every observation gets the
model frame of its block (`compose_model_per`), and the refined crystals carry
A_at_scan_points. `scan_varying=Auto` is static here (as DIALS' Refiner); `refine_auto` is
dials.refine's Auto: static macro-cycle(s) then one scan-varying macro-cycle.
Inputs are never mutated.
"""

from __future__ import annotations

import math

import dataclasses
from dataclasses import dataclass

import numpy as np

from braggflow.algorithms.refinement.minimisers import NO_FREEDOM, History, minimise
from braggflow.algorithms.refinement.outliers import find_outliers
from braggflow.algorithms.refinement.parameterisation import PredictionParameterisation
from braggflow.algorithms.refinement.params import RefinementParams, check_supported
from braggflow.algorithms.refinement.prediction import predict_observed
from braggflow.algorithms.refinement.selection import (
    centroids_px_to_mm,
    observed_s1,
    sample_working_set,
    scan_margin_mask,
    spindle_mask,
    usable_mask,
)
from braggflow.algorithms.refinement.target import Observations, Target, predict_all, rmsds
from braggflow.errors import InputDataError, ParameterError, StageFailed
from braggflow.model import ExperimentList
from braggflow.model.reflections import Flags, ReflectionTable
from braggflow.phil import AUTO


@dataclass(frozen=True)
class RefinementStep:
    """RMSDs after `iteration` accepted steps (0: starting model)."""

    iteration: int
    n_ref: int
    rmsd_x_mm: float
    rmsd_y_mm: float
    rmsd_phi_deg: float
    rmsd_x_px: float
    rmsd_y_px: float
    rmsd_z_images: float


@dataclass(frozen=True)
class ExperimentRmsds:
    """Final RMSDs of the working set of one experiment."""

    experiment: int
    n_ref: int
    rmsd_x_px: float
    rmsd_y_px: float
    rmsd_z_images: float
    rmsd_x_mm: float
    rmsd_y_mm: float
    rmsd_phi_deg: float


@dataclass(frozen=True)
class RefinementResult:
    """Refined copies of the models, updated reflections and the refinement record.

    initial_residuals / weights : (n_working, 3) calc - obs (mm, mm, rad) of the working set
    at the start, and their weights (1/mm^2, 1/mm^2, 1/rad^2): the data of DIALS' "Summary
    statistics for observations matched to predictions".
    """

    experiments: ExperimentList
    reflections: ReflectionTable
    steps: list[RefinementStep]
    termination: str
    rmsds_by_experiment: list[ExperimentRmsds]
    n_outliers: int
    parameter_names: tuple[str, ...] = ()
    parameter_values: np.ndarray | None = None
    parameter_esds: np.ndarray | None = None
    initial_residuals: np.ndarray | None = None
    weights: np.ndarray | None = None
    scan_varying: bool = False
    free: np.ndarray | None = None  # (n_parameters,) True for refined parameters

    @property
    def final_rmsds_px(self) -> tuple[float, float, float]:
        last = self.steps[-1]
        return (last.rmsd_x_px, last.rmsd_y_px, last.rmsd_z_images)


def _check_models(experiments: ExperimentList) -> None:
    for i, e in enumerate(experiments):
        missing = [n for n in ("beam", "detector", "goniometer", "scan", "crystal") if getattr(e, n) is None]
        if missing:
            raise InputDataError(f"experiment {i}", f"has no {', '.join(missing)} model; refinement needs a rotation sweep with a crystal")
        if e.scan.is_still:
            raise InputDataError(f"experiment {i}", "is a still (zero oscillation width); stills refinement is not implemented")


def _px_scale(experiments: ExperimentList, exp: np.ndarray, panel: np.ndarray) -> np.ndarray:
    scale = np.ones((len(exp), 3))
    for i in np.unique(exp):
        e = experiments[int(i)]
        sel = exp == i
        sizes = np.array([p.pixel_size for p in e.detector.panels])
        scale[sel, :2] = sizes[panel[sel]]
        scale[sel, 2] = abs(np.radians(e.scan.oscillation_width_deg))
    return scale


def _gather(experiments: ExperimentList, table: ReflectionTable, rows: np.ndarray) -> Observations:
    exp = np.asarray(table["id"])[rows].astype(np.int64)
    panel = (np.asarray(table["panel"])[rows] if "panel" in table else np.zeros(len(rows))).astype(np.int64)
    entering = np.asarray(table["entering"])[rows].astype(bool) if "entering" in table else None
    return Observations(
        exp, np.asarray(table["miller_index"])[rows], panel, entering,
        np.asarray(table["xyzobs.mm.value"])[rows], 1.0 / np.asarray(table["xyzobs.mm.variance"])[rows],
        _px_scale(experiments, exp, panel),
    )


def _predict(experiments: ExperimentList, obs: Observations) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    calc, s1, ok = np.zeros((len(obs), 3)), np.zeros((len(obs), 3)), np.zeros(len(obs), dtype=bool)
    for i in np.unique(obs.exp):
        rows = np.nonzero(obs.exp == i)[0]
        pred = predict_observed(
            experiments[int(i)], obs.miller_index[rows], obs.panel[rows], obs.xyzobs_mm[rows, 2],
            None if obs.entering is None else obs.entering[rows],
        )
        calc[rows], s1[rows], ok[rows] = pred.xyzcal_mm, pred.s1, pred.ok
    return calc, s1, ok


def _rmsd_cutoffs(experiments: ExperimentList, params: RefinementParams) -> np.ndarray:
    t = params.target
    if t.rmsd_cutoff == "absolute" and t.absolute_cutoffs is not None:
        return np.array(t.absolute_cutoffs, dtype=np.float64)
    e = experiments[0]
    p = e.detector[0].pixel_size
    bins = np.array([p[0], p[1], abs(np.radians(e.scan.oscillation_width_deg))])
    return (t.bin_size_fraction or 0.0) * bins


def nref_per_parameter(target: Target, p_free: np.ndarray) -> np.ndarray:
    """Reflections with a non-zero gradient (|g| > 1e-10 in X, Y or phi) for each free parameter
    (DIALS autoreduce.count_associated_refs)."""
    jac, ok = target.jacobian_unweighted(p_free)
    return np.sum(np.any(np.abs(jac) > 1e-10, axis=1) & ok[:, None], axis=0)


def _auto_reduce(pp: PredictionParameterisation, obs: Observations, params: RefinementParams) -> np.ndarray:
    """DIALS auto-reduction: every free parameter needs min_nref_per_parameter reflections with
    non-zero gradients. fail: raise; fix: fix those parameters; remove: also drop their
    reflections, repeating until all remaining parameters are supported. Returns the (n,) mask
    of the observations kept."""
    ar = params.parameterisation.auto_reduction
    if ar.action == "remove" and len(pp.detectors) == 1 and len(pp.experiments) == 1 and len(pp.detectors[0]) == 1:
        raise ParameterError(
            "refinement.parameterisation.auto_reduction.action=remove cannot be used for a single experiment "
            "with a single-panel detector (it could only remove all reflections); use fix or fail"
        )
    keep = np.ones(len(obs), dtype=bool)
    while True:
        free_idx = np.nonzero(pp.free)[0]
        if free_idx.size == 0 or not keep.any():
            return keep
        target = Target(pp, obs.select(keep))
        counts = nref_per_parameter(target, pp.initial[pp.free])
        low = counts < ar.min_nref_per_parameter
        if not low.any():
            return keep
        names = [pp.names[j] for j in free_idx[low]]
        if ar.action == "fail":
            raise StageFailed(
                f"refinement: Too few reflections to parameterise {', '.join(names)} "
                f"({int(counts[low].min())} reflections for a parameter, need {ar.min_nref_per_parameter}); "
                "set refinement.parameterisation.auto_reduction.action=fix (or remove) or fix those parameters"
            )
        if ar.action == "remove":
            jac, _ = target.jacobian_unweighted(pp.initial[pp.free])
            associated = np.any(np.any(np.abs(jac[:, :, low]) > 1e-10, axis=1), axis=1)
            pp.fix(names)
            keep[np.nonzero(keep)[0][associated]] = False
            continue
        pp.fix(names)
        return keep


# -- scan-varying support ------------------------------------------------------------------
def trim_scans_to_observations(experiments: ExperimentList, table: ReflectionTable) -> ExperimentList:
    """DIALS `_trim_scans_to_observations`: shrink each scan to the frames its indexed
    reflections cover (bbox z range, else the centroid range padded by 0.5 degree)."""
    ids = np.asarray(table["id"])
    z_obs = np.asarray(table["xyzobs.px.value"])[:, 2] if "xyzobs.px.value" in table else None
    bbox = np.asarray(table["bbox"]) if "bbox" in table else None
    if bbox is not None and np.all(bbox[:, 4] == 0):
        bbox = None
    out = ExperimentList()
    for i, e in enumerate(experiments):
        sel = ids == i
        if not sel.any() or e.scan is None or e.scan.is_still:
            out.append(e)
            continue
        z = z_obs[sel] if z_obs is not None else e.scan.array_index_from_angle(np.degrees(np.asarray(table["xyzobs.mm.value"])[sel, 2]))
        start, stop = e.scan.array_range
        if int(np.min(z)) == start and int(math.ceil(np.max(z))) == stop:
            out.append(e)
            continue
        if bbox is not None:
            obs_start, obs_stop = int(np.min(bbox[sel, 4])), int(np.max(bbox[sel, 5]))
        else:
            pad = int(math.ceil(0.5 / abs(e.scan.oscillation_width_deg)))
            obs_start, obs_stop = int(np.min(z)) - pad, int(math.ceil(np.max(z))) + pad
        if obs_start > start or obs_stop < stop:
            im_start, im_stop = max(start, obs_start) + 1, min(obs_stop, stop)
            e = e.replace(scan=e.scan.slice(im_start, im_stop))
        out.append(e)
    return out


def model_frames(experiments: ExperimentList, exp: np.ndarray, phi_obs: np.ndarray, compose_model_per: str, block_width_deg: float) -> np.ndarray:
    """Frame t at which each observation's scan-varying model state is composed (DIALS
    BlockCalculator): per image, floor(z_obs); per block of block_width degrees from the scan
    start, floor(z of the block centre)."""
    frames = np.full(len(exp), np.nan)
    for i in np.unique(exp):
        e = experiments[int(i)]
        sel = exp == i
        scan = e.scan
        phi = phi_obs[sel]
        if compose_model_per == "image":
            frames[sel] = np.floor(scan.array_index_from_angle(np.degrees(phi)))
            continue
        start, stop = np.radians(scan.oscillation_range_deg)
        width = np.radians(block_width_deg)
        n_blocks = int(abs(stop - start) / width) + 1
        step = (width if stop > start else -width) + 1e-11
        block = np.clip(np.floor((phi - start) / step), 0, n_blocks - 1)
        centre = start + block * step + width * (0.5 - 1e-11) * np.sign(step)
        frames[sel] = np.floor(scan.array_index_from_angle(np.degrees(centre)))
    return frames


def _steps(history: History) -> list[RefinementStep]:
    return [
        RefinementStep(i, n, float(r[0]), float(r[1]), float(np.degrees(r[2])), float(rp[0]), float(rp[1]), float(rp[2]))
        for i, (r, rp, n) in enumerate(zip(history.rmsds, history.rmsds_px, history.nref))
    ]


def _by_experiment(obs: Observations, resid: np.ndarray, ok: np.ndarray, n_exp: int) -> list[ExperimentRmsds]:
    out = []
    for i in range(n_exp):
        sel = (obs.exp == i) & ok
        mm = rmsds(resid[sel])
        px = rmsds(resid[sel] / obs.px_scale[sel])
        out.append(ExperimentRmsds(i, int(sel.sum()), float(px[0]), float(px[1]), float(px[2]), float(mm[0]), float(mm[1]), float(np.degrees(mm[2]))))
    return out


def _update_table(table: ReflectionTable, pp: PredictionParameterisation, full: np.ndarray, rows: np.ndarray, params: RefinementParams) -> None:
    """Re-predict xyzcal.mm/px and s1 of `rows` with the refined models."""
    n = len(table)
    experiments = pp.compose(full)
    obs = _gather(experiments, table, rows)
    if pp.is_scan_varying:
        pz = params.parameterisation
        obs = obs.with_frame(model_frames(experiments, obs.exp, obs.xyzobs_mm[:, 2], pz.compose_model_per, pz.block_width))
    calc, s1, ok, _ = predict_all(pp, full, obs)
    xyzcal_mm = np.array(table["xyzcal.mm"]) if "xyzcal.mm" in table else np.zeros((n, 3))
    xyzcal_px = np.array(table["xyzcal.px"]) if "xyzcal.px" in table else np.zeros((n, 3))
    s1_col = np.array(table["s1"]) if "s1" in table else np.zeros((n, 3))
    px = np.zeros_like(calc)
    for i in np.unique(obs.exp):
        e = experiments[int(i)]
        for p in np.unique(obs.panel[obs.exp == i]):
            sel = (obs.exp == i) & (obs.panel == p) & ok
            px[sel, :2] = e.detector[int(p)].millimeter_to_pixel(calc[sel, :2])
        sel = obs.exp == i
        px[sel, 2] = e.scan.array_index_from_angle(np.degrees(calc[sel, 2]))
    good = rows[ok]
    xyzcal_mm[good], xyzcal_px[good], s1_col[good] = calc[ok], px[ok], s1[ok]
    table["xyzcal.mm"], table["xyzcal.px"], table["s1"] = xyzcal_mm, xyzcal_px, s1_col


def _covariance(normal: np.ndarray | None, objective: float, m: int) -> np.ndarray | None:
    """Free-parameter covariance (J^T W J)^-1 * chi2_reduced, or None if not estimable."""
    if normal is None or normal.size == 0 or m <= normal.shape[0]:
        return None
    try:
        return np.linalg.inv(normal) * (2.0 * objective / (m - normal.shape[0]))
    except np.linalg.LinAlgError:
        return None


def _with_b_covariance(experiments: ExperimentList, pp: PredictionParameterisation, full: np.ndarray, cov_full: np.ndarray) -> ExperimentList:
    """Propagate the cell-parameter covariance to B_covariance (81 numbers, row-major B)."""
    new = {}
    for k, crystal in enumerate(pp.crystals):
        if ("cell", k) in pp.smoothers or ("orientation", k) in pp.smoothers:
            new[k] = crystal.B_covariance  # scan-varying: keep the static estimate (as DIALS)
            continue
        cols = pp.model_columns()[("cell", k)]
        jac = pp.cell_params[k].dB_dp(full[cols]).reshape(len(cols), 9).T  # (9, k)
        new[k] = (jac @ cov_full[np.ix_(cols, cols)] @ jac.T).reshape(81)
    out = ExperimentList()
    done: dict[int, object] = {}
    for i, e in enumerate(experiments):
        c = pp.experiment_models(i)[1]
        if c not in done:
            done[c] = e.crystal.replace(B_covariance=new[c])
        out.append(e.replace(crystal=done[c]))
    return out


def _scan_varying(params: RefinementParams) -> bool:
    return params.parameterisation.scan_varying is True


def refine(experiments: ExperimentList, reflections: ReflectionTable, params: RefinementParams | None = None) -> RefinementResult:
    """Refine the models of rotation `experiments` against indexed `reflections`.

    Static unless params.parameterisation.scan_varying is True (Auto counts as static here,
    as in DIALS' Refiner; see `refine_auto`). reflections need miller_index, id, panel,
    xyzobs.mm.value/variance (or xyzobs.px.* to convert) and ideally entering and flags.
    Returns refined copies and an updated table.
    """
    params = params or RefinementParams()
    check_supported(params)
    _check_models(experiments)
    table = reflections.copy()
    if "xyzobs.mm.value" not in table or "xyzobs.mm.variance" not in table:
        table = centroids_px_to_mm(experiments, table)
    sv = _scan_varying(params)
    if sv and params.parameterisation.trim_scan_to_observations:
        experiments = trim_scans_to_observations(experiments, table)
    usable = usable_mask(table, len(experiments))
    rows = np.nonzero(usable)[0]
    pp = PredictionParameterisation(experiments, params.parameterisation, scan_varying=sv)
    obs = _gather(experiments, table, rows)
    if sv:
        pz = params.parameterisation
        obs = obs.with_frame(model_frames(experiments, obs.exp, obs.xyzobs_mm[:, 2], pz.compose_model_per, pz.block_width))
    calc, _, ok = _predict(experiments, obs)
    s1 = observed_s1(experiments, obs.exp, obs.panel, obs.xyzobs_mm[:, :2])
    ok &= spindle_mask(experiments, obs.exp, s1, params.reflections.close_to_spindle_cutoff)
    ok &= scan_margin_mask(experiments, obs.exp, obs.xyzobs_mm[:, 2], params.reflections.scan_margin)
    outlier = np.zeros(len(obs), dtype=bool)
    outlier[ok] = find_outliers(
        (calc - obs.xyzobs_mm)[ok], obs.exp[ok], obs.panel[ok], obs.xyzobs_mm[ok, 2],
        params.reflections.outlier, seed=params.reflections.random_seed or 42,
    )
    working = sample_working_set(experiments, obs.exp, ok & ~outlier, params.reflections)
    if working.sum() == 0:
        raise StageFailed("refinement: no reflections are usable for refinement; check the indexing (id, miller_index) and the centroid variances")
    initial_residuals = (calc - obs.xyzobs_mm)[working]
    wrows = np.nonzero(working)[0]
    wobs = obs.select(working)
    keep = _auto_reduce(pp, wobs, params)
    wrows, wobs = wrows[keep], wobs.select(keep)
    target = Target(pp, wobs)
    p0 = pp.initial[pp.free]
    if p0.size == 0 or len(wobs) == 0:
        ev = target.evaluate(p0, jacobian=False)
        history = History()
        history.record(ev)
        message, p, normal = NO_FREEDOM, p0, None
    else:
        res = minimise(params.refinery.engine, target.evaluate, p0, _rmsd_cutoffs(experiments, params), params.refinery.max_iterations)
        history, message, p, normal, ev = res.history, res.message, res.p, res.normal_matrix, res.evaluation
    full = pp.full_from_free(p)
    refined = pp.compose(full)
    # re-predict every indexed reflection and set the flags
    indexed = np.nonzero((np.asarray(table["id"]) >= 0) & (np.asarray(table["id"]) < len(experiments)) & np.any(np.asarray(table["miller_index"]) != 0, axis=1))[0]
    _update_table(table, pp, full, indexed, params)
    table.unset_flags(np.arange(len(table)), Flags.used_in_refinement | Flags.centroid_outlier)
    table.set_flags(rows[wrows], Flags.used_in_refinement)
    table.set_flags(rows[outlier], Flags.centroid_outlier)
    cov = _covariance(normal, ev.objective, 3 * int(ev.ok.sum()))
    cov_full = np.zeros((len(full), len(full)))
    if cov is not None:
        cov_full[np.ix_(pp.free, pp.free)] = cov
        refined = _with_b_covariance(refined, pp, full, cov_full)
    esds = np.sqrt(np.clip(np.diag(cov_full), 0, None))
    return RefinementResult(
        experiments=refined,
        reflections=table,
        steps=_steps(history),
        termination=message,
        rmsds_by_experiment=_by_experiment(wobs, ev.residuals, ev.ok, len(experiments)),
        n_outliers=int(outlier.sum()),
        parameter_names=pp.names,
        parameter_values=full,
        parameter_esds=esds,
        initial_residuals=initial_residuals,
        weights=obs.weights[working],
        scan_varying=sv,
        free=pp.free.copy(),
    )


def refine_auto(
    experiments: ExperimentList, reflections: ReflectionTable, params: RefinementParams | None = None,
    n_static_macrocycles: int = 1,
) -> list[RefinementResult]:
    """dials.refine's macro-cycles. scan_varying Auto (or None): n static runs, then one
    scan-varying run starting from the static result (for rotation scans); True: n
    scan-varying runs; False: n static runs. Each run redoes outlier rejection from the
    observations. Returns the result of every run in order (the last is the final one)."""
    params = params or RefinementParams()
    sv = params.parameterisation.scan_varying
    auto = sv is AUTO or sv is None
    results = []
    for _ in range(max(int(n_static_macrocycles), 1)):
        run_params = dataclasses.replace(params, parameterisation=dataclasses.replace(params.parameterisation, scan_varying=(False if auto else sv)))
        result = refine(experiments, reflections, run_params)
        results.append(result)
        experiments, reflections = result.experiments, result.reflections
    if auto and all(e.scan is not None and not e.scan.is_still for e in experiments):
        run_params = dataclasses.replace(params, parameterisation=dataclasses.replace(params.parameterisation, scan_varying=True))
        results.append(refine(experiments, reflections, run_params))
    return results


__all__ = [
    "ExperimentRmsds", "RefinementResult", "RefinementStep", "model_frames", "nref_per_parameter", "refine",
    "refine_auto", "trim_scans_to_observations",
]
