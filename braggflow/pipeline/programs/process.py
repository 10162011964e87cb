"""braggflow.process: import -> find_spots -> index -> refine_bravais_settings -> reindex ->
refine -> integrate -> export (-> symmetry -> scale -> merge -> report), as one command.

The run is declarative: the parameters are first resolved into a plan (stages with their
own parameters, inputs and outputs), which is printed and may stop there (dry_run=True).
Each stage is the same program a user would run by hand, so every intermediate file is
written as the individual programs write it. A stage whose inputs and parameters are
unchanged since it last finished is skipped (the manifest records them), so an interrupted
run resumes where it stopped; process.force=True redoes everything.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table

from braggflow.errors import InputDataError, StageFailed, UsageError
from braggflow.pipeline.command import Program, RunContext, run_program
from braggflow.pipeline.plan import Manifest, Stage, fingerprint, stage_params_text, top_level_names

# Tutorial shortcuts on process's command line and where they go in each stage.
SHORTCUTS = {
    "mp.nproc": ("spotfinder.mp.nproc", "integration.mp.nproc"),
    "block_size": ("integration.block.size",),
}
STATIC_DURING_INDEXING = "refinement.parameterisation.scan_varying = False\n"


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    old = Path.cwd()
    path.mkdir(parents=True, exist_ok=True)
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _program(name: str) -> Program:
    module = importlib.import_module(f"braggflow.pipeline.programs.{'import_' if name == 'import' else name}")
    return module.PROGRAM


def _stage_text(diff: Any, program: str, p: Any) -> str:
    """This program's share of the modified parameters, plus the process-level shortcuts."""
    from braggflow.params import load_master

    try:
        names = top_level_names(load_master(program))
    except Exception:  # noqa: BLE001 - a program without a master takes no parameters
        names = set()
    text = stage_params_text(diff, names)
    nproc = getattr(p.mp, "nproc", None)
    for target in SHORTCUTS["mp.nproc"]:
        if nproc not in (None, "Auto") and target.split(".")[0] in names and str(nproc) != "Auto":
            text += f"{target} = {nproc}\n"
    if p.block_size is not None and "integration" in names:
        text += f"integration.block.size = {p.block_size}\n"
    if p.scan_varying is not None and program == "refine":
        text += f"refinement.parameterisation.scan_varying = {p.scan_varying}\n"
    if program in ("index", "refine_bravais_settings"):
        text += STATIC_DURING_INDEXING
    return text


def build_plan(images: list[str], diff: Any, p: Any, scale: bool | None = None) -> list[Stage]:
    """The stages of the run, with inputs/outputs relative to the work folder (`scale`
    overrides process.scale)."""
    scale = p.process.scale if scale is None else scale
    t = lambda program: _stage_text(diff, program, p)  # noqa: E731
    stages = [
        Stage("import", "import", (), ("imported.expt",), t("import"), tuple(images)),
        Stage("find_spots", "find_spots", ("imported.expt",), ("strong.refl",), t("find_spots")),
        Stage("index", "index", ("imported.expt", "strong.refl"), ("indexed.expt", "indexed.refl"), t("index")),
    ]
    if p.process.bravais == "auto":
        stages += [
            Stage("refine_bravais_settings", "refine_bravais_settings", ("indexed.expt", "indexed.refl"),
                  ("bravais_summary.json",), t("refine_bravais_settings")),
            Stage("reindex", "reindex", ("indexed.refl",), ("reindexed.refl",), t("reindex"), late=True),
            Stage("refine", "refine", ("bravais_setting_<recommended>.expt", "reindexed.refl"),
                  ("refined.expt", "refined.refl"), t("refine"), late=True),
        ]
    else:
        stages.append(Stage("refine", "refine", ("indexed.expt", "indexed.refl"), ("refined.expt", "refined.refl"), t("refine")))
    stages += [
        Stage("integrate", "integrate", ("refined.expt", "refined.refl"), ("integrated.expt", "integrated.refl"), t("integrate")),
        Stage("export", "export", ("integrated.expt", "integrated.refl"), ("integrated.mtz",), t("export") + "mtz.hklout = integrated.mtz\n"),
    ]
    if scale:
        stages += [
            Stage("symmetry", "symmetry", ("integrated.expt", "integrated.refl"), ("symmetrized.expt", "symmetrized.refl"), t("symmetry")),
            Stage("scale", "scale", ("symmetrized.expt", "symmetrized.refl"), ("scaled.expt", "scaled.refl"), t("scale")),
            Stage("merge", "merge", ("scaled.expt", "scaled.refl"), ("merged.mtz",), t("merge")),
        ]
    if p.process.report:
        every = ("imported.expt", "strong.refl", "indexed.refl", "refined.expt", "refined.refl",
                 "integrated.expt", "integrated.refl") + (("scaled.expt", "scaled.refl") if scale else ())
        stages.append(Stage("report", "report", every, ("braggflow.report.html",), t("report")))
    return stages


def recommended_setting(folder: Path) -> tuple[int, str]:
    """(solution number, cb_op) of the recommended Bravais setting in bravais_summary.json."""
    path = folder / "bravais_summary.json"
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputDataError(path, f"cannot read the Bravais summary ({exc})") from None
    chosen = [int(k) for k, v in summary.items() if str(k).isdigit() and v.get("recommended")]
    if not chosen:
        raise StageFailed(f"{path}: no Bravais setting is recommended; rerun with process.bravais=none")
    best = max(chosen)
    return best, str(summary[str(best)]["cb_op"])


def resolve_late(stage: Stage, folder: Path) -> Stage:
    """Fill in what depends on the Bravais search: the cb_op and the setting's file."""
    if not stage.late:
        return stage
    number, cb_op = recommended_setting(folder)
    if stage.name == "reindex":
        return Stage(stage.name, stage.program, stage.inputs, stage.outputs, stage.params_text, (f"change_of_basis_op={cb_op}",))
    inputs = tuple(f"bravais_setting_{number}.expt" if "<recommended>" in i else i for i in stage.inputs)
    return Stage(stage.name, stage.program, inputs, stage.outputs, stage.params_text)


def plan_table(stages: list[Stage], folder: Path, manifest: Manifest, force: bool) -> Table:
    table = Table(title=f"Processing plan in {folder}", box=box.SIMPLE_HEAD)
    table.add_column("#", justify="right")
    for name in ("program", "inputs -> outputs", "parameters", "status"):
        table.add_column(name, overflow="fold")
    for i, s in enumerate(stages, 1):
        inputs = f"{len(s.args)} images" if s.name == "import" else ", ".join(s.inputs)
        params = "\n".join(line.strip() for line in s.params_text.splitlines() if "=" in line) or "defaults"
        if s.late:
            status = "after Bravais search"
        elif not force and manifest.is_done(s, fingerprint(s, folder), folder):
            status = "up to date"
        else:
            status = "to run"
        table.add_row(str(i), s.program, f"{inputs}\n-> {', '.join(s.outputs)}", params, status)
    return table


def _demo_images(ctx: RunContext, folder: Path) -> list[str]:
    from braggflow.algorithms.simulate.presets import preset
    from braggflow.pipeline.programs.simulate import simulate_to_directory

    target = folder / "demo_images"
    existing = sorted(target.glob("image_*.cbf"))
    if existing and (target / "truth.expt").exists():
        ctx.info(f"Using the demo data set in {target}")
        return [str(p.absolute()) for p in existing]
    ctx.info(f"Simulating the demo data set into {target} ...")
    _, paths = simulate_to_directory(preset("demo"), target)
    return [str(p.absolute()) for p in paths]


SCALING_STAGES = ("symmetry", "scale", "merge")


class ScalingNotPossible(Exception):
    """A scaling stage stopped on the data (exit 1), e.g. multiplicity 1 on a short sweep."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(f"{stage}: {reason}")
        self.stage, self.reason = stage, reason


def _first_error(log: Path) -> str:
    try:
        lines = [ln for ln in log.read_text().splitlines() if ln.startswith("error:")]
    except OSError:
        return "see its log"
    return lines[-1][len("error:"):].strip() if lines else "see its log"


def execute(ctx: RunContext, stages: list[Stage], folder: Path, manifest: Manifest, force: bool) -> None:
    """Run the stages in order; a scaling stage that fails on the data raises ScalingNotPossible
    (the integrated.mtz written before it is complete), any other failure StageFailed."""
    for stage in stages:
        stage = resolve_late(stage, folder)
        fp = fingerprint(stage, folder)
        if not force and manifest.is_done(stage, fp, folder):
            ctx.info(f"[{stage.name}] up to date: {', '.join(stage.outputs)}")
            continue
        missing = [i for i in stage.inputs if not (folder / i).exists()]
        if missing:
            raise StageFailed(f"{stage.name}: input {', '.join(missing)} is missing in {folder}")
        params_file = None
        if stage.params_text.strip():
            params_file = f"braggflow.process.{stage.name}.phil"
            (folder / params_file).write_text(stage.params_text)
        ctx.info("")
        ctx.info(f"{'=' * 30} braggflow.{stage.program} {'=' * 30}")
        with working_directory(folder):
            code = run_program(_program(stage.program), stage.argv(params_file), console=ctx.console)
        if code == 1 and stage.name in SCALING_STAGES:
            raise ScalingNotPossible(stage.name, _first_error(folder / f"braggflow.{stage.program}.log"))
        if code != 0:
            raise StageFailed(
                f"{stage.name} failed (exit {code}); see {folder / f'braggflow.{stage.program}.log'};"
                " fix the cause and run the same command again to resume from this stage"
            )
        manifest.record(stage, fingerprint(stage, folder))


def run(ctx: RunContext) -> None:
    p = ctx.params
    folder = Path(p.process.directory).absolute()
    images = [str(Path(i).absolute()) for i in ctx.images]
    if p.process.demo and not images:
        images = _demo_images(ctx, folder)
    if not images:
        raise UsageError("braggflow.process: no images given (give image files, a glob, -i, or demo=True)")
    diff = ctx.master.fetch_diff(source=ctx.working)
    stages = build_plan(images, diff, p)
    manifest = Manifest.load(folder)
    ctx.show(plan_table(stages, folder, manifest, p.process.force))
    if p.process.dry_run:
        ctx.info("dry_run=True: stopping before the first stage")
        return
    try:
        execute(ctx, stages, folder, manifest, p.process.force)
    except ScalingNotPossible as exc:
        ctx.warn(f"scaling stopped at {exc.stage} ({exc.reason}); integrated.mtz is complete, "
                 "the scaled and merged outputs were not made")
        if p.process.report:
            without = build_plan(images, diff, p, scale=False)
            execute(ctx, [s for s in without if s.name == "report"], folder, manifest, True)
    ctx.info("")
    ctx.info(f"Processing finished in {ctx.elapsed():.1f} s; outputs in {folder}")
    if p.process.report and (folder / "braggflow.report.html").exists():
        ctx.info(f"Report: {folder / 'braggflow.report.html'}")


PROGRAM = Program(
    name="process",
    description="Process rotation images end to end: import, find spots, index, choose the Bravais "
    "setting, refine, integrate and export to MTZ (then symmetry, scaling and merging).",
    run=run,
    accepts_images=True,
    usage="braggflow.process images... [scan_varying=true] [mp.nproc=N] [block_size=N] [dry_run=True]",
)


def main(argv: list[str] | None = None) -> int:
    return run_program(PROGRAM, argv)


if __name__ == "__main__":
    raise SystemExit(main())
