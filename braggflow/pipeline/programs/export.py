"""braggflow.export: integrated (or scaled) reflections -> unmerged MTZ (or mmCIF)."""

from __future__ import annotations

from braggflow.algorithms import export
from braggflow.algorithms.export.mmcif import write_mmcif
from braggflow.pipeline.command import Program, RunContext, run_program
from braggflow.pipeline.params import extract_params
from braggflow.report import export as report


def _announce_choices(ctx: RunContext, params: export.ExportParams, reflections) -> None:  # type: ignore[no-untyped-def]
    scaled = "intensity.scale.value" in reflections and "intensity.scale.variance" in reflections
    state = "scaled" if scaled else "unscaled"
    if "auto" in params.intensity or not params.intensity:
        kinds = export.choose_intensities(reflections, ("auto",))
        names = {"sum": "sum", "prf": "profile", "scale": "scale"}
        ctx.info(f"Data appears to be {state}, setting intensity = {'+'.join(names[k] for k in kinds)}")


def run(ctx: RunContext) -> None:
    experiments = ctx.load_experiments()
    reflections = ctx.load_reflections()
    params = extract_params(export.ExportParams, ctx.params)
    _announce_choices(ctx, params, reflections)
    result = export.export_mtz(experiments, reflections, params)
    for line in report.filter_log_lines(result.filter_report, params.mtz.min_isigi):
        ctx.info(line)
    for note in result.notes:
        if note not in result.filter_report.notes:
            ctx.warn(note)
    if params.format == "mmcif":
        path = params.mmcif.filename or export.default_hklout(reflections, ".cif")
        write_mmcif(result, path)
        ctx.info(f"Saving {result.n_reflections} integrated reflections to {path}")
        return
    path = params.mtz.hklout or export.default_hklout(reflections)
    export.write_mtz(result, path)
    ctx.info(f"Saving {result.n_reflections} integrated reflections to {path}")
    ctx.info("")
    ctx.show(report.mtz_summary(export.read_mtz_summary(path)))


PROGRAM = Program(
    name="export",
    description="Export integrated or scaled reflections as an unmerged MTZ file (dials.export).",
    run=run,
    usage="braggflow.export integrated.expt integrated.refl [mtz.hklout=integrated.mtz] [format=mmcif]",
)


def main(argv: list[str] | None = None) -> int:
    return run_program(PROGRAM, argv)


if __name__ == "__main__":
    raise SystemExit(main())
