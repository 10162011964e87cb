"""braggflow.merge: merged MTZ (IMEAN, I(+)/I(-), French-Wilson F) and merging statistics."""

from __future__ import annotations

from braggflow.algorithms.merging.merge import merge_data, write_merged_mtz
from braggflow.algorithms.merging.statistics import merging_statistics, resolution_cutoff_cc_half
from braggflow.pipeline.command import Program, RunContext, run_program
from braggflow.pipeline.programs.symmetry import load_unmerged
from braggflow.report import merging as report

__all__ = ["PROGRAM", "main"]


def run(ctx: RunContext) -> None:
    p = ctx.params
    data, _, _, _ = load_unmerged(ctx, "auto", p.combine_partials, p.partiality_threshold)
    ctx.info(f"{len(data)} observations in {data.space_group.hm}")
    stats = merging_statistics(data, n_bins=p.merging.n_bins, d_min=p.d_min, d_max=p.d_max, seed=p.merging.seed,
                               cc_half_method=p.merging.cc_half_method, cc_half_significance_level=0.001)
    cutoff = resolution_cutoff_cc_half(stats, p.resolution.cc_half)
    d_min = p.d_min
    if cutoff is not None:
        ctx.info(f"Resolution where CC1/2 falls to {p.resolution.cc_half}: {cutoff:.2f} A")
        if p.resolution.apply_cc_half_cutoff and d_min is None and cutoff > stats.overall.d_min:
            d_min = cutoff
            stats = merging_statistics(data, n_bins=p.merging.n_bins, d_min=d_min, d_max=p.d_max, seed=p.merging.seed,
                                       cc_half_method=p.merging.cc_half_method, cc_half_significance_level=0.001)
    else:
        ctx.info(f"CC1/2 stays above {p.resolution.cc_half} to the edge of the data")
    ctx.show(report.summary(stats))
    merged = merge_data(data, use_internal_variance=p.merging.use_internal_variance, d_min=d_min, d_max=p.d_max, truncate=p.truncate)
    write_merged_mtz(merged, p.output.mtz, history=["From braggflow.merge"])
    ctx.info(f"Saved {len(merged.hkl)} merged reflections to {p.output.mtz}")


PROGRAM = Program(
    name="merge",
    description="Merge scaled data: merged MTZ (IMEAN, I(+)/I(-), French-Wilson F) and the merging statistics tables.",
    run=run,
    accepts_mtz=True,
    usage="braggflow.merge scaled.expt scaled.refl | scaled.mtz [param=value ...]",
)


def main(argv=None) -> int:  # type: ignore[no-untyped-def]
    return run_program(PROGRAM, argv)
