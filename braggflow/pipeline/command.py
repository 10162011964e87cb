"""The command framework every `braggflow.<program>` uses.

argv -> (PHIL files, `a.b=c` overrides, data files) -> working PHIL -> RunContext -> the
program's run(ctx). Errors map to exit codes: a BraggflowError prints one line and exits with
its code; anything else is a bug (traceback, "please report", exit 70).
"""

from __future__ import annotations

import contextlib
import glob
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.measure import Measurement

from braggflow import __version__, phil
from braggflow.errors import BraggflowError, InputDataError, UsageError
from braggflow.pipeline.atomic import write_text_atomic

PHIL_SUFFIXES = (".phil", ".param", ".params", ".eff", ".def")
EXPERIMENT_SUFFIXES = (".expt", ".json")
REFLECTION_SUFFIXES = (".refl",)
MTZ_SUFFIXES = (".mtz",)
RULE = "-" * 80


@dataclass(frozen=True)
class Program:
    """A command-line program: `braggflow.<name>`, master PHIL `params/<name>.phil`."""

    name: str
    description: str
    run: Callable[["RunContext"], None]
    accepts_images: bool = False
    accepts_mtz: bool = False  # unmerged/merged MTZ as positional input (symmetry, scale, merge)
    usage: str = ""
    master_text: str | None = None  # inline master (tests, tiny programs); else params/<name>.phil
    defaults: str = ""  # program overrides of library defaults (PHIL text), e.g. "integration.mp.nproc = Auto"

    @property
    def command(self) -> str:
        return f"braggflow.{self.name}"


@dataclass
class CommandLine:
    """argv after classification (phil.md 5.1)."""

    phil_sources: list[Any] = field(default_factory=list)
    experiments: list[str] = field(default_factory=list)
    reflections: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    mtz: list[str] = field(default_factory=list)
    show_config: bool = False
    help_level: int = 0
    expert_level: int = 0
    attributes_level: int = 0
    read_stdin: bool = False


class RunContext:
    """What a program's run() gets: parameters, inputs, output helpers and the log."""

    def __init__(self, program: Program, master: Any, working: Any, cmdline: CommandLine, console: Console, log: Console):
        self.program = program
        self.master = master
        self.working = working
        self.params = working.extract()
        self.cmdline = cmdline
        self.console = console
        self._log = log
        self.started = time.monotonic()

    # --- inputs ---------------------------------------------------------------------
    @property
    def experiment_paths(self) -> list[str]:
        return list(self.cmdline.experiments)

    @property
    def reflection_paths(self) -> list[str]:
        return list(self.cmdline.reflections)

    @property
    def images(self) -> list[str]:
        return list(self.cmdline.images)

    @property
    def mtz_paths(self) -> list[str]:
        return list(self.cmdline.mtz)

    def load_experiments(self, required: bool = True):  # type: ignore[no-untyped-def]
        """All .expt inputs as one ExperimentList."""
        from braggflow.formats.expt_io import read_experiments
        from braggflow.model import ExperimentList

        if not self.cmdline.experiments:
            if required:
                raise UsageError(f"{self.program.command}: no experiment list given (an .expt file is required)")
            return ExperimentList()
        result = ExperimentList()
        for path in self.cmdline.experiments:
            result.extend(read_experiments(path))
        return result

    def load_reflections(self, required: bool = True):  # type: ignore[no-untyped-def]
        """All .refl inputs concatenated into one ReflectionTable."""
        from braggflow.formats.refl_io import read_refl
        from braggflow.model.reflections import ReflectionTable

        if not self.cmdline.reflections:
            if required:
                raise UsageError(f"{self.program.command}: no reflection table given (a .refl file is required)")
            return ReflectionTable()
        tables = [read_refl(path) for path in self.cmdline.reflections]
        if len(tables) == 1:
            return tables[0]
        return ReflectionTable.concatenate(_renumber_experiment_ids(tables, self.cmdline.reflections))

    # --- outputs --------------------------------------------------------------------
    def write_experiments(self, experiments: Any, path: str | Path) -> None:
        from braggflow.formats.expt_io import write_experiments

        write_experiments(experiments, path)
        self.info(f"Saving {len(experiments)} experiment(s) to {path}")

    def write_reflections(self, table: Any, path: str | Path) -> None:
        from braggflow.formats.refl_io import write_refl

        write_refl(table, path)
        self.info(f"Saved {len(table)} reflections to {path}")

    # --- reporting ------------------------------------------------------------------
    def info(self, text: str = "") -> None:
        """A plain line for the terminal and the log (no rich markup interpretation)."""
        self.console.print(text, markup=False, highlight=False)
        self._log.print(text, markup=False, highlight=False)

    def warn(self, text: str) -> None:
        self.info(f"Warning: {text}")

    def show(self, renderable: Any) -> None:
        """Any rich renderable (Table, Group, Text) to the terminal and the log, never
        narrower than its natural width: a crystallographer's table must not show '0.…'."""
        for console in (self.console, self._log):
            width = console.width
            console.width = max(width, _natural_width(console, renderable))  # print() caps at width
            try:
                console.print(renderable)
            finally:
                console.width = width

    @contextlib.contextmanager
    def progress(self, total: int, description: str) -> Iterator[Callable[[int], None]]:
        """A progress bar on stderr (not logged); yields advance(n)."""
        bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=Console(stderr=True), transient=True, disable=not sys.stderr.isatty(),
        )
        with bar:
            task = bar.add_task(description, total=total)
            yield lambda n=1: bar.advance(task, n)

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def _natural_width(console: Console, renderable: Any) -> int:
    """Width a renderable needs to print without truncating or wrapping cells (capped)."""
    try:
        return min(Measurement.get(console, console.options.update(width=400), renderable).maximum, 400)
    except Exception:  # not measurable: let rich decide
        return console.width


def _renumber_experiment_ids(tables: list[Any], paths: list[str]) -> list[Any]:
    """Give each table's experiments ids that follow those of the tables before it (as DIALS
    does when several .expt/.refl pairs are given), so concatenation cannot clash."""
    import numpy as np

    offset = 0
    renumbered = []
    for table, path in zip(tables, paths):
        ids = np.asarray(table["id"]) if "id" in table else np.zeros(0, dtype=np.int32)
        n_exp = int(ids.max()) + 1 if ids.size and ids.max() >= 0 else 0
        n_exp = max(n_exp, max(table.experiment_identifiers, default=-1) + 1)
        copy = table.copy()
        if "id" in copy:
            copy["id"] = np.where(ids >= 0, ids + offset, ids).astype(np.int32)
        copy.experiment_identifiers = {k + offset: v for k, v in table.experiment_identifiers.items()}
        renumbered.append(copy)
        offset += n_exp
    return renumbered


# --- argv -------------------------------------------------------------------------------
def _int_option(argv: list[str], i: int, flag: str) -> int:
    if i + 1 >= len(argv):
        raise UsageError(f"{flag} needs a number")
    try:
        return int(argv[i + 1])
    except ValueError:
        raise UsageError(f"{flag} needs a number, got '{argv[i + 1]}'") from None


def classify_arguments(argv: Sequence[str], program: Program, interpreter: Any) -> CommandLine:
    """Sort argv into options, PHIL sources and data files (phil.md 5.1)."""
    cl = CommandLine()
    args = list(argv)
    unhandled: list[str] = []
    extra_phil_lines: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-h", "--help"):
            cl.help_level += 1
        elif arg in ("-c", "--show-config", "--show-config=True"):
            cl.show_config = True
        elif arg in ("-e", "--expert-level"):
            cl.expert_level = _int_option(args, i, arg)
            i += 1
        elif arg in ("-a", "--attributes-level"):
            cl.attributes_level = _int_option(args, i, arg)
            i += 1
        elif arg == "-v":
            cl.attributes_level += 1
        elif arg == "-i":
            cl.read_stdin = True
        elif arg == "--phil":
            if i + 1 >= len(args):
                raise UsageError("--phil needs a file name")
            source = args[i + 1]
            text = sys.stdin.read() if source == "-" else _read_text(source)
            extra_phil_lines.extend(line.strip() for line in text.splitlines() if line.strip())
            i += 1
        elif arg == "--version":
            print(f"braggflow {__version__}")
            raise SystemExit(0)
        elif arg.endswith(PHIL_SUFFIXES) and Path(arg).is_file() and Path(arg).stat().st_size > 0:
            cl.phil_sources.append(phil.parse(file_name=arg))
        elif "=" in arg and "://" not in arg:
            cl.phil_sources.append(interpreter.process(arg=arg))
        elif arg.startswith("-") and len(arg) > 1:
            raise UsageError(f"unknown option '{arg}' (try {program.command} -h)")
        else:
            _classify_data_file(arg, program, cl, unhandled)
        i += 1
    if cl.read_stdin:
        for name in sys.stdin.read().split():
            _classify_data_file(name, program, cl, unhandled)
    for line in extra_phil_lines:
        cl.phil_sources.append(interpreter.process(arg=line))
    if unhandled:
        raise UsageError("Unable to handle the following arguments:\n" + "\n".join(f"  {u}" for u in unhandled))
    return cl


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise InputDataError(path, f"cannot read ({exc.strerror or exc})") from None


def _classify_data_file(arg: str, program: Program, cl: CommandLine, unhandled: list[str]) -> None:
    if any(ch in arg for ch in "*?[") and not Path(arg).exists():
        matches = sorted(glob.glob(arg))
        if not matches:
            raise InputDataError(arg, "no file matches this pattern")
        for m in matches:
            _classify_data_file(m, program, cl, unhandled)
        return
    path = Path(arg)
    lower = arg.lower()
    if lower.endswith(EXPERIMENT_SUFFIXES):
        target = cl.experiments
    elif lower.endswith(REFLECTION_SUFFIXES):
        target = cl.reflections
    elif lower.endswith(MTZ_SUFFIXES) and program.accepts_mtz:
        target = cl.mtz
    elif program.accepts_images:
        target = cl.images
    else:
        unhandled.append(arg)
        return
    if not path.exists():
        raise InputDataError(arg, "no such file")
    target.append(arg)


# --- PHIL plumbing ------------------------------------------------------------------------
def load_program_master(program: Program) -> Any:
    """The program's master with its own default overrides applied: the parameter diff and
    `-c` show values relative to these (phil.md: the master contains local overrides)."""
    if program.master_text is not None:
        master = phil.parse(program.master_text, source_name=f"{program.command} master")
    else:
        from braggflow.params import load_master

        master = load_master(program.name)
    if program.defaults.strip():
        master = master.fetch(sources=[phil.parse(program.defaults, source_name=f"{program.command} defaults")])
    return master


def _input_file_sources(cl: CommandLine, interpreter: Any) -> list[Any]:
    """Data files become `input.experiments=...` PHIL so they show in the diff (as in DIALS)."""
    sources = []
    for key, paths in (("experiments", cl.experiments), ("reflections", cl.reflections)):
        for path in paths:
            with contextlib.suppress(BraggflowError):
                value = path if path.replace("/", "").replace(".", "").replace("_", "").replace("-", "").isalnum() else f'"{path}"'
                sources.append(interpreter.process(arg=f"input.{key}={value}"))
    return sources


def show_config(master: Any, expert_level: int, attributes_level: int) -> str:
    body = master.as_str(expert_level=expert_level, attributes_level=attributes_level)
    return (
        "Showing configuration parameters with:\n"
        f"  attributes_level = {attributes_level}\n"
        f"  expert_level = {expert_level}\n\n{body}"
    )


def _help_text(program: Program, master: Any, level: int, attributes_level: int) -> str:
    usage = program.usage or f"{program.command} [options] [files] [param=value ...]"
    return f"usage: {usage}\n\n{program.description}\n\n" + show_config(master, level, attributes_level)


# --- main ---------------------------------------------------------------------------------
def run_program(program: Program, argv: Sequence[str] | None = None, *, console: Console | None = None) -> int:
    """Run `program` with `argv` (sys.argv[1:] by default); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    console = console or Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        return _run(program, argv, console)
    except BraggflowError as exc:
        err.print(f"error: {exc}", markup=False)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        return 130
    except SystemExit as exc:
        return int(exc.code or 0)
    except Exception:  # noqa: BLE001 - anything else is a bug: say so loudly
        err.print(traceback.format_exc(), markup=False)
        err.print(f"{program.command} {__version__}: internal error; please report it with the lines above.", markup=False)
        return 70


def _run(program: Program, argv: list[str], console: Console) -> int:
    master = load_program_master(program)
    interpreter = master.command_line_argument_interpreter()
    cl = classify_arguments(argv, program, interpreter)
    if cl.help_level:
        console.print(_help_text(program, master, cl.help_level - 1, cl.attributes_level), markup=False)
        return 0
    if cl.show_config:
        console.print(show_config(master, cl.expert_level, cl.attributes_level), markup=False)
        return 0
    sources = cl.phil_sources + _input_file_sources(cl, interpreter)
    working = master.fetch(sources=sources)
    log_path = Path(f"{program.command}.log")
    with log_path.open("w") as log_file:
        log = Console(file=log_file, width=100, color_system=None, highlight=False, soft_wrap=True)
        ctx = RunContext(program, master, working, cl, console, log)
        ctx.info(f"{program.command} {__version__}")
        diff = master.fetch_diff(source=working).as_str()
        if diff.strip():
            ctx.info("The following parameters have been modified:\n")
            ctx.info(diff.rstrip("\n"))
            ctx.info("")
        write_text_atomic(f"{program.command}.phil", working.as_str())
        try:
            program.run(ctx)
        except BraggflowError as exc:  # the log must say why the run stopped, as stderr does
            log.print(f"error: {exc}", markup=False, highlight=False)
            raise
    return 0


__all__ = ["CommandLine", "Program", "RunContext", "classify_arguments", "run_program", "show_config"]
