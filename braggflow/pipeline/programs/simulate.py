"""braggflow.simulate: write a simulated rotation sweep (mini-CBF) and its exact truth."""

from __future__ import annotations

import dataclasses
import datetime
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from braggflow.algorithms.simulate.params import SimulationParams, flat_paths, with_overrides
from braggflow.algorithms.simulate.presets import preset
from braggflow.algorithms.simulate.sweep import Simulation, prepare_simulation
from braggflow.algorithms.simulate.truth import partials_table, truth_mtz, truth_table
from braggflow.errors import ParameterError
from braggflow.formats.cbf_write import PilatusHeader, write_cbf
from braggflow.model import ImageSetRef
from braggflow.pipeline.command import Program, RunContext, run_program

__all__ = ["PROGRAM", "main", "params_from_phil", "image_paths", "write_images", "write_truth", "simulate_to_directory"]


def params_from_phil(scope: Any) -> SimulationParams:
    """SimulationParams from the extracted `simulation` scope: the preset, then every
    value that is not None."""
    base = preset(scope.preset)
    overrides = {}
    for path in flat_paths(base):
        node = scope
        for part in path.split("."):
            node = getattr(node, part, None)
        if node is not None:
            overrides[path] = str(node) if path == "intensities.model" else node
    return with_overrides(base, overrides)


def image_paths(sim: Simulation, directory: str | Path, template: str, gz: bool = False) -> list[Path]:
    """File names of the images: the run of '#' in template is the zero-padded image number."""
    m = re.search(r"#+", template)
    if m is None:
        raise ParameterError(f"output.template = '{template}': needs a run of '#' for the image number, e.g. image_#####.cbf")
    width = len(m.group(0))
    names = []
    for k in range(sim.num_images):
        name = template[: m.start()] + f"{sim.image_number(k):0{width}d}" + template[m.end() :]
        names.append(Path(directory) / (name + (".gz" if gz and not name.endswith(".gz") else "")))
    return names


def _header(sim: Simulation, k: int) -> PilatusHeader:
    p, e = sim.params, sim.experiment
    scan = e.scan
    start, width = scan.image_oscillation_deg(sim.image_number(k))
    stamp = datetime.datetime.fromtimestamp(float(scan.epochs[k]), tz=datetime.timezone.utc)
    material = "Silicon" if p.detector.material == "Si" else "CdTe"
    name = p.detector.name if ("S/N" in p.detector.name) else f"{p.detector.name}, S/N 60-0000 braggflow simulated"
    return PilatusHeader(
        detector=name,
        timestamp=stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
        pixel_size_mm=p.detector.pixel_size_mm,
        sensor_material=material,
        sensor_thickness_mm=p.detector.thickness_mm,
        exposure_time_s=p.scan.exposure_s,
        exposure_period_s=p.scan.exposure_s,
        count_cutoff=p.detector.count_cutoff,
        wavelength_A=p.beam.wavelength,
        distance_mm=p.detector.distance_mm,
        beam_xy_px=p.detector.beam_centre_px,
        flux=p.beam.flux,
        start_angle_deg=start,
        angle_increment_deg=width,
        polarization=p.beam.polarization_fraction,
        header_convention=p.detector.header_convention,
    )


def write_images(
    sim: Simulation, paths: list[Path], *, gz: bool = False, nproc: int = 1, advance: Callable[[int], None] | None = None
) -> float:
    """Render, add noise and write every image (threads; the kernels release the GIL).
    Returns the wall time spent (s)."""
    if len(sim.experiment.detector) != 1:
        raise ParameterError("simulation.detector: mini-CBF output needs a single-panel detector")

    def one(k: int) -> None:
        write_cbf(paths[k], sim.image(k)[0], _header(sim, k), gz=gz)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=nproc) as pool:
        for _ in pool.map(one, range(sim.num_images)):
            if advance is not None:
                advance(1)
    return time.perf_counter() - t0


def write_truth(sim: Simulation, paths: list[Path], out: dict[str, str | None]) -> Simulation:
    """truth.expt / truth.refl / truth_partials.refl / truth.mtz; returns the simulation whose
    experiment carries the image template."""
    from braggflow.formats.expt_io import write_experiments
    from braggflow.formats.refl_io import write_refl
    from braggflow.model import ExperimentList

    first = str(paths[0].absolute())
    m = re.search(r"(\d+)(\D*)$", paths[0].name)
    template = first if m is None else str(paths[0].absolute().with_name(paths[0].name[: m.start(1)] + "#" * len(m.group(1)) + m.group(2)))
    experiment = sim.experiment.replace(imageset=ImageSetRef(template=template))
    sim = dataclasses.replace(sim, experiment=experiment)
    if out.get("experiments"):
        write_experiments(ExperimentList([experiment]), out["experiments"])
    if out.get("reflections"):
        write_refl(truth_table(sim), out["reflections"])
    if out.get("partials"):
        write_refl(partials_table(sim), out["partials"])
    if out.get("mtz"):
        truth_mtz(sim.intensities).write_to_file(str(out["mtz"]))
    return sim


def simulate_to_directory(params: SimulationParams, directory: str | Path, *, nproc: int = 1) -> tuple[Simulation, list[Path]]:
    """Everything `braggflow.simulate` writes, with default file names, into directory
    (the `demo=True` data set of braggflow.process uses this)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sim = prepare_simulation(params)
    paths = image_paths(sim, directory, "image_#####.cbf")
    write_images(sim, paths, nproc=nproc)
    names = {k: str(directory / v) for k, v in (("experiments", "truth.expt"), ("reflections", "truth.refl"),
                                                 ("partials", "truth_partials.refl"), ("mtz", "truth.mtz"))}
    return write_truth(sim, paths, names), paths


def run(ctx: RunContext) -> None:
    p = ctx.params
    params = params_from_phil(p.simulation)
    sim = prepare_simulation(params)
    r = sim.reflections
    cell = sim.experiment.crystal.unit_cell
    ctx.info(f"Preset {p.simulation.preset}: {sim.experiment.crystal.space_group.hm}, cell "
             + " ".join(f"{v:.3f}" for v in cell.parameters))
    ctx.info(f"{sim.num_images} images of {params.scan.width_deg:g} deg; {len(r):,} reflections to "
             f"{sim.d_min:.2f} A ({len(r.partial_refl) / sim.num_images:.0f} spots per image on average)")
    outdir = Path(p.output.directory)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = image_paths(sim, outdir, p.output.template, p.output.gz)
    with ctx.progress(sim.num_images, "Writing images") as advance:
        seconds = write_images(sim, paths, gz=p.output.gz, nproc=p.output.nproc, advance=advance)
    ctx.info(f"Wrote {len(paths)} images to {outdir} in {seconds:.1f} s ({len(paths) / max(seconds, 1e-9):.1f} images/s)")
    out = {k: (None if getattr(p.output, k) in (None, "None") else str(outdir / str(getattr(p.output, k))))
           for k in ("experiments", "reflections", "partials", "mtz")}
    write_truth(sim, paths, out)
    for key, path in out.items():
        if path:
            ctx.info(f"Saved {key} truth to {path}")


PROGRAM = Program(
    name="simulate",
    description="Simulate a rotation sweep (mini-CBF images) with its exact models and true intensities.",
    run=run,
    accepts_images=False,
)


def main(argv: list[str] | None = None) -> int:
    return run_program(PROGRAM, argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
