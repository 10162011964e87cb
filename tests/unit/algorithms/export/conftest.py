"""Fixtures for the export tests (helpers live in export_testdata.py)."""

from __future__ import annotations

import pytest
from export_testdata import L_CYS_EXPT, L_CYS_REFL, synthetic_experiment, synthetic_table

from braggflow.formats.expt_io import read_experiments
from braggflow.formats.refl_io import read_refl
from braggflow.model import ExperimentList


@pytest.fixture(scope="session")
def lcys():
    """(experiments, reflections) of DIALS 3.12's l-cysteine sweep-4 integration."""
    return read_experiments(L_CYS_EXPT), read_refl(L_CYS_REFL)


@pytest.fixture
def synthetic():
    e = synthetic_experiment()
    return ExperimentList([e]), synthetic_table(identifier=e.identifier)
