"""Geometry refinement (DIALS `dials.refine` core): static and scan-varying refinement of rotation experiments."""

from braggflow.algorithms.refinement.engine import ExperimentRmsds, RefinementResult, RefinementStep, refine, refine_auto
from braggflow.algorithms.refinement.params import RefinementParams
from braggflow.algorithms.refinement.selection import centroids_px_to_mm

__all__ = [
    "ExperimentRmsds",
    "RefinementParams",
    "RefinementResult",
    "RefinementStep",
    "centroids_px_to_mm",
    "refine",
    "refine_auto",
]
