"""Inputs for the report tests: the committed l-cysteine and thaumatin files (tests/data)."""

from __future__ import annotations

import pytest

from braggflow.formats.expt_io import read_experiments
from braggflow.formats.refl_io import read_refl


@pytest.fixture
def lcys(tests_data):  # type: ignore[no-untyped-def]
    """(integrated experiments, indexed experiments, indexed table, integrated table)."""
    return (
        read_experiments(tests_data / "experiments" / "l_cysteine_integrated.expt"),
        read_experiments(tests_data / "experiments" / "l_cysteine_indexed.expt"),
        read_refl(tests_data / "experiments" / "l_cysteine_indexed.refl"),
        read_refl(tests_data / "reflections" / "l_cysteine_sweep4_integrated.refl"),
    )
