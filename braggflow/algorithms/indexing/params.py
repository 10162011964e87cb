"""Frozen parameter dataclasses of the `indexing` PHIL scope (braggflow/params/indexing.phil).

Field names are the PHIL names. `None` in a field documented as "Auto" means the PHIL value
`Auto` (or None); the stage resolves those itself from the data (max_cell, d_min, ...).
Angles are degrees here because they are user-facing PHIL values; the algorithms convert.
`from_phil(extract)` builds the dataclasses from an extracted PHIL object (attribute access)
by walking the dataclass fields, so the .phil file and these classes must use the same names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from braggflow.errors import ParameterError
from braggflow.phil import to_dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class MaxCellEstimationParams:
    filter_ice: bool = True
    filter_overlaps: bool = True
    overlaps_border: int = 0
    multiplier: float = 1.3
    step_size: float = 45.0  # degrees
    nearest_neighbor_percentile: float | None = None
    histogram_binning: Literal["linear", "log"] = "log"
    nn_per_bin: int = 5
    max_height_fraction: float = 0.25


@dataclass(frozen=True, slots=True, kw_only=True)
class KnownSymmetryParams:
    space_group: str | None = None  # any symbol gemmi understands
    unit_cell: tuple[float, float, float, float, float, float] | None = None
    relative_length_tolerance: float = 0.1
    absolute_angle_tolerance: float = 5.0  # degrees
    max_delta: float = 5.0  # degrees


@dataclass(frozen=True, slots=True, kw_only=True)
class SimpleAssignmentParams:
    hkl_tolerance: float = 0.3


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexAssignmentParams:
    method: Literal["simple", "local"] = "simple"
    simple: SimpleAssignmentParams = field(default_factory=SimpleAssignmentParams)


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckMisindexingParams:
    grid_search_scope: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RefinementProtocolParams:
    mode: Literal["refine_shells", "repredict_only"] | None = "refine_shells"
    n_macro_cycles: int = 5
    d_min_step: float | None = None  # Auto
    d_min_start: float | None = None
    d_min_final: float | None = None
    disable_unit_cell_volume_sanity_check: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MultipleLatticeSearchParams:
    recycle_unindexed_reflections_cutoff: float = 0.1
    minimum_angular_separation: float = 5.0  # degrees
    max_lattices: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class WeightedScorerParams:
    power: int = 1
    volume_weight: float = 1.0
    n_indexed_weight: float = 1.0
    rmsd_weight: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class BasisVectorCombinationsParams:
    max_combinations: int | None = None
    max_refine: int | None = None  # Auto: 50 for sweeps, 5 for stills
    sys_absent_threshold: float = 0.9
    solution_scorer: Literal["filter", "weighted"] = "weighted"
    weighted: WeightedScorerParams = field(default_factory=WeightedScorerParams)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReciprocalSpaceGridParams:
    n_points: int = 256
    d_min: float | None = None  # Auto


@dataclass(frozen=True, slots=True, kw_only=True)
class FFT3DParams:
    b_iso: float | None = None  # Auto
    rmsd_cutoff: float = 15.0
    peak_search: Literal["flood_fill", "clean"] = "flood_fill"
    peak_volume_cutoff: float = 0.15
    reciprocal_space_grid: ReciprocalSpaceGridParams = field(default_factory=ReciprocalSpaceGridParams)


@dataclass(frozen=True, slots=True, kw_only=True)
class FFT1DParams:
    characteristic_grid: float | None = None  # radians; None: 0.029


@dataclass(frozen=True, slots=True, kw_only=True)
class RealSpaceGridSearchParams:
    characteristic_grid: float = 0.02  # radians
    max_vectors: int = 30


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexingParams:
    PHIL_PATH: ClassVar[str] = "indexing"
    nproc: int = 1
    mm_search_scope: float = 4.0
    min_cell_volume: float = 25.0
    min_cell: float = 3.0
    max_cell: float | None = None  # Auto
    max_cell_estimation: MaxCellEstimationParams = field(default_factory=MaxCellEstimationParams)
    sigma_phi_deg: float | None = None
    known_symmetry: KnownSymmetryParams = field(default_factory=KnownSymmetryParams)
    index_assignment: IndexAssignmentParams = field(default_factory=IndexAssignmentParams)
    check_misindexing: CheckMisindexingParams = field(default_factory=CheckMisindexingParams)
    refinement_protocol: RefinementProtocolParams = field(default_factory=RefinementProtocolParams)
    multiple_lattice_search: MultipleLatticeSearchParams = field(
        default_factory=MultipleLatticeSearchParams
    )
    basis_vector_combinations: BasisVectorCombinationsParams = field(
        default_factory=BasisVectorCombinationsParams
    )
    method: Literal["fft3d", "fft1d", "real_space_grid_search", "low_res_spot_match"] = "fft3d"
    fft1d: FFT1DParams = field(default_factory=FFT1DParams)
    fft3d: FFT3DParams = field(default_factory=FFT3DParams)
    real_space_grid_search: RealSpaceGridSearchParams = field(
        default_factory=RealSpaceGridSearchParams
    )
    image_range: tuple[tuple[int, int], ...] = ()
    joint_indexing: bool | None = None  # Auto


IMPLEMENTED_METHODS = ("fft3d", "fft1d", "real_space_grid_search")


def check_params(params: IndexingParams) -> None:
    """Reject values braggflow accepts in PHIL but does not implement, with a fix."""
    if params.method not in IMPLEMENTED_METHODS:
        raise ParameterError(
            f"indexing.method = {params.method}: not implemented in braggflow;"
            f" use one of {', '.join(IMPLEMENTED_METHODS)}"
        )
    if params.index_assignment.method != "simple":
        raise ParameterError(
            "indexing.index_assignment.method = local: not implemented in braggflow; use simple"
        )
    if params.method == "real_space_grid_search" and params.known_symmetry.unit_cell is None:
        raise ParameterError(
            "indexing.method = real_space_grid_search needs indexing.known_symmetry.unit_cell;"
            " give the cell (e.g. unit_cell=5.43,8.14,12.04,90,90,90) or use method=fft3d"
        )
    if params.multiple_lattice_search.max_lattices < 1:
        raise ParameterError("indexing.multiple_lattice_search.max_lattices must be >= 1")


# -- PHIL extract -> dataclasses ---------------------------------------------------------


def from_phil(extract: Any) -> IndexingParams:
    """IndexingParams from an extracted PHIL object: either the root (with `.indexing`) or
    the `indexing` scope itself. Missing attributes keep the dataclass defaults."""
    scope = getattr(extract, "indexing", extract)
    return to_dataclass(IndexingParams, scope, "indexing")


__all__ = [
    "BasisVectorCombinationsParams",
    "CheckMisindexingParams",
    "FFT1DParams",
    "FFT3DParams",
    "IMPLEMENTED_METHODS",
    "IndexAssignmentParams",
    "IndexingParams",
    "KnownSymmetryParams",
    "MaxCellEstimationParams",
    "MultipleLatticeSearchParams",
    "RealSpaceGridSearchParams",
    "ReciprocalSpaceGridParams",
    "RefinementProtocolParams",
    "SimpleAssignmentParams",
    "WeightedScorerParams",
    "check_params",
    "from_phil",
]
