"""braggflow.refine_bravais_settings: refine the P1 indexing solution in every Bravais
setting compatible with its metric -> bravais_setting_N.expt + bravais_summary.json."""

from __future__ import annotations

import functools
import json
import os

from braggflow import phil
from braggflow.algorithms.bravais import BravaisParams, refine_bravais_settings, summary_dict
from braggflow.algorithms.refinement import RefinementParams
from braggflow.algorithms.reindex import check_reflections_match
from braggflow.errors import InputDataError
from braggflow.pipeline.atomic import write_text_atomic
from braggflow.pipeline.command import Program, RunContext, run_program
from braggflow.pipeline.params import extract_params
from braggflow.report import bravais as report

# DIALS' program overrides of the refinement scope
# DIALS 3.12 refines beam and detector in every setting (newer DIALS fixes them); we follow
# 3.12 so that the recommended setting agrees with the DIALS users compare us against.
OVERRIDES = """\
refinement.reflections.reflections_per_degree = 100
"""


@functools.cache
def master_text() -> str:
    from braggflow.params import load_master

    master = load_master("refine_bravais_settings")
    return master.fetch(sources=[phil.parse(OVERRIDES)]).as_str(attributes_level=3, expert_level=10)


def _select_crystal(experiments, reflections, crystal_id):  # type: ignore[no-untyped-def]
    crystals = []
    for e in experiments:
        if e.crystal is not None and all(e.crystal is not c for c in crystals):
            crystals.append(e.crystal)
    if len(crystals) <= 1:
        return experiments, reflections
    if crystal_id is None:
        raise InputDataError("experiments", f"hold {len(crystals)} crystals; only one crystal can be processed at a time: set crystal_id")
    if crystal_id >= len(crystals):
        raise InputDataError("crystal_id", f"= {crystal_id} but there are only {len(crystals)} crystals")
    return _subset(experiments, reflections, [i for i, e in enumerate(experiments) if e.crystal is crystals[crystal_id]])


def _subset(experiments, reflections, keep):  # type: ignore[no-untyped-def]
    import numpy as np

    from braggflow.model import ExperimentList

    ids = np.asarray(reflections["id"])
    new_ids = np.full(len(ids), -1, dtype=np.int32)
    for new, old in enumerate(keep):
        new_ids[ids == old] = new
    table = reflections.select(new_ids >= 0)
    table["id"] = new_ids[new_ids >= 0]
    table.experiment_identifiers = {n: experiments[o].identifier for n, o in enumerate(keep)}
    return ExperimentList(experiments[i] for i in keep), table


def run(ctx: RunContext) -> None:
    p = ctx.params
    experiments = ctx.load_experiments()
    reflections = ctx.load_reflections()
    check_reflections_match(experiments, reflections, ", ".join(ctx.reflection_paths))
    experiments, reflections = _select_crystal(experiments, reflections, p.crystal_id)
    if "shoebox" in reflections:
        del reflections["shoebox"]
    params = extract_params(BravaisParams, p)
    refinement = RefinementParams.from_phil(p.refinement)
    result = refine_bravais_settings(experiments, reflections, params, refinement)
    for line in report.space_group_lines(result) + report.failures(result):
        ctx.info(line)
    ctx.info(report.table_text(result))
    ctx.info(report.recommended_line(result))
    prefix = p.output.prefix or ""
    directory = p.output.directory or "."
    summary = os.path.join(directory, f"{prefix}bravais_summary.json")
    ctx.info(f"Saving summary as {summary}")
    write_text_atomic(summary, json.dumps(summary_dict(result)))
    for r in result.settings:
        name = os.path.join(directory, f"{prefix}bravais_setting_{r.setting_number}.expt")
        ctx.info(f"Saving solution {r.setting_number} as {name}")
        ctx.write_experiments(r.experiments, name)


PROGRAM = Program(
    name="refine_bravais_settings",
    description=(
        "Refine the P1 indexing solution in every Bravais setting consistent with its metric "
        "(Le Page search); print the table of settings and write bravais_setting_N.expt and "
        "bravais_summary.json (dials.refine_bravais_settings)."
    ),
    run=run,
    usage="braggflow.refine_bravais_settings indexed.expt indexed.refl [lepage_max_delta=5]",
    master_text=master_text(),
)


def main(argv=None) -> int:  # type: ignore[no-untyped-def]
    return run_program(PROGRAM, argv)


if __name__ == "__main__":
    raise SystemExit(main())
