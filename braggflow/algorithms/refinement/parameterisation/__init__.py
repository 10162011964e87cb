"""Model parameterisations for geometry refinement (beam, crystal, detector)."""

from braggflow.algorithms.refinement.parameterisation.beam import BeamParameterisation
from braggflow.algorithms.refinement.parameterisation.crystal import (
    CrystalOrientationParameterisation,
    CrystalUnitCellParameterisation,
    b_from_metric,
    metric_constraint_basis,
)
from braggflow.algorithms.refinement.parameterisation.detector import DetectorParameterisation, panel_groups
from braggflow.algorithms.refinement.parameterisation.manager import (
    ExperimentDerivatives,
    PredictionParameterisation,
)

__all__ = [
    "BeamParameterisation",
    "CrystalOrientationParameterisation",
    "CrystalUnitCellParameterisation",
    "DetectorParameterisation",
    "ExperimentDerivatives",
    "PredictionParameterisation",
    "b_from_metric",
    "metric_constraint_basis",
    "panel_groups",
]
