"""Rotation-method diffraction simulator with exact ground truth (docs/simulator.md)."""

from braggflow.algorithms.simulate.intensities import TrueIntensities, model_intensities, wilson_intensities
from braggflow.algorithms.simulate.params import SimulationParams, validate, with_overrides
from braggflow.algorithms.simulate.presets import PRESETS, preset
from braggflow.algorithms.simulate.render import SimulatedReflections
from braggflow.algorithms.simulate.sweep import Simulation, prepare_simulation

__all__ = [
    "PRESETS",
    "SimulatedReflections",
    "Simulation",
    "SimulationParams",
    "TrueIntensities",
    "model_intensities",
    "prepare_simulation",
    "preset",
    "validate",
    "wilson_intensities",
    "with_overrides",
]
