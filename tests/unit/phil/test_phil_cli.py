"""Command-line argument interpreter: unique-suffix matching, ambiguity, files, errors."""

from __future__ import annotations

import io

import pytest

from braggflow import phil
from braggflow.errors import ParameterError

MASTER = """\
spotfinder {
  filter {
    min_spot_size = Auto
      .type = int
    max_spot_size = 1000
      .type = int
  }
  mp.nproc = 1
    .type = int
  threshold.sigma_strong = 3.0
    .type = float
}
indexing {
  method = *fft3d fft1d
    .type = choice
  mp.nproc = 1
    .type = int
    .expert_level = 1
  !disabled_thing = 1
}
input {
  experiments = None
    .type = path
    .multiple = True
}
"""


@pytest.fixture
def interp():
    return phil.parse(MASTER).command_line_argument_interpreter()


@pytest.mark.parametrize(
    "arg, expected",
    [
        ("sigma_strong=4", "spotfinder.threshold.sigma_strong = 4\n"),
        ("threshold.sigma_strong=4", "spotfinder.threshold.sigma_strong = 4\n"),
        ("spotfinder.threshold.sigma_strong=4", "spotfinder.threshold.sigma_strong = 4\n"),
        ("method=fft1d", "indexing.method = fft1d\n"),
        ("min_spot_size='3'", "spotfinder.filter.min_spot_size = '3'\n"),
        ("method=fft1d\nmin_spot_size=3", "indexing.method = fft1d\nspotfinder.filter.min_spot_size = 3\n"),
        ("spotfinder { filter.min_spot_size=1\n mp.nproc=3 }",
         "spotfinder.filter.min_spot_size = 1\nspotfinder.mp.nproc = 3\n"),
        ("indexing.mp.nproc=3", "indexing.mp.nproc = 3\n"),
        ("experiments=a.expt", "input.experiments = a.expt\n"),
    ],
)
def test_unique_suffix(interp, arg: str, expected: str) -> None:
    assert interp.process(arg=arg).as_str() == expected


def test_disabled_definitions_are_not_targets(interp) -> None:
    with pytest.raises(ParameterError, match="^Unknown command line parameter definition: disabled_thing = 2"):
        interp.process(arg="disabled_thing=2")


def test_unknown_has_did_you_mean(interp) -> None:
    with pytest.raises(ParameterError) as info:
        interp.process(arg="sigma_strng=4")
    assert str(info.value).splitlines() == [
        "Unknown command line parameter definition: sigma_strng = 4",
        "Did you mean: spotfinder.threshold.sigma_strong?",
    ]


def test_ambiguous_tie_break_by_expert_level() -> None:
    out = io.StringIO()
    it = phil.parse(MASTER).command_line_argument_interpreter(out=out)
    assert it.process(arg="nproc=2").as_str() == "spotfinder.mp.nproc = 2\n"
    assert out.getvalue().startswith("Warning: Ambiguous parameter definition: nproc = 2\n")
    assert out.getvalue().endswith("Assuming spotfinder.mp.nproc was intended.\n")


def test_process_args_files_urls_and_leftovers(interp, tmp_path) -> None:
    f = tmp_path / "user.phil"
    f.write_text("spotfinder.filter.max_spot_size = 20\n")
    empty = tmp_path / "empty.phil"
    empty.write_text("")
    sources = interp.process_args([str(f), "min_spot_size=2"])
    w = phil.parse(MASTER).fetch(sources=sources)
    e = w.extract()
    assert (e.spotfinder.filter.max_spot_size, e.spotfinder.filter.min_spot_size) == (20, 2)
    handled = []
    interp.process_args(["image_001.cbf", "http://x.org/a=b"], custom_processor=lambda a: handled.append(a) or True)
    assert handled == ["image_001.cbf", "http://x.org/a=b"]
    with pytest.raises(ParameterError) as info:
        interp.process_args(["foo.expt", str(empty), "x=1"][:2])
    assert str(info.value) == f"Unable to handle the following arguments:\n  foo.expt\n  {empty}"


def test_later_sources_win_and_multiple_accumulate(interp) -> None:
    master = phil.parse(MASTER)
    sources = interp.process_args(
        ["min_spot_size=2", "min_spot_size=5", "experiments=a.expt", "experiments=b.expt"]
    )
    e = master.fetch(sources=sources).extract()
    assert e.spotfinder.filter.min_spot_size == 5
    assert e.input.experiments == ["a.expt", "b.expt"]


def test_home_scope() -> None:
    master = phil.parse("a { x = 1 }\nb { x = 2 }")
    it = master.command_line_argument_interpreter(home_scope="b")
    assert it.process(arg="x=3").as_str() == "b.x = 3\n"
