"""braggflow.index: find the lattice(s) of the strong spots and index them (dials.index)."""

from __future__ import annotations

from braggflow.algorithms import indexing
from braggflow.algorithms.indexing.macrocycles import RefinementReport
from braggflow.algorithms.refinement import RefinementParams
from braggflow.pipeline.command import Program, RunContext, run_program
from braggflow.report import indexing as report
from braggflow.report import refinement as refinement_report


def run(ctx: RunContext) -> None:
    experiments = ctx.load_experiments()
    reflections = ctx.load_reflections()
    params = indexing.from_phil(ctx.params)
    refinement_params = RefinementParams.from_phil(ctx.params.refinement)
    result = indexing.index(experiments, reflections, params, refinement_params=refinement_params)
    for line in result.log:
        ctx.info(line)
        if isinstance(line, RefinementReport):  # the tables dials.index prints in each macro-cycle
            ctx.show(refinement_report.observation_summary(line.result))
            ctx.show(refinement_report.refinement_steps(line.result))
            ctx.show(refinement_report.rmsds_by_experiment(line.result))
    ctx.show(report.summary(result))
    ctx.write_experiments(result.experiments, ctx.params.output.experiments)
    ctx.write_reflections(result.reflections, ctx.params.output.reflections)
    ctx.info(f"Time Taken: {ctx.elapsed():f}")


PROGRAM = Program(
    name="index",
    description="Autoindex strong spots: find the unit cell and orientation of the crystal(s) and "
    "assign Miller indices, refining the geometry in macro-cycles (dials.index).",
    run=run,
    usage="braggflow.index imported.expt strong.refl [space_group=P4] [unit_cell=...] [indexing.method=fft1d]",
)


def main(argv: list[str] | None = None) -> int:
    return run_program(PROGRAM, argv)


if __name__ == "__main__":
    raise SystemExit(main())
