"""Report tables shaped like DIALS' refinement tables."""

from __future__ import annotations

import io

import numpy as np
from rich.console import Console

from braggflow.algorithms.refinement import RefinementResult, RefinementStep
from braggflow.algorithms.refinement.engine import ExperimentRmsds
from braggflow.model import ExperimentList
from braggflow.model.reflections import ReflectionTable
from braggflow.report import refinement as report


def _render(renderable) -> list[str]:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(renderable)
    return [line.rstrip() for line in console.file.getvalue().splitlines()]


def _result() -> RefinementResult:
    steps = [RefinementStep(0, 7308, 0.37964, 0.37554, 0.24355, 2.2, 2.2, 2.4), RefinementStep(1, 7308, 0.12459, 0.11211, 0.19516, 0.7, 0.6, 1.9)]
    rng = np.random.default_rng(0)
    return RefinementResult(
        experiments=ExperimentList(), reflections=ReflectionTable(), steps=steps, termination="RMSD no longer decreasing",
        rmsds_by_experiment=[ExperimentRmsds(0, 7308, 0.13967, 0.19176, 0.11965, 0.024, 0.033, 0.012)], n_outliers=3,
        initial_residuals=rng.normal(size=(100, 3)) * 0.01, weights=np.full((100, 3), 135.0),
    )


def test_refinement_steps_table_matches_dials_layout():
    lines = _render(report.refinement_steps(_result()))
    assert lines[0] == "Refinement steps"
    assert lines[1] == lines[4] == lines[-1] and set(lines[1]) == {"-"}
    assert lines[2].split("|")[1:-1] == [" Step ", " Nref ", " RMSD_X  ", " RMSD_Y  ", " RMSD_Phi "]
    assert [c.strip() for c in lines[3].split("|")[1:-1]] == ["", "", "(mm)", "(mm)", "(deg)"]
    assert [c.strip() for c in lines[5].split("|")[1:-1]] == ["0", "7308", "0.37964", "0.37554", "0.24355"]


def test_rmsds_by_experiment_and_summary_tables():
    lines = _render(report.rmsds_by_experiment(_result()))
    assert [c.strip() for c in lines[2].split("|")[1:-1]] == ["Exp", "Nref", "RMSD_X", "RMSD_Y", "RMSD_Z"]
    assert [c.strip() for c in lines[3].split("|")[1:-1]] == ["", "", "(px)", "(px)", "(images)"]
    assert [c.strip() for c in lines[5].split("|")[1:-1]] == ["0", "7308", "0.13967", "0.19176", "0.11965"]
    lines = _render(report.observation_summary(_result()))
    assert lines[0].startswith("Summary statistics for observations matched to predictions:")
    assert [c.strip() for c in lines[2].split("|")[1:-1]] == ["", "Min", "Q1", "Med", "Q3", "Max"]
    labels = [line.split("|")[1].strip() for line in lines[4:10]]
    assert labels == ["Xc - Xo (mm)", "Yc - Yo (mm)", "Phic - Phio (deg)", "X weights", "Y weights", "Phi weights"]
    assert lines[7].split("|")[2].strip() == "135"
    text = "\n".join(_render(report.summary(_result())))
    assert "RMSD no longer decreasing" in text
