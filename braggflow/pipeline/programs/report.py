"""braggflow.report: one self-contained HTML report of any .expt/.refl files (dials.report)."""

from __future__ import annotations

from braggflow.errors import BraggflowError, UsageError
from braggflow.pipeline.command import Program, RunContext, run_program
from braggflow.pipeline.params import from_extract
from braggflow.report.html import ReportOptions, write_report


def _read_all(ctx: RunContext) -> tuple[list, list, list[str]]:  # type: ignore[type-arg]
    """Each input file on its own, named by its path; unreadable files become notes."""
    from braggflow.formats.expt_io import read_experiments
    from braggflow.formats.refl_io import read_refl

    experiments, reflections, problems = [], [], []
    for paths, reader, out in ((ctx.experiment_paths, read_experiments, experiments), (ctx.reflection_paths, read_refl, reflections)):
        for path in paths:
            try:
                out.append((path, reader(path)))
            except BraggflowError as exc:
                ctx.warn(f"{exc} (left out of the report)")
                problems.append(f"Could not read {exc}; left out.")
    return experiments, reflections, problems


def run(ctx: RunContext) -> None:
    if not ctx.experiment_paths and not ctx.reflection_paths:
        raise UsageError("braggflow.report: no input given; name .expt and/or .refl files, e.g. braggflow.report integrated.expt integrated.refl")
    experiments, reflections, problems = _read_all(ctx)
    p = ctx.params
    options = from_extract(ReportOptions, p)
    sections = write_report(experiments, reflections, p.output.html, options, json_path=p.output.json, notes=problems)
    for section in sections:
        ctx.info(f"  {section.title}: {len(section.plots)} plot(s)")
        for note in section.notes:
            ctx.warn(note)
    ctx.info(f"Report written to {p.output.html}")
    if p.output.json:
        ctx.info(f"Plot data written to {p.output.json}")


PROGRAM = Program(
    name="report",
    description="Write one self-contained HTML report (braggflow.report.html) with the plots of every stage the inputs allow.",
    run=run,
    usage="braggflow.report [imported.expt] [strong.refl] [refined.expt indexed.refl] [integrated.expt integrated.refl] [output.html=report.html]",
)


def main(argv: list[str] | None = None) -> int:
    return run_program(PROGRAM, argv)


if __name__ == "__main__":
    raise SystemExit(main())
