"""The command framework: argument classification, PHIL diff header, log, exit codes."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from braggflow.errors import StageFailed
from braggflow.pipeline.command import Program, run_program

MASTER = """
spotfinder {
  filter {
    min_spot_size = 3
      .type = int(value_min=1)
      .help = "Smallest spot kept"
    d_min = None
      .type = float(value_min=0)
  }
  mp {
    nproc = 1
      .type = int(value_min=1)
  }
}
input {
  experiments = None
    .type = path
    .multiple = True
  reflections = None
    .type = path
    .multiple = True
}
"""

seen: dict = {}


def _run(ctx):
    seen["params"] = ctx.params
    seen["experiments"] = ctx.experiment_paths
    ctx.info("ran the toy")


def _fail(ctx):
    raise StageFailed("indexing failed: no lattice explains more than 20% of 12 spots")


def _crash(ctx):
    raise RuntimeError("bug")


def _console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=100, color_system=None), buf


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    seen.clear()


def toy(run=_run) -> Program:
    return Program(name="toy", description="A toy program.", run=run, master_text=MASTER)


def test_override_by_unique_suffix_reaches_params_and_diff(tmp_path):
    console, buf = _console()
    assert run_program(toy(), ["min_spot_size=5", "nproc=2"], console=console) == 0
    assert seen["params"].spotfinder.filter.min_spot_size == 5
    assert seen["params"].spotfinder.mp.nproc == 2
    out = buf.getvalue()
    assert "The following parameters have been modified:" in out
    assert "min_spot_size = 5" in out
    log = (tmp_path / "braggflow.toy.log").read_text()
    assert "min_spot_size = 5" in log and "ran the toy" in log
    effective = (tmp_path / "braggflow.toy.phil").read_text()
    assert "nproc = 2" in effective


def test_experiment_files_are_classified_and_shown_in_diff(tmp_path):
    (tmp_path / "imported.expt").write_text("{}")
    console, buf = _console()
    assert run_program(toy(), ["imported.expt"], console=console) == 0
    assert seen["experiments"] == ["imported.expt"]
    assert "experiments = imported.expt" in buf.getvalue()


def test_no_diff_header_without_changes():
    console, buf = _console()
    assert run_program(toy(), [], console=console) == 0
    assert "have been modified" not in buf.getvalue()


def test_phil_file_argument(tmp_path):
    (tmp_path / "user.phil").write_text("spotfinder.filter.d_min = 2.5\n")
    console, _ = _console()
    assert run_program(toy(), ["user.phil"], console=console) == 0
    assert seen["params"].spotfinder.filter.d_min == 2.5


def test_show_config_prints_master_and_exits_zero():
    console, buf = _console()
    assert run_program(toy(), ["-c", "-a", "1"], console=console) == 0
    out = buf.getvalue()
    assert out.startswith("Showing configuration parameters with:")
    assert "attributes_level = 1" in out and "min_spot_size = 3" in out
    assert "seen" not in seen


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["min_spot_sise=3"], "min_spot_size"),  # did you mean
        (["min_spot_size=abc"], "min_spot_size"),
        (["min_spot_size=0"], "min_spot_size"),
        (["missing.expt"], "missing.expt"),
        (["notafile"], "notafile"),
    ],
)
def test_bad_input_is_one_line_exit_2_or_1(argv, fragment, capsys):
    console, _ = _console()
    code = run_program(toy(), argv, console=console)
    err = capsys.readouterr().err
    assert code in (1, 2)
    assert fragment in err
    assert "Traceback" not in err


def test_stage_failure_exits_1_without_traceback(capsys):
    console, _ = _console()
    assert run_program(toy(_fail), [], console=console) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: indexing failed") and "Traceback" not in err


def test_internal_error_exits_70_with_traceback(capsys):
    console, _ = _console()
    assert run_program(toy(_crash), [], console=console) == 70
    err = capsys.readouterr().err
    assert "Traceback" in err and "please report" in err


def _mtz_seen(ctx):
    seen["mtz"] = ctx.mtz_paths
    seen["images"] = ctx.images


def test_mtz_arguments_only_for_programs_that_accept_them(tmp_path, capsys):
    (tmp_path / "scaled.mtz").write_bytes(b"MTZ ")
    console, _ = _console()
    prog = Program(name="toy", description="A toy program.", run=_mtz_seen, master_text=MASTER, accepts_mtz=True)
    assert run_program(prog, ["scaled.mtz"], console=console) == 0
    assert seen["mtz"] == ["scaled.mtz"] and seen["images"] == []
    assert run_program(toy(), ["scaled.mtz"], console=console) == 2
    assert "scaled.mtz" in capsys.readouterr().err


def _wide_table(ctx):
    from rich.table import Table

    table = Table(title="Summary")
    for i in range(12):
        table.add_column(f"<I/sigI> {i}")
    table.add_row(*[f"{1234.5678 * i:.2f}" for i in range(12)])
    ctx.show(table)


def test_tables_print_at_natural_width_on_narrow_consoles(tmp_path):
    console = Console(file=io.StringIO(), width=60, color_system=None)
    prog = Program(name="toy", description="A toy program.", run=_wide_table, master_text=MASTER)
    assert run_program(prog, [], console=console) == 0
    out = console.file.getvalue()
    log = (tmp_path / "braggflow.toy.log").read_text()
    for text in (out, log):
        assert "…" not in text and "13580.25" in text and "<I/sigI> 11" in text
    assert console.width == 60


def test_stage_failure_is_written_to_the_log_too(tmp_path):
    console, _ = _console()
    assert run_program(toy(_fail), [], console=console) == 1
    assert "error: indexing failed: no lattice" in (tmp_path / "braggflow.toy.log").read_text()


def test_program_default_overrides_are_the_base_of_the_diff():
    prog = Program(name="toy", description="A toy program.", run=_run, master_text=MASTER, defaults="spotfinder.mp.nproc = Auto")
    console, buf = _console()
    assert run_program(prog, [], console=console) == 0
    assert seen["params"].spotfinder.mp.nproc is phil_auto() and "have been modified" not in buf.getvalue()
    console, buf = _console()
    assert run_program(prog, ["nproc=1"], console=console) == 0  # the library default, explicit
    assert seen["params"].spotfinder.mp.nproc == 1 and "nproc = 1" in buf.getvalue()


def phil_auto():
    from braggflow.phil import AUTO

    return AUTO
