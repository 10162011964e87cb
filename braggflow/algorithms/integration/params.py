"""Frozen parameters of the integration stage, mirroring the PHIL scopes `integration`,
`profile` and `prediction` of braggflow/params/integration.phil (DIALS names).

`None` in a field documented as "Auto" means the PHIL value Auto/None; `resolve` replaces
them with concrete values before `integrate` runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

from braggflow.errors import ParameterError
from braggflow.phil import to_dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockParams:
    size: float | None = None  # Auto
    units: Literal["degrees", "radians", "frames"] = "degrees"
    threshold: float = 0.95
    max_memory_usage: float = 0.80


@dataclass(frozen=True, slots=True, kw_only=True)
class MpParams:
    method: Literal["multiprocessing", "drmaa", "sge", "lsf", "pbs"] = "multiprocessing"
    nproc: int | None = 1  # Auto = all cores (the program overrides to Auto)
    njobs: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class GlmModelParams:
    algorithm: Literal["constant2d", "constant3d", "loglinear2d", "loglinear3d"] = "constant3d"


@dataclass(frozen=True, slots=True, kw_only=True)
class GlmParams:
    model: GlmModelParams = field(default_factory=GlmModelParams)
    min_pixels: int = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class SimpleModelParams:
    algorithm: Literal["constant2d", "constant3d", "linear2d", "linear3d"] = "constant3d"


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitsParams:
    lower: float
    upper: float


@dataclass(frozen=True, slots=True, kw_only=True)
class OutlierParams:
    algorithm: Literal["null", "nsigma", "truncated", "normal", "plane", "tukey"] = "null"
    nsigma: LimitsParams = field(default_factory=lambda: LimitsParams(lower=3.0, upper=3.0))
    truncated: LimitsParams = field(default_factory=lambda: LimitsParams(lower=0.01, upper=0.01))
    tukey: LimitsParams = field(default_factory=lambda: LimitsParams(lower=1.5, upper=1.5))


@dataclass(frozen=True, slots=True, kw_only=True)
class SimpleParams:
    model: SimpleModelParams = field(default_factory=SimpleModelParams)
    outlier: OutlierParams = field(default_factory=OutlierParams)
    min_pixels: int = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class BackgroundParams:
    algorithm: Literal["auto", "glm", "gmodel", "null", "simple"] = "auto"
    glm: GlmParams = field(default_factory=GlmParams)
    simple: SimpleParams = field(default_factory=SimpleParams)


@dataclass(frozen=True, slots=True, kw_only=True)
class SummationParams:
    detector_gain: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class FittingParams:
    fitting: bool = True
    valid_foreground_threshold: float = 0.75
    variance: Literal["fit", "dials"] = "fit"


@dataclass(frozen=True, slots=True, kw_only=True)
class FilterParams:
    min_zeta: float = 0.05
    ice_rings: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class IntegrationScope:
    block: BlockParams = field(default_factory=BlockParams)
    mp: MpParams = field(default_factory=MpParams)
    background: BackgroundParams = field(default_factory=BackgroundParams)
    summation: SummationParams = field(default_factory=SummationParams)
    profile: FittingParams = field(default_factory=FittingParams)
    filter: FilterParams = field(default_factory=FilterParams)


@dataclass(frozen=True, slots=True, kw_only=True)
class GaussianRsParameters:
    n_sigma: float = 3.0
    sigma_b: float | None = None  # degrees; None: estimate
    sigma_m: float | None = None  # degrees; None: estimate


@dataclass(frozen=True, slots=True, kw_only=True)
class MinSpotsParams:
    overall: int = 50
    per_degree: int = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class GaussianRsFitting:
    grid_method: Literal["single", "regular_grid", "circular_grid", "spherical_grid"] = "regular_grid"
    fit_method: Literal["reciprocal_space", "detector_space"] = "reciprocal_space"
    grid_size: int = 5
    scan_step: float = 5.0  # degrees
    max_reference_reflections: int = 20000


@dataclass(frozen=True, slots=True, kw_only=True)
class GaussianRsParams:
    scan_varying: bool = False
    min_spots: MinSpotsParams = field(default_factory=MinSpotsParams)
    sigma_m_algorithm: Literal["basic", "extended"] = "extended"
    centroid_definition: Literal["com", "s1"] = "s1"
    parameters: GaussianRsParameters = field(default_factory=GaussianRsParameters)
    fitting: GaussianRsFitting = field(default_factory=GaussianRsFitting)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileScope:
    algorithm: Literal["ellipsoid", "gaussian_rs"] = "gaussian_rs"
    gaussian_rs: GaussianRsParams = field(default_factory=GaussianRsParams)


@dataclass(frozen=True, slots=True, kw_only=True)
class PredictionParams:
    d_min: float | None = None
    d_max: float | None = None
    margin: int = 1
    force_static: bool = False
    padding: float = 1.0  # degrees


@dataclass(frozen=True, slots=True, kw_only=True)
class IntegrateParams:
    """Everything `integrate` needs; build with `from_phil(working.extract())`."""

    integration: IntegrationScope = field(default_factory=IntegrationScope)
    profile: ProfileScope = field(default_factory=ProfileScope)
    prediction: PredictionParams = field(default_factory=PredictionParams)
    create_profile_model: bool = True

    @classmethod
    def from_phil(cls, extracted: Any) -> "IntegrateParams":
        params = to_dataclass(cls, extracted)
        check_supported(params)
        return params


_UNSUPPORTED = (
    ("integration.mp.method", lambda p: p.integration.mp.method != "multiprocessing", "use multiprocessing"),
    ("integration.background.algorithm", lambda p: p.integration.background.algorithm == "gmodel", "use glm or simple"),
    ("integration.background.glm.model.algorithm",
     lambda p: p.integration.background.glm.model.algorithm.startswith("loglinear"), "use constant3d or constant2d"),
    ("profile.algorithm", lambda p: p.profile.algorithm != "gaussian_rs", "use gaussian_rs"),
    ("profile.gaussian_rs.fitting.fit_method",
     lambda p: p.profile.gaussian_rs.fitting.fit_method != "reciprocal_space", "use reciprocal_space"),
)


def check_supported(params: IntegrateParams) -> None:
    """ParameterError for accepted-but-unimplemented values."""
    for path, bad, hint in _UNSUPPORTED:
        if bad(params):
            value = path.split(".")[-1]
            raise ParameterError(f"{path}: this value is not implemented in braggflow; {hint}")
    b = params.integration.block
    if b.size is not None and b.size <= 0:
        raise ParameterError(f"integration.block.size = {b.size}: must be > 0 (or Auto)")
    n = params.profile.gaussian_rs.parameters
    if n.n_sigma <= 0:
        raise ParameterError(f"profile.gaussian_rs.parameters.n_sigma = {n.n_sigma}: must be > 0")


def resolve_nproc(params: IntegrateParams) -> int:
    nproc = params.integration.mp.nproc
    if nproc is None:
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
    return max(1, int(nproc))


__all__ = ["IntegrateParams", "resolve_nproc", "check_supported"]
