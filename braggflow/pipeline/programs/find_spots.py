"""braggflow.find_spots: strong spots on every image of the imported sweeps -> strong.refl."""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from braggflow.algorithms import spotfinding
from braggflow.errors import ParameterError
from braggflow.model import Experiment
from braggflow.model.reflections import ReflectionTable
from braggflow.pipeline.command import Program, RunContext, run_program
from braggflow.pipeline.params import extract_params
from braggflow.report import spotfinding as report


def static_masks(experiment: Experiment, params: spotfinding.SpotFinderParams) -> tuple[np.ndarray, ...]:
    """Per-panel user masks (border, untrusted regions, resolution, ice rings)."""
    f = params.filter
    needs_d = f.d_min is not None or f.d_max is not None or bool(f.resolution_range) or f.ice_rings.filter
    masks = []
    for i, panel in enumerate(experiment.detector.panels):
        d = panel.d_spacing_map(experiment.beam.s0) if needs_d else None
        masks.append(spotfinding.static_mask(panel.image_shape, f, panel=i, d_spacing=d))
    return tuple(masks)


def resolve(params: spotfinding.SpotFinderParams, experiment: Experiment) -> spotfinding.SpotFinderParams:
    """Replace Auto values; stills (no scan or zero oscillation) are labelled per image."""
    pad = all(p.type == "SENSOR_PAD" for p in experiment.detector.panels)
    params = spotfinding.resolve_auto(params, photon_counting=pad, cpu_count=os.cpu_count() or 1)
    if params.mp.nproc < 1:
        raise ParameterError(f"spotfinder.mp.nproc = {params.mp.nproc}: must be at least 1")
    scan = experiment.scan
    if scan is None or scan.is_still:
        params = dataclasses.replace(params, force_2d=True)
    return params


def find_spots_in_experiment(ctx: RunContext, experiment: Experiment, index: int) -> ReflectionTable:
    from braggflow.formats.imageset import open_imageset

    params = resolve(extract_params(spotfinding.SpotFinderParams, ctx.params), experiment)
    sequence = open_imageset(experiment)
    with ctx.progress(len(sequence), f"Finding spots (imageset {index})") as advance:
        done = [0]

        def progress(n: int) -> None:
            advance(n - done[0])
            done[0] = n

        result = spotfinding.find_spots(
            sequence, params, nproc=params.mp.nproc, static_mask=static_masks(experiment, params),
            progress=progress, shoeboxes=bool(ctx.params.output.shoeboxes),
        )
    for line in report.log_lines(result, index):
        ctx.info(line)
    ctx.show(report.per_image_table(result))
    table = ReflectionTable(result.columns, experiment_identifiers={index: experiment.identifier})
    table["id"] = np.full(len(table), index, dtype=np.int32)
    return table


def run(ctx: RunContext) -> None:
    experiments = ctx.load_experiments()
    tables = [find_spots_in_experiment(ctx, e, i) for i, e in enumerate(experiments)]
    strong = tables[0] if len(tables) == 1 else ReflectionTable.concatenate(tables)
    ctx.info("")
    ctx.info("-" * 80)
    ctx.write_reflections(strong, ctx.params.output.reflections)
    ctx.info(f"Time Taken: {ctx.elapsed():f}")


PROGRAM = Program(
    name="find_spots",
    description="Find strong spots on the images of the imported sweeps (dials.find_spots).",
    run=run,
    usage="braggflow.find_spots imported.expt [min_spot_size=3] [nproc=4]",
    defaults="spotfinder.mp.nproc = Auto",  # as dials.find_spots: all cores unless told otherwise
)


def main(argv: list[str] | None = None) -> int:
    return run_program(PROGRAM, argv)


if __name__ == "__main__":
    raise SystemExit(main())
