"""Bravais lattice search and refinement in each setting (DIALS refine_bravais_settings)."""

from braggflow.algorithms.bravais.recommend import is_recommended, symop_correlations
from braggflow.algorithms.bravais.refine import (
    BravaisParams,
    BravaisResult,
    RefinedSetting,
    refine_bravais_settings,
    refine_setting,
    summary_dict,
)
from braggflow.algorithms.bravais.settings import LatticeSetting, find_lattice_settings, format_abc
from braggflow.algorithms.bravais.types import BRAVAIS_TYPES, BravaisType, lowest_space_group

__all__ = [
    "BRAVAIS_TYPES",
    "BravaisParams",
    "BravaisResult",
    "BravaisType",
    "RefinedSetting",
    "is_recommended",
    "refine_bravais_settings",
    "refine_setting",
    "summary_dict",
    "symop_correlations",
    "LatticeSetting",
    "find_lattice_settings",
    "format_abc",
    "lowest_space_group",
]
