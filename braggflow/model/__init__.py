"""Experiment models (beam, detector, goniometer, scan, crystal) and the reflection table."""

from braggflow.model.beam import Beam
from braggflow.model.crystal import Crystal, b_matrix, cell_from_real_space, parse_abc
from braggflow.model.detector import PARALLAX, SIMPLE, Detector, Panel
from braggflow.model.experiment import Experiment, ExperimentList, ImageSetRef, ProfileModel, new_identifier
from braggflow.model.goniometer import Goniometer
from braggflow.model.scan import Scan

__all__ = [
    "Beam",
    "Crystal",
    "Detector",
    "Experiment",
    "ExperimentList",
    "Goniometer",
    "ImageSetRef",
    "PARALLAX",
    "Panel",
    "ProfileModel",
    "SIMPLE",
    "Scan",
    "b_matrix",
    "cell_from_real_space",
    "new_identifier",
    "parse_abc",
]
