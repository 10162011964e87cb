"""The refinement PHIL scope and its dataclasses."""

from __future__ import annotations

from pathlib import Path

import pytest

import braggflow
from braggflow import phil
from braggflow.algorithms.refinement import RefinementParams
from braggflow.errors import ParameterError
from braggflow.phil import AUTO

MASTER = Path(braggflow.__file__).parent / "params" / "refinement.phil"


def _extract(*overrides: str):
    master = phil.parse(file_name=MASTER)
    working = master.fetch(sources=[phil.parse(o) for o in overrides])
    return working.extract().refinement


def test_defaults_from_phil_equal_dataclass_defaults():
    assert RefinementParams.from_phil(_extract()) == RefinementParams()
    p = RefinementParams()
    assert p.refinery.engine == "LevMar" and p.reflections.outlier.algorithm == "auto"
    assert p.parameterisation.beam.fix == ("in_spindle_plane", "wavelength")
    assert p.reflections.reflections_per_degree is AUTO and p.reflections.close_to_spindle_cutoff == 0.02


def test_overrides_reach_the_dataclass():
    p = RefinementParams.from_phil(
        _extract(
            "refinement.refinery.engine=GaussNewton",
            "refinement.parameterisation.beam.fix=all",
            "refinement.parameterisation.detector.fix=orientation",
            "refinement.reflections.reflections_per_degree=100",
            "refinement.reflections.outlier.algorithm=tukey",
            "refinement.parameterisation.crystal.unit_cell.fix_list=g_param_0",
        )
    )
    assert p.refinery.engine == "GaussNewton"
    assert p.parameterisation.beam.fix == ("all",)
    assert p.parameterisation.detector.fix == "orientation"
    assert p.reflections.reflections_per_degree == 100.0
    assert p.reflections.outlier.algorithm == "tukey"
    assert p.parameterisation.crystal.unit_cell.fix_list == ("g_param_0",)


@pytest.mark.parametrize(
    "override",
    [
        "refinement.reflections.outlier.algorithm=sauter_poon",
        "refinement.parameterisation.goniometer.fix=in_beam_plane",
        "refinement.parameterisation.scan_varying=True\nrefinement.parameterisation.detector.force_static=False",
        "refinement.parameterisation.crystal.unit_cell.restraints.tie_to_target.values=1,2,3,90,90,90",
    ],
)
def test_unimplemented_options_are_rejected(override):
    with pytest.raises(ParameterError, match="refinement"):
        RefinementParams.from_phil(_extract(override))
