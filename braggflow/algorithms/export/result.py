"""Plain data passed from the export algorithm to the writer and the report."""

from __future__ import annotations

from dataclasses import dataclass, field

import gemmi
import numpy as np

from .filtering import FilterReport

__all__ = ["BatchHeader", "MtzColumn", "MtzExportResult", "MtzSummary", "SummaryColumn", "SummaryCrystal", "SummaryDataset"]


@dataclass(frozen=True)
class MtzColumn:
    """label, MTZ type letter, values (n,) (H, K, L hold the original, unreduced indices)."""

    label: str
    type: str
    values: np.ndarray


@dataclass(frozen=True)
class BatchHeader:
    """One image's orientation block (algorithms.md 8.4); angles in degrees, Cambridge frame.

    umat : (3, 3) Mosflm U (written transposed, i.e. column-major, as MTZ wants).
    """

    number: int
    dataset_id: int
    wavelength: float
    cell: tuple[float, ...]
    umat: np.ndarray
    phi_start_deg: float
    phi_range_deg: float
    axis: tuple[float, float, float]
    source: tuple[float, float, float]
    distance_mm: float
    image_size: tuple[int, int]
    mosaicity_deg: float = 0.0


@dataclass(frozen=True)
class MtzExportResult:
    """Everything the unmerged MTZ holds; `write_mtz` turns it into a file."""

    title: str
    history: tuple[str, ...]
    space_group: gemmi.SpaceGroup
    cell: tuple[float, ...]
    project_name: str
    crystal_name: str
    dataset_name: str
    wavelengths: tuple[float, ...]  # one dataset per distinct wavelength; data in the last
    columns: tuple[MtzColumn, ...]
    batches: tuple[BatchHeader, ...]
    filter_report: FilterReport
    notes: tuple[str, ...] = ()

    @property
    def n_reflections(self) -> int:
        return len(self.columns[0].values) if self.columns else 0

    def column(self, label: str) -> np.ndarray:
        for c in self.columns:
            if c.label == label:
                return c.values
        raise KeyError(f"no column {label!r}; columns: {', '.join(c.label for c in self.columns)}")

    @property
    def miller_indices(self) -> np.ndarray:
        """(n, 3) int32 original indices, in row order."""
        return np.stack([self.column(x) for x in "HKL"], axis=1).astype(np.int32)


@dataclass(frozen=True)
class SummaryColumn:
    label: str
    n_valid: int
    percent_valid: float
    min_value: float
    max_value: float
    type: str


@dataclass(frozen=True)
class SummaryDataset:
    name: str
    id: int
    wavelength: float
    columns: tuple[SummaryColumn, ...]


@dataclass(frozen=True)
class SummaryCrystal:
    name: str
    project: str
    id: int
    cell: tuple[float, ...]
    datasets: tuple[SummaryDataset, ...]


@dataclass(frozen=True)
class MtzSummary:
    """What `iotbx.mtz` show_summary prints about a file (the tutorial's summary)."""

    title: str
    space_group_symbol: str
    space_group_number: int
    space_group_name: str
    point_group_symbol: str
    n_batches: int
    n_reflections: int
    resolution_range: tuple[float, float]
    history: tuple[str, ...]
    crystals: tuple[SummaryCrystal, ...] = field(default_factory=tuple)
