"""braggflow.integrate: integrate the reflections of refined experiments (dials.integrate)."""

from __future__ import annotations

from braggflow.algorithms.integration import IntegrateParams, integrate, summarize
from braggflow.pipeline.command import Program, RunContext, run_program
from braggflow.report import integration as report

__all__ = ["PROGRAM", "main"]


def run(ctx: RunContext) -> None:
    experiments = ctx.load_experiments()
    reflections = ctx.load_reflections()
    params = IntegrateParams.from_phil(ctx.params)
    with ctx.progress(1, "Integrating") as _:
        result = integrate(experiments, reflections, params)
    for w in result.warnings:
        ctx.warn(w)
    for est in result.profile_estimates:
        ctx.show(report.profile_model_text(est.sigma_b_deg, est.sigma_m_deg, est.n_reflections, est.source))
    ctx.show(report.summary(summarize(result.reflections)))
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in result.timing.items())
    ctx.info(f"Time: {timing}; peak shoebox memory {result.memory.get('main_pass_peak_shoebox_MB', 0):.1f} MB")
    ctx.write_reflections(result.reflections, ctx.params.output.reflections)
    ctx.write_experiments(result.experiments, ctx.params.output.experiments)


PROGRAM = Program(
    name="integrate",
    description="Integrate the reflections of refined experiments: summation and profile fitting.",
    run=run,
    usage="braggflow.integrate refined.expt refined.refl [options]",
    defaults="integration.mp.nproc = Auto",  # as dials.integrate: all cores unless told otherwise
)


def main(argv: list[str] | None = None) -> int:
    return run_program(PROGRAM, argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
