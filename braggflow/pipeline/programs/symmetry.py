"""braggflow.symmetry: Laue group and space group from the integrated (or any unmerged) data."""

from __future__ import annotations

import numpy as np

from braggflow.algorithms.merging.unmerged import UnmergedData, from_reflections
from braggflow.algorithms.merging.unmerged_mtz import read_unmerged_mtz, write_unmerged_mtz
from braggflow.algorithms.symmetry.driver import determine_symmetry
from braggflow.errors import InputDataError, UsageError
from braggflow.pipeline.command import Program, RunContext, run_program
from braggflow.report import symmetry as report

__all__ = ["PROGRAM", "main", "mtz_inputs", "load_unmerged", "apply_to_experiments"]


def mtz_inputs(ctx: RunContext) -> list[str]:
    """MTZ files from input.mtz and positional .mtz arguments."""
    return [p for p in (getattr(ctx.params.input, "mtz", None) or []) if p] + ctx.mtz_paths


def load_unmerged(ctx: RunContext, intensity: str = "auto", combine_partials: bool = True, partiality_threshold: float = 0.4):  # type: ignore[no-untyped-def]
    """(UnmergedData, experiments or None, reflections or None, mtz path or None)."""
    mtzs = mtz_inputs(ctx)
    if mtzs:
        if ctx.experiment_paths or ctx.reflection_paths:
            raise UsageError(f"{ctx.program.command}: give either MTZ files or .expt/.refl files, not both")
        if len(mtzs) > 1:
            raise UsageError(f"{ctx.program.command}: one MTZ file at a time (got {len(mtzs)})")
        ctx.info(f"Reading {mtzs[0]}")
        data = read_unmerged_mtz(mtzs[0], intensity="auto" if intensity in ("auto", "scale") else intensity, combine_partials=combine_partials)
        return data, None, None, mtzs[0]
    experiments = ctx.load_experiments()
    reflections = ctx.load_reflections()
    data = from_reflections(experiments, reflections, intensity=intensity, partiality_threshold=partiality_threshold)
    return data, experiments, reflections, None


def apply_to_experiments(experiments, reflections, P: np.ndarray, space_group):  # type: ignore[no-untyped-def]
    """Reindex crystals and miller indices: (a' b' c') = (a b c) P, h' = h P."""
    new = type(experiments)()
    for e in experiments:
        crystal = e.crystal.change_basis(P, space_group) if e.crystal is not None else None
        new.append(e.replace(crystal=crystal))
    table = reflections.copy()
    if "miller_index" in table:
        table["miller_index"] = np.rint(np.asarray(table["miller_index"], float) @ P).astype(np.int32)
    return new, table


def run(ctx: RunContext) -> None:
    p = ctx.params
    data, experiments, reflections, mtz = load_unmerged(ctx, p.input.intensity, True, p.partiality_threshold)
    if not isinstance(data, UnmergedData) or len(data) == 0:
        raise InputDataError("input", "no observations")
    ctx.info(f"{len(data)} observations, space group {data.space_group.hm}, cell " + " ".join(f"{v:.3f}" for v in data.cell.parameters))
    result = determine_symmetry(data, max_delta_deg=p.lattice_symmetry_max_delta, d_min=p.d_min,
                                systematic_absences=p.systematic_absences.check, seed=p.seed)
    ctx.show(report.summary(result))
    if mtz is not None:
        write_unmerged_mtz(result.data, p.output.mtz, with_scale=bool(np.any(result.data.scale != 1)),
                           history=[f"From braggflow.symmetry: {result.space_group.hm}"])
        ctx.info(f"Saving reindexed unmerged data to {p.output.mtz}")
        return
    new_expts, table = apply_to_experiments(experiments, reflections, result.P, result.space_group)
    ctx.write_experiments(new_expts, p.output.experiments)
    ctx.write_reflections(table, p.output.reflections)


PROGRAM = Program(
    name="symmetry",
    description="Determine the Laue group (Evans 2011 scoring) and space group (screw-axis absences); reindex.",
    run=run,
    accepts_mtz=True,
    usage="braggflow.symmetry integrated.expt integrated.refl | unmerged.mtz [param=value ...]",
)


def main(argv=None) -> int:  # type: ignore[no-untyped-def]
    return run_program(PROGRAM, argv)
