"""phil.to_dataclass: the one extracted-PHIL -> frozen dataclass builder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import gemmi
import pytest

from braggflow import phil
from braggflow.phil import AUTO, AutoType

MASTER = """
top {
  n = 3
    .type = int
  d_min = Auto
    .type = float
  width = Auto
    .type = float
  mode = Auto
    .type = choice
  algorithm = *auto sum prf
    .type = choice
  range = None
    .type = ints(size=2)
  files = None
    .type = path
    .multiple = True
  cell = 10 20 30 90 90 90
    .type = unit_cell
  sg = P212121
    .type = space_group
  inner {
    x = 1.5
      .type = float
    unknown_to_dataclass = 2
      .type = int
  }
}
"""


@dataclass(frozen=True)
class Inner:
    x: float = 0.0


@dataclass(frozen=True)
class Top:
    n: int = 0
    d_min: float | None = 1.0
    width: float | AutoType | None = None
    mode: Literal["auto", "fast"] = "fast"
    algorithm: str = ""
    range: tuple[int, ...] = (9,)
    files: tuple[str, ...] = ("x",)
    cell: tuple[float, ...] = ()
    sg: str = ""
    inner: Inner = field(default_factory=Inner)
    not_in_phil: int = 7


def _extract(overrides: str = ""):
    master = phil.parse(MASTER)
    return master.fetch(sources=[phil.parse(overrides)]).extract().top


def test_rules_for_auto_none_multiple_and_gemmi_values():
    p = phil.to_dataclass(Top, _extract(), "top")
    assert p.n == 3
    assert p.d_min is None  # Auto -> None
    assert p.width is AUTO  # the hint lists AutoType: Auto is kept
    assert p.mode == "auto"  # Literal listing "auto"
    assert p.algorithm == "auto"  # a choice word stays a string
    assert p.range == () and p.files == ()  # None -> empty tuple
    assert p.cell == pytest.approx((10, 20, 30, 90, 90, 90))
    assert p.sg == gemmi.SpaceGroup("P 21 21 21").xhm()
    assert p.inner == Inner(1.5) and p.not_in_phil == 7


def test_choice_word_is_matched_to_a_literal_case_insensitively():
    @dataclass(frozen=True)
    class Background:
        algorithm: Literal["auto", "glm", "simple"] = "glm"

    master = phil.parse("algorithm = *Auto glm simple\n  .type = choice\n")
    assert phil.to_dataclass(Background, master.extract()).algorithm == "auto"


def test_multiple_and_values_are_converted():
    p = phil.to_dataclass(Top, _extract("top.files=a.expt\ntop.files=b.expt\ntop.range=1 5\ntop.width=2"), "top")
    assert p.files == ("a.expt", "b.expt") and p.range == (1, 5) and p.width == 2.0
