"""Frozen parameter dataclasses of the `refinement` PHIL scope (braggflow/params/refinement.phil).

Field names are the PHIL names. `AUTO` (braggflow.phil.AUTO) marks a PHIL `Auto`; the engine
resolves the few Auto values it meets (reflections_per_degree, outlier.block_width, sparse).
Only the parts braggflow implements are mirrored; `from_phil` ignores the rest of the scope
and `check_supported` rejects non-default values of accepted-but-unimplemented options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from braggflow.errors import ParameterError
from braggflow.phil import AUTO, AutoType, to_dataclass

ENGINES = ("SimpleLBFGS", "LBFGScurvs", "GaussNewton", "LevMar", "SparseLevMar")
OUTLIER_ALGORITHMS = ("null", "auto", "mcd", "tukey", "sauter_poon")


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoReductionParams:
    min_nref_per_parameter: int = 5
    action: str = "fail"  # fail fix remove


@dataclass(frozen=True, slots=True, kw_only=True)
class SmootherParams:
    interval_width_degrees: float | AutoType | None = 36.0  # Auto (centroid analysis) is treated as 36
    absolute_num_intervals: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BeamParams:
    fix: tuple[str, ...] = ("in_spindle_plane", "wavelength")  # all in_spindle_plane out_spindle_plane wavelength
    fix_list: tuple[str, ...] | None = None
    force_static: bool = True
    smoother: SmootherParams = field(default_factory=SmootherParams)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnitCellParams:
    fix_list: tuple[str, ...] | None = None
    force_static: bool = False
    smoother: SmootherParams = field(default_factory=SmootherParams)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrientationParams:
    fix_list: tuple[str, ...] | None = None
    force_static: bool = False
    smoother: SmootherParams = field(default_factory=SmootherParams)


@dataclass(frozen=True, slots=True, kw_only=True)
class CrystalParams:
    fix: str | None = None  # all cell orientation
    unit_cell: UnitCellParams = field(default_factory=UnitCellParams)
    orientation: OrientationParams = field(default_factory=OrientationParams)


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectorParams:
    panels: str = "automatic"  # automatic single multiple hierarchical
    hierarchy_level: int = 0
    fix: str | None = None  # all position orientation distance
    fix_list: tuple[str, ...] | None = None
    force_static: bool = True
    smoother: SmootherParams = field(default_factory=SmootherParams)


@dataclass(frozen=True, slots=True, kw_only=True)
class GoniometerParams:
    fix: tuple[str, ...] = ("all",)  # all in_beam_plane out_beam_plane
    fix_list: tuple[str, ...] | None = None
    force_static: bool = True
    smoother: SmootherParams = field(default_factory=SmootherParams)


@dataclass(frozen=True, slots=True, kw_only=True)
class ParameterisationParams:
    auto_reduction: AutoReductionParams = field(default_factory=AutoReductionParams)
    scan_varying: bool | AutoType | None = False
    interval_width_degrees: float | None = None
    compose_model_per: str = "block"  # image block
    block_width: float = 1.0  # degrees
    set_scan_varying_errors: bool = False
    trim_scan_to_observations: bool = True
    beam: BeamParams = field(default_factory=BeamParams)
    crystal: CrystalParams = field(default_factory=CrystalParams)
    detector: DetectorParams = field(default_factory=DetectorParams)
    goniometer: GoniometerParams = field(default_factory=GoniometerParams)
    sparse: bool | AutoType | None = AUTO


@dataclass(frozen=True, slots=True, kw_only=True)
class RefineryParams:
    engine: str = "LevMar"
    max_iterations: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetParams:
    rmsd_cutoff: str = "fraction_of_bin_size"  # fraction_of_bin_size absolute
    bin_size_fraction: float | None = 0.0
    absolute_cutoffs: tuple[float, float, float] | None = None  # mm, mm, rad


@dataclass(frozen=True, slots=True, kw_only=True)
class TukeyParams:
    iqr_multiplier: float = 1.5


@dataclass(frozen=True, slots=True, kw_only=True)
class McdParams:
    alpha: float = 0.5
    max_n_groups: int = 5
    min_group_size: int = 300
    n_trials: int = 500
    k1: int = 2
    k2: int = 2
    k3: int = 100
    threshold_probability: float = 0.975


@dataclass(frozen=True, slots=True, kw_only=True)
class OutlierParams:
    algorithm: str | None = "auto"  # null auto mcd tukey sauter_poon
    nproc: int | AutoType | None = 1
    minimum_number_of_reflections: int = 20
    separate_experiments: bool = True
    separate_panels: bool = False
    separate_blocks: bool = True
    block_width: float | AutoType | None = AUTO  # degrees
    tukey: TukeyParams = field(default_factory=TukeyParams)
    mcd: McdParams = field(default_factory=McdParams)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReflectionsParams:
    reflections_per_degree: float | AutoType | None = AUTO
    minimum_sample_size: int | None = 1000
    maximum_sample_size: int | None = None
    random_seed: int | None = 42
    close_to_spindle_cutoff: float | None = 0.02
    scan_margin: float | None = 0.0  # degrees
    outlier: OutlierParams = field(default_factory=OutlierParams)


@dataclass(frozen=True, slots=True, kw_only=True)
class RefinementParams:
    """The `refinement` scope. `RefinementParams()` gives the DIALS library defaults."""

    PHIL_PATH: ClassVar[str] = "refinement"
    parameterisation: ParameterisationParams = field(default_factory=ParameterisationParams)
    refinery: RefineryParams = field(default_factory=RefineryParams)
    target: TargetParams = field(default_factory=TargetParams)
    reflections: ReflectionsParams = field(default_factory=ReflectionsParams)

    @classmethod
    def from_phil(cls, extracted: Any) -> "RefinementParams":
        """Build from the extracted `refinement` scope (`working.extract().refinement`)."""
        params = to_dataclass(cls, extracted, "refinement")
        check_supported(params, extracted)
        return params


def _multiple_used(ext: Any, dotted: str) -> bool:
    """True if a .multiple scope at `dotted` (below ext) has any non-None member."""
    node = ext
    for name in dotted.split("."):
        node = getattr(node, name, None)
        if node is None:
            return False
    for item in node or []:
        if any(v not in (None, [], ()) for v in vars(item).values()):
            return True
    return False


def check_supported(params: RefinementParams, extracted: Any | None = None) -> None:
    """Raise ParameterError for accepted-but-unimplemented choices."""
    p = params.parameterisation
    if "all" not in (p.goniometer.fix or ()):
        raise ParameterError(
            "refinement.parameterisation.goniometer.fix: goniometer refinement is not implemented "
            "in braggflow; keep goniometer.fix=all"
        )
    if params.reflections.outlier.algorithm == "sauter_poon":
        raise ParameterError(
            "refinement.reflections.outlier.algorithm=sauter_poon is not implemented in braggflow; "
            "use auto, mcd, tukey or null"
        )
    for model in ("beam", "detector", "goniometer"):
        if not getattr(p, model).force_static and p.scan_varying not in (False, None):
            raise ParameterError(
                f"refinement.parameterisation.{model}.force_static=False: only the crystal can be "
                f"scan-varying in braggflow; keep {model}.force_static=True"
            )
    if p.compose_model_per not in ("image", "block"):
        raise ParameterError(
            f"refinement.parameterisation.compose_model_per={p.compose_model_per}: choose image or block"
        )
    if not p.block_width > 0:
        raise ParameterError(f"refinement.parameterisation.block_width={p.block_width}: must be positive")
    if extracted is None:
        return
    for scope in (
        "parameterisation.beam.constraints",
        "parameterisation.crystal.unit_cell.constraints",
        "parameterisation.crystal.orientation.constraints",
        "parameterisation.detector.constraints",
        "parameterisation.goniometer.constraints",
        "parameterisation.crystal.unit_cell.restraints.tie_to_target",
        "parameterisation.crystal.unit_cell.restraints.tie_to_group",
    ):
        if _multiple_used(extracted, scope):
            raise ParameterError(
                f"refinement.{scope}: constraints and restraints are not implemented in "
                "braggflow; remove them"
            )
    ws = getattr(getattr(extracted, "reflections", None), "weighting_strategy", None)
    if ws is not None and getattr(ws, "override", None) not in (None, "statistical"):
        raise ParameterError(
            f"refinement.reflections.weighting_strategy.override={ws.override} is not implemented "
            "in braggflow; leave it unset (statistical weights)"
        )


__all__ = [
    "ENGINES",
    "OUTLIER_ALGORITHMS",
    "AutoReductionParams",
    "BeamParams",
    "CrystalParams",
    "DetectorParams",
    "GoniometerParams",
    "McdParams",
    "OrientationParams",
    "OutlierParams",
    "ParameterisationParams",
    "RefinementParams",
    "RefineryParams",
    "ReflectionsParams",
    "SmootherParams",
    "TargetParams",
    "TukeyParams",
    "UnitCellParams",
]
