"""braggflow.refine: refine the geometry of indexed experiments (dials.refine).

Default scan_varying=Auto: static refinement, then one scan-varying macro-cycle (crystal U and
B varying smoothly over the scan) for rotation data. Writes refined.expt and refined.refl.
"""

from __future__ import annotations


import numpy as np

from braggflow.algorithms.refinement import RefinementParams, refine_auto
from braggflow.algorithms.refinement.minimisers import NO_FREEDOM
from braggflow.algorithms.refinement.parameterisation import PredictionParameterisation
from braggflow.errors import InputDataError, ParameterError, StageFailed
from braggflow.model import ExperimentList
from braggflow.model.reflections import Flags, ReflectionTable
from braggflow.pipeline.command import Program, RunContext, run_program
from braggflow.report import refinement as report


def check_inputs(experiments: ExperimentList, reflections: ReflectionTable, where: str) -> None:
    """The reflections must belong to the experiments and some must be indexed."""
    for col in ("id", "miller_index"):
        if col not in reflections:
            raise InputDataError(where, f"has no '{col}' column; refine needs indexed reflections (run braggflow.index first)")
    if "xyzobs.mm.value" not in reflections and "xyzobs.px.value" not in reflections:
        raise InputDataError(where, "has no observed centroids (xyzobs.mm.value or xyzobs.px.value)")
    ids = np.asarray(reflections["id"])
    used = np.unique(ids[ids >= 0])
    if used.size and used.max() >= len(experiments):
        raise InputDataError(
            where, f"refers to experiment id {int(used.max())} but the experiment list has {len(experiments)} "
            "experiment(s); give the .expt file that was written together with this .refl file"
        )
    table_ids = reflections.experiment_identifiers
    for i in used:
        ident = table_ids.get(int(i))
        if ident is not None and ident != experiments[int(i)].identifier:
            raise InputDataError(
                where, f"experiment id {int(i)} has identifier {ident} but the experiment list has "
                f"{experiments[int(i)].identifier}; give the .expt file that was written together with this .refl file"
            )
    indexed = (ids >= 0) & np.any(np.asarray(reflections["miller_index"]) != 0, axis=1)
    if not indexed.any():
        raise InputDataError(where, "has no indexed reflections (every id is -1 or every Miller index is 0,0,0); run braggflow.index first")


def _check_free(experiments: ExperimentList, params: RefinementParams) -> None:
    pp = PredictionParameterisation(experiments, params.parameterisation, scan_varying=False)
    if not pp.free.any():
        raise ParameterError(
            "refinement.parameterisation: every parameter is fixed (beam, crystal and detector), so there "
            "is nothing to refine; unfix some, e.g. remove crystal.fix=all or detector.fix=all"
        )


def _crystal_lines(result) -> list[str]:  # type: ignore[no-untyped-def]
    crystals = result.experiments.crystals()
    if len(crystals) != 1:
        return []
    c = crystals[0]
    cell = c.unit_cell
    lines = ["", "Final refined crystal model:", "Crystal:",
             "    Unit cell: " + ", ".join(f"{v:.4f}" for v in cell.parameters[:3]) + ", "
             + ", ".join(f"{v:.3f}" for v in cell.parameters[3:]),
             f"    Space group: {c.space_group.xhm()}"]
    for label, m in (("U matrix", c.U), ("B matrix", c.B), ("A = UB", c.A)):
        rows = ["{" + ", ".join(f"{x:7.4f}" for x in row) + "}" for row in m]
        lines.append(f"    {label + ':':10s} {{" + rows[0] + ",")
        lines.extend(" " * 16 + r + ("," if k < 1 else "}") for k, r in enumerate(rows[1:]))
    if c.num_scan_points:
        lines.append(f"    A sampled at {c.num_scan_points} scan points")
    return lines


def run(ctx: RunContext) -> None:
    experiments = ctx.load_experiments()
    reflections = ctx.load_reflections()
    where = ctx.reflection_paths[0] if len(ctx.reflection_paths) == 1 else "the reflection files"
    check_inputs(experiments, reflections, where)
    params = RefinementParams.from_phil(ctx.params.refinement)
    _check_free(experiments, params)
    results = refine_auto(experiments, reflections, params, n_static_macrocycles=ctx.params.n_static_macrocycles)
    n_exp = len(experiments)
    for k, result in enumerate(results):
        if result.scan_varying and (k == 0 or not results[k - 1].scan_varying):
            ctx.info("")
            ctx.info("Scan-varying refinement")
        ctx.info("Configuring refiner")
        ctx.info("")
        n_working = result.steps[0].n_ref if result.steps else 0
        ctx.show(report.observation_summary(result))
        if result.n_outliers:
            ctx.info(f"{result.n_outliers} reflections have been flagged as outliers")
        n_free = int(result.free.sum()) if result.free is not None else 0
        ctx.info(f"There are {n_free} parameters to refine against {n_working} reflections in 3 dimensions")
        ctx.info("Performing refinement of a single Experiment..." if n_exp == 1 else f"Performing refinement of {n_exp} Experiments...")
        ctx.info("")
        ctx.show(report.refinement_steps(result))
        ctx.info(result.termination)
        ctx.info("")
        ctx.show(report.rmsds_by_experiment(result))
        ctx.info("Updating predictions for indexed reflections")
        if result.termination == NO_FREEDOM:
            raise StageFailed(
                "refinement: no parameter could be refined (all fixed, or fixed by auto-reduction for lack of "
                "reflections); lower refinement.parameterisation.auto_reduction.min_nref_per_parameter or fix fewer parameters"
            )
    final = results[-1]
    for line in _crystal_lines(final):
        ctx.info(line)
    table = final.reflections
    if not ctx.params.output.include_unused_reflections:
        table = table.select(np.nonzero(table.get_flags(Flags.used_in_refinement))[0])
    ctx.write_experiments(final.experiments, ctx.params.output.experiments)
    ctx.write_reflections(table, ctx.params.output.reflections)
    ctx.info(f"Time Taken: {ctx.elapsed():f}")


PROGRAM = Program(
    name="refine",
    description="Refine the diffraction geometry of indexed experiments (dials.refine): static, then scan-varying.",
    run=run,
    usage="braggflow.refine indexed.expt indexed.refl [scan_varying=False]",
)


def main(argv: list[str] | None = None) -> int:
    return run_program(PROGRAM, argv)


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["PROGRAM", "check_inputs", "main", "run"]
