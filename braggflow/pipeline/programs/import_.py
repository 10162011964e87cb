"""braggflow.import: read image headers, group images into sweeps, write imported.expt."""

from __future__ import annotations

import os

from braggflow.algorithms.importing import (
    GeometryOverrides,
    Tolerances,
    apply_overrides,
    build_experiments,
    classify_files,
    group_into_sweeps,
    summarise,
)
from braggflow.errors import InputDataError, ParameterError, UsageError
from braggflow.formats.template import paths_from_template
from braggflow.pipeline.command import RULE, Program, RunContext, run_program

NOT_IMPLEMENTED = (
    ("input.split", lambda p: p.input.split is not None),
    ("input.reference_geometry", lambda p: p.input.reference_geometry is not None),
    ("output.compact", lambda p: bool(p.output.compact)),
    ("format.multi_panel", lambda p: bool(p.format.multi_panel)),
    ("format.dynamic_shadowing", lambda p: p.format.dynamic_shadowing is True),
    ("geometry.beam.polarization_fraction", lambda p: p.geometry.beam.polarization_fraction is not None),
    ("geometry.detector.mosflm_beam_centre", lambda p: p.geometry.detector.mosflm_beam_centre is not None),
    ("geometry.scan.batch_offset", lambda p: p.geometry.scan.batch_offset is not None),
    ("geometry.convert_stills_to_sequences", lambda p: bool(p.geometry.convert_stills_to_sequences)),
    ("lookup.mask", lambda p: p.lookup.mask is not None),
    ("lookup.gain", lambda p: p.lookup.gain is not None),
)


def _check_supported(p) -> None:  # type: ignore[no-untyped-def]
    for path, is_set in NOT_IMPLEMENTED:
        if is_set(p):
            raise ParameterError(f"{path}: not supported by braggflow.import yet; leave it at its default")


def _directory_files(directory: str) -> list[str]:
    if not os.path.isdir(directory):
        raise InputDataError(directory, "input.directory is not a directory")
    return sorted(os.path.join(directory, n) for n in os.listdir(directory) if os.path.isfile(os.path.join(directory, n)))


def collect_inputs(images: list[str], templates: list[str], directories: list[str]) -> tuple[list[str], list[str]]:
    """(explicit image files, files found in directories), duplicates removed."""
    explicit = list(images)
    for template in templates:
        explicit.extend(paths_from_template(template))
    found = [f for d in directories for f in _directory_files(d)]
    seen = set()
    unique = [p for p in explicit if not (os.path.abspath(p) in seen or seen.add(os.path.abspath(p)))]  # type: ignore[func-returns-value]
    return unique, [p for p in found if os.path.abspath(p) not in seen]


def overrides_from_params(p) -> GeometryOverrides:  # type: ignore[no-untyped-def]
    g = p.geometry
    axes = g.goniometer.axes if g.goniometer.axes is not None else g.goniometer.axis
    if axes is not None and g.goniometer.invert_rotation_axis:
        axes = [-v for v in axes]
    tup = lambda v: None if v is None else tuple(v)  # noqa: E731
    return GeometryOverrides(
        wavelength=g.beam.wavelength, direction=tup(g.beam.direction), distance=g.detector.distance,
        fast_slow_beam_centre=tup(g.detector.fast_slow_beam_centre), slow_fast_beam_centre=tup(g.detector.slow_fast_beam_centre),
        goniometer_axes=tup(axes), image_range=tup(g.scan.image_range), oscillation=tup(g.scan.oscillation),
    )


def summary_lines(info: dict) -> list[str]:
    return [
        RULE,
        f"  format: {', '.join(info['formats'])}",
        f"  num images: {info['num_images']}",
        f"  num sweeps: {info['num_sweeps']}",
        f"  num stills: {info['num_stills']}",
        RULE,
    ]


def run(ctx: RunContext) -> None:
    p = ctx.params
    _check_supported(p)
    templates = [t for t in (p.input.template or []) if t]
    directories = [d for d in (p.input.directory or []) if d]
    explicit, from_dirs = collect_inputs(ctx.images, templates, directories)
    if not explicit and not from_dirs:
        raise UsageError("braggflow.import: no images given (image files, template=..., or directory=...)")
    records, skipped = classify_files(explicit)
    more, skipped = classify_files(from_dirs, ignore_unknown=bool(p.input.ignore_unhandled))
    records += more
    for path in skipped:
        ctx.warn(f"{path}: not an image braggflow can read; skipped")
    if not records:
        raise InputDataError(directories[0] if directories else "input", "no readable images found")
    t = p.input.tolerance
    tol = Tolerances(oscillation=t.scan.oscillation, wavelength=t.beam.wavelength, direction_rad=t.beam.direction,
                     origin_mm=t.detector.origin, axis=t.goniometer.rotation_axis)
    groups = group_into_sweeps(records, tol)
    info = summarise(groups)
    if info["num_sweeps"] > 1 and not p.input.allow_multiple_sequences:
        raise InputDataError(groups[0].first.path, f"the images form {info['num_sweeps']} sweeps but input.allow_multiple_sequences=False")
    experiments = apply_overrides(build_experiments(groups), overrides_from_params(p))
    for line in summary_lines(info):
        ctx.info(line)
    ctx.write_experiments(experiments, p.output.experiments)


PROGRAM = Program(
    name="import",
    description="Read image headers, group the images into sweeps and stills, and write imported.expt.",
    run=run,
    accepts_images=True,
    usage="braggflow.import [options] images... | template=x_####.cbf | directory=path | -i < list",
)


def main(argv: list[str] | None = None) -> int:
    return run_program(PROGRAM, argv)


if __name__ == "__main__":
    raise SystemExit(main())
