"""Frozen parameters of braggflow.export (PHIL master: braggflow/params/export.phil)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

__all__ = ["ExportParams", "MmcifParams", "MtzParams"]


@dataclass(frozen=True, kw_only=True)
class MtzParams:
    hklout: str | None = None  # None (auto): integrated.mtz, or scaled.mtz for scaled data
    combine_partials: bool = True
    partiality_threshold: float = 0.4
    min_isigi: float | None = -5.0
    force_static_model: bool = False
    filter_ice_rings: bool = False
    d_min: float | None = None
    crystal_name: str = "XTAL"
    project_name: str = "DIALS"
    dataset_name: str = "FROMDIALS"
    best_unit_cell: tuple[float, ...] | None = None
    wavelength_tolerance: float = 1e-4


@dataclass(frozen=True, kw_only=True)
class MmcifParams:
    filename: str | None = None  # None (auto): integrated.cif, or scaled.cif


@dataclass(frozen=True, kw_only=True)
class ExportParams:
    PHIL_PATH: ClassVar[str] = ""
    format: str = "mtz"
    intensity: tuple[str, ...] = ("auto",)
    mtz: MtzParams = field(default_factory=MtzParams)
    mmcif: MmcifParams = field(default_factory=MmcifParams)
