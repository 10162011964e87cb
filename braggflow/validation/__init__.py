"""Validation against simulation truth: setting matrices, misorientation, matching
processed reflections to truth.refl, and intensity statistics (used by the benchmarks and
the end-to-end tests)."""

from braggflow.validation.compare import (
    IntegrationComparison,
    MethodStats,
    Thresholds,
    compare_files,
    compare_integrated,
)
from braggflow.validation.matching import match_reflections, reindex
from braggflow.validation.settings import (
    CrystalComparison,
    compare_crystal,
    in_truth_setting,
    misorientation_deg,
    orientation_of,
    setting_matrix,
)
from braggflow.validation.statistics import (
    ResolutionBin,
    Residuals,
    cc_by_resolution,
    fit_scale,
    normalised_residuals,
    pearson_cc,
)

__all__ = [
    "CrystalComparison",
    "IntegrationComparison",
    "MethodStats",
    "ResolutionBin",
    "Residuals",
    "Thresholds",
    "cc_by_resolution",
    "compare_crystal",
    "compare_files",
    "compare_integrated",
    "fit_scale",
    "in_truth_setting",
    "match_reflections",
    "misorientation_deg",
    "normalised_residuals",
    "orientation_of",
    "pearson_cc",
    "reindex",
    "setting_matrix",
]
