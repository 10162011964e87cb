"""braggflow.reindex: apply change_of_basis_op (and space_group) to experiments and
reflections -> reindexed.expt / reindexed.refl (dials.reindex)."""

from __future__ import annotations

from braggflow.algorithms.reindex import (
    check_reflections_match,
    parse_change_of_basis,
    reindex_experiments,
    reindex_reflections,
)
from braggflow.errors import ParameterError, UsageError
from braggflow.pipeline.command import Program, RunContext, run_program


def _space_group(value):  # type: ignore[no-untyped-def]
    import gemmi

    if value is None or isinstance(value, gemmi.SpaceGroup):
        return value
    try:
        return gemmi.SpaceGroup(str(value))
    except ValueError:
        raise ParameterError(f"space_group={value}: unknown space group") from None


def run(ctx: RunContext) -> None:
    p = ctx.params
    if p.reference.experiments or p.reference.reflections or p.reference.file:
        raise ParameterError("reference: reindexing against a reference is not implemented in braggflow; give change_of_basis_op")
    if p.change_of_basis_op is None:
        raise ParameterError("change_of_basis_op: please provide a change_of_basis_op")
    P = parse_change_of_basis(p.change_of_basis_op)
    space_group = _space_group(p.space_group)
    experiments = ctx.load_experiments(required=False)
    reflections = ctx.load_reflections(required=False)
    if not experiments and not len(reflections):
        raise UsageError("braggflow.reindex: give an .expt and/or a .refl file to reindex")
    if experiments and len(reflections):
        check_reflections_match(experiments, reflections, ", ".join(ctx.reflection_paths))
    if experiments:
        reindexed = reindex_experiments(experiments, P, space_group)
        ctx.info(f"Change of basis op: {p.change_of_basis_op}")
        for e in reindexed[:1]:
            c = e.crystal.unit_cell if e.crystal is not None else None
            if c is not None:
                ctx.info(f"Reindexed crystal: {e.crystal.space_group.xhm()} cell {c.a:.4f} {c.b:.4f} {c.c:.4f} {c.alpha:.3f} {c.beta:.3f} {c.gamma:.3f}")
        ctx.write_experiments(reindexed, p.output.experiments)
    if len(reflections):
        offset = tuple(p.hkl_offset) if p.hkl_offset else None
        table, bad = reindex_reflections(reflections, P, offset, strict=False)
        n_indexed = int((abs(table["miller_index"]).sum(axis=1) > 0).sum()) + bad
        if bad and bad == n_indexed:
            raise ParameterError(
                f"change_of_basis_op={p.change_of_basis_op}: every indexed reflection gets non-integral Miller "
                "indices; this operator does not fit this indexing"
            )
        if bad:
            ctx.info(f"Removing {bad}/{n_indexed} reflections (change of basis results in non-integral indices)")
        ctx.write_reflections(table, p.output.reflections)


PROGRAM = Program(
    name="reindex",
    description="Change the basis of indexed experiments and reflections (dials.reindex).",
    run=run,
    usage="braggflow.reindex indexed.expt indexed.refl change_of_basis_op=a+b,-a+b,c [space_group=C2]",
)


def main(argv=None) -> int:  # type: ignore[no-untyped-def]
    return run_program(PROGRAM, argv)


if __name__ == "__main__":
    raise SystemExit(main())
