"""braggflow.scale: physical-model scaling of integrated reflections or any unmerged MTZ."""

from __future__ import annotations

import numpy as np

from braggflow.algorithms.merging.statistics import merging_statistics
from braggflow.algorithms.merging.unmerged_mtz import write_unmerged_mtz
from braggflow.algorithms.scaling.scaler import ScalingOptions, ScalingResult, scale_data
from braggflow.pipeline.command import Program, RunContext, run_program
from braggflow.pipeline.programs.symmetry import load_unmerged
from braggflow.report import merging as merging_report
from braggflow.report import scaling as report

__all__ = ["PROGRAM", "main", "options_from_params", "write_back"]

_LEVELS = {"low": (4, 5e5), "medium": (6, 5e4), "high": (6, 5e3)}


def options_from_params(p, wavelength: float) -> ScalingOptions:  # type: ignore[no-untyped-def]
    level = p.physical.absorption_level
    if level == "auto":
        level = "high" if wavelength > 1.2 else "low"
    lmax, weight = _LEVELS[level]
    return ScalingOptions(
        scale_interval=p.physical.scale_interval,
        decay_interval=p.physical.decay_interval,
        decay_correction=p.physical.decay_correction,
        absorption_correction=p.physical.absorption_correction,
        lmax=p.physical.lmax or lmax,
        decay_restraint=p.physical.decay_restraint,
        surface_weight=p.physical.surface_weight if p.physical.surface_weight is not None else weight,
        outlier_zmax=p.scaling_options.outlier_zmax,
        outlier_rejection=p.scaling_options.outlier_rejection == "standard",
        error_model=p.weighting.error_model.error_model == "basic",
        max_iterations=p.scaling_options.max_iterations,
        d_min=p.cut_data.d_min,
    )


def write_back(table, data_rows: np.ndarray, result: ScalingResult, intensity_raw: np.ndarray, sigma_raw: np.ndarray):  # type: ignore[no-untyped-def]
    """Scaling columns into a copy of the reflection table (DIALS names and flags)."""
    from braggflow.model.reflections import Flags

    out = table.copy()
    n = len(out)
    g = np.zeros(n)
    gv = np.zeros(n)
    iv = np.zeros(n)
    vv = np.zeros(n)
    g[data_rows] = np.nan_to_num(result.g, nan=0.0)
    gv[data_rows] = np.nan_to_num(result.g_variance, nan=0.0)
    sig = result.error_model.sigma(sigma_raw, intensity_raw)
    iv[data_rows] = intensity_raw
    vv[data_rows] = sig**2
    out["inverse_scale_factor"] = g
    out["inverse_scale_factor_variance"] = gv
    out["intensity.scale.value"] = iv
    out["intensity.scale.variance"] = vv
    flags = np.asarray(out["flags"]).astype(np.uint64).copy()
    clear = np.uint64(Flags.scaled | Flags.outlier_in_scaling | Flags.excluded_for_scaling)
    flags &= ~clear
    scaled = np.zeros(n, bool)
    scaled[data_rows] = ~result.excluded & ~result.outlier
    outlier = np.zeros(n, bool)
    outlier[data_rows] = result.outlier
    flags[scaled] |= np.uint64(Flags.scaled)
    flags[outlier] |= np.uint64(Flags.outlier_in_scaling)
    flags[~scaled & ~outlier] |= np.uint64(Flags.excluded_for_scaling)
    out["flags"] = flags
    return out


def run(ctx: RunContext) -> None:
    p = ctx.params
    data, experiments, reflections, mtz = load_unmerged(ctx, p.input.intensity, p.input.combine_partials, p.cut_data.partiality_cutoff)
    if mtz is not None and p.input.undo_mtz_scales and np.any(data.scale != 1):
        ctx.info("Input is already scaled (SCALEUSED): restoring unscaled intensities I*SCALEUSED before scaling")
        data = data.replace(intensity=data.intensity * data.scale, sigma=data.sigma * data.scale, scale=np.ones(len(data)))
    ctx.info(f"{len(data)} observations in {data.space_group.hm}")
    before = merging_statistics(data)
    opts = options_from_params(p, data.wavelength)
    result = scale_data(data, opts)
    ctx.show(report.summary(result))
    after = merging_statistics(result.data)
    ctx.info(f"Before scaling: Rmerge {before.overall.r_merge:.4f}, CC1/2 {before.cc_one_half_overall():.4f}")
    ctx.show(merging_report.summary(after, "Merging statistics of the scaled data"))
    if mtz is not None:
        write_unmerged_mtz(result.data, p.output.mtz, with_scale=True, history=["From braggflow.scale"])
        ctx.info(f"Saving scaled unmerged data to {p.output.mtz}")
        return
    table = write_back(reflections, data.row_index, result, data.intensity, data.sigma)
    model = {"__id__": "physical", "error_model": {"a": result.error_model.a, "b": result.error_model.b},
             "parameters": [float(v) for v in result.params], "n_scale": result.model.ns, "n_decay": result.model.nd,
             "n_absorption": result.model.na}
    new = type(experiments)(e.replace(scaling_model=dict(model)) for e in experiments)
    ctx.write_experiments(new, p.output.experiments)
    ctx.write_reflections(table, p.output.reflections)


PROGRAM = Program(
    name="scale",
    description="Scale unmerged data with a physical model (smooth scale, B decay, absorption surface), refine the error model, reject outliers.",
    run=run,
    accepts_mtz=True,
    usage="braggflow.scale symmetrized.expt symmetrized.refl | unmerged.mtz [param=value ...]",
)


def main(argv=None) -> int:  # type: ignore[no-untyped-def]
    return run_program(PROGRAM, argv)
