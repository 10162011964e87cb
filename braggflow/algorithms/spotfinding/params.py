"""Frozen parameter dataclasses of the `spotfinder` PHIL scope (braggflow/params/spotfinder.phil).

Field names are the PHIL names. `None` in a field documented as "Auto" means the PHIL value
`Auto`; `resolve_auto` replaces those with concrete values before `find_spots` is called.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from braggflow.errors import ParameterError

HEX_ICE_CELL = (4.498, 4.498, 7.338, 90.0, 90.0, 120.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class LookupParams:
    mask: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DispersionParams:
    gain: float | None = None
    kernel_size: tuple[int, int] = (3, 3)
    sigma_background: float = 6.0
    sigma_strong: float = 3.0
    min_local: int = 2
    global_threshold: float = 0.0
    erode_from_mask: bool = True  # braggflow addition; True = DIALS 3.12 (before PR #2790)


@dataclass(frozen=True, slots=True, kw_only=True)
class ThresholdParams:
    algorithm: Literal["dispersion", "dispersion_extended", "radial_profile"] = (
        "dispersion_extended"
    )
    dispersion: DispersionParams = field(default_factory=DispersionParams)


@dataclass(frozen=True, slots=True, kw_only=True)
class UntrustedParams:
    panel: int | None = None
    circle: tuple[int, int, int] | None = None
    rectangle: tuple[int, int, int, int] | None = None
    polygon: tuple[int, ...] | None = None
    pixel: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IceRingsParams:
    filter: bool = False
    unit_cell: tuple[float, float, float, float, float, float] = HEX_ICE_CELL
    space_group: str = "P 63/m m c"
    width: float = 0.002
    d_min: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BackgroundGradientParams:
    filter: bool = False
    background_size: int = 2
    gradient_cutoff: float = 4.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SpotDensityParams:
    filter: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class FilterParams:
    min_spot_size: int | None = None  # Auto
    max_spot_size: int = 1000
    max_separation: float = 2.0
    max_strong_pixel_fraction: float = 0.25
    background_gradient: BackgroundGradientParams = field(
        default_factory=BackgroundGradientParams
    )
    spot_density: SpotDensityParams = field(default_factory=SpotDensityParams)
    border: int = 0
    d_min: float | None = None
    d_max: float | None = None
    disable_parallax_correction: bool = False
    resolution_range: tuple[tuple[float, float], ...] = ()
    untrusted: tuple[UntrustedParams, ...] = ()
    ice_rings: IceRingsParams = field(default_factory=IceRingsParams)


@dataclass(frozen=True, slots=True, kw_only=True)
class MpParams:
    method: Literal["none", "drmaa", "sge", "lsf", "pbs"] = "none"
    njobs: int = 1
    nproc: int | None = 1  # the find_spots program default is Auto (None): all cores
    chunksize: int | None = None  # auto
    min_chunksize: int = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class SpotFinderParams:
    PHIL_PATH: ClassVar[str] = "spotfinder"
    lookup: LookupParams = field(default_factory=LookupParams)
    write_hot_mask: bool = False
    hot_mask_prefix: str = "hot_mask"
    force_2d: bool = False
    scan_range: tuple[tuple[int, int], ...] = ()
    exclude_images: tuple[tuple[str, ...], ...] = ()
    region_of_interest: tuple[int, int, int, int] | None = None
    compute_mean_background: bool = False
    filter: FilterParams = field(default_factory=FilterParams)
    mp: MpParams = field(default_factory=MpParams)
    threshold: ThresholdParams = field(default_factory=ThresholdParams)


def resolve_auto(
    params: SpotFinderParams, *, photon_counting: bool, cpu_count: int
) -> SpotFinderParams:
    """Return a copy with every Auto replaced: min_spot_size (3 for PADs, else 6), mp.nproc."""
    filt, mp = params.filter, params.mp
    if not isinstance(filt.min_spot_size, int):
        filt = dataclasses.replace(filt, min_spot_size=3 if photon_counting else 6)
    if not isinstance(mp.nproc, int):
        mp = dataclasses.replace(mp, nproc=max(1, int(cpu_count)))
    return dataclasses.replace(params, filter=filt, mp=mp)


def check_threshold_params(params: ThresholdParams) -> int:
    """Validate the threshold parameters; return the effective min_count of the window."""
    disp = params.dispersion
    path = "spotfinder.threshold"
    if params.algorithm not in ("dispersion", "dispersion_extended"):
        raise ParameterError(
            f"{path}.algorithm = {params.algorithm}: not implemented in braggflow;"
            " use dispersion or dispersion_extended"
        )
    ky, kx = disp.kernel_size
    if ky < 1 or kx < 1:
        raise ParameterError(f"{path}.dispersion.kernel_size = {ky},{kx}: both must be >= 1")
    if disp.sigma_background < 0 or disp.sigma_strong < 0:
        raise ParameterError(f"{path}.dispersion.sigma_background/sigma_strong must be >= 0")
    if disp.global_threshold < 0:
        raise ParameterError(f"{path}.dispersion.global_threshold must be >= 0")
    if disp.gain is not None and not (disp.gain > 0 and math.isfinite(disp.gain)):
        raise ParameterError(f"{path}.dispersion.gain = {disp.gain}: must be > 0 (or None)")
    n_kernel = (2 * ky + 1) * (2 * kx + 1)
    if disp.min_local <= 0:
        return n_kernel
    if not 1 < disp.min_local <= n_kernel:
        raise ParameterError(
            f"{path}.dispersion.min_local = {disp.min_local}: must be between 2 and the"
            f" {n_kernel} pixels of the window (or <= 0 for the whole window)"
        )
    return disp.min_local


__all__ = [
    "LookupParams",
    "DispersionParams",
    "ThresholdParams",
    "UntrustedParams",
    "IceRingsParams",
    "BackgroundGradientParams",
    "SpotDensityParams",
    "FilterParams",
    "MpParams",
    "SpotFinderParams",
    "resolve_auto",
    "check_threshold_params",
]
