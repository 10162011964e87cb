"""Frozen parameters of the simulator (PHIL scope `simulation`, braggflow/params/simulate.phil).

Field names are the PHIL names. Every field here has a concrete value: a preset
(`presets.py`) supplies all of them, and the PHIL values a user sets (everything left at
`None` in the master means "from the preset") are applied on top with `with_overrides`.
Angles are degrees here, as in PHIL; the physics converts them to radians.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import gemmi

from braggflow.errors import ParameterError

__all__ = [
    "BeamParams",
    "DetectorParams",
    "ScanParams",
    "CrystalParams",
    "IntensityParams",
    "BackgroundParams",
    "NoiseParams",
    "SimulationParams",
    "with_overrides",
    "flat_paths",
    "validate",
]


@dataclass(frozen=True, kw_only=True)
class BeamParams:
    wavelength: float = 0.97625  # Angstrom
    divergence_sigma_deg: float = 0.02  # sigma of the diffracted-beam direction spread (sigma_b)
    polarization_fraction: float = 0.999
    flux: float = 0.0  # written to the header only


@dataclass(frozen=True, kw_only=True)
class DetectorParams:
    name: str = "PILATUS 6M"
    image_size: tuple[int, int] = (2463, 2527)  # (n_fast, n_slow)
    pixel_size_mm: tuple[float, float] = (0.172, 0.172)
    distance_mm: float = 264.84
    beam_centre_px: tuple[float, float] = (1231.5, 1263.5)  # where the direct beam hits (fast, slow)
    thickness_mm: float = 0.32
    material: Literal["Si", "CdTe"] = "Si"
    mu_per_mm: float | None = None  # None: from the material and wavelength
    parallax: bool = True
    count_cutoff: int = 1048500  # trusted maximum (header Count_cutoff)
    saturation: int = 1048575  # value written for pixels above the counter's range
    gain: float = 1.0  # ADU per photon
    module_gaps: bool = True  # Pilatus-style gaps (pixels = -1, masked in truth.expt)
    module_size: tuple[int, int] = (487, 195)
    module_gap: tuple[int, int] = (7, 17)
    dead_pixel_fraction: float = 2e-5  # random dead pixels (= -2)
    point_spread_px: float = 0.5  # Gaussian sigma of the detector point spread
    header_convention: str = "PILATUS_1.2"


@dataclass(frozen=True, kw_only=True)
class ScanParams:
    num_images: int = 100
    first_image: int = 1
    start_deg: float = 0.0
    width_deg: float = 0.15
    exposure_s: float = 0.08
    rotation_axis: tuple[float, float, float] = (1.0, 0.0, 0.0)


@dataclass(frozen=True, kw_only=True)
class CrystalParams:
    unit_cell: tuple[float, float, float, float, float, float] = (57.8, 57.8, 150.0, 90.0, 90.0, 90.0)
    space_group: str = "P 41 21 2"
    orientation_deg: tuple[float, float, float] = (10.0, 20.0, 30.0)  # U = Rz(c) Ry(b) Rx(a)
    mosaicity_sigma_deg: float = 0.04  # rocking-curve sigma (sigma_m without divergence)


@dataclass(frozen=True, kw_only=True)
class IntensityParams:
    source: Literal["wilson", "model"] = "wilson"
    model: str | None = None  # PDB/mmCIF path when source=model
    mean: float = 500.0  # <I> at d = infinity (Wilson); scales model intensities likewise
    b_factor: float = 20.0  # Wilson B (A^2)
    d_min: float | None = None  # None: detector corner resolution
    seed: int = 1
    anomalous: bool = False
    anomalous_fraction: float = 0.05  # rms relative difference I(+) vs I(-)
    scale: float = 1.0  # counts per unit of I x L x P (exposure x flux)
    min_zeta: float = 0.02  # |zeta| below this: not simulated (rocking width unbounded)


@dataclass(frozen=True, kw_only=True)
class BackgroundParams:
    flat: float = 1.0  # counts / pixel / image
    solvent_ring: float = 2.0  # peak counts / pixel / image of the water ring
    solvent_d: float = 3.5  # A, ring centre
    solvent_width: float = 0.012  # sigma in 1/d^2 (A^-2)
    ice_rings: bool = False
    ice_ring_counts: float = 20.0
    ice_ring_width: float = 0.0006  # sigma in 1/d^2


@dataclass(frozen=True, kw_only=True)
class NoiseParams:
    poisson: bool = True
    seed: int = 42


@dataclass(frozen=True, kw_only=True)
class SimulationParams:
    beam: BeamParams = field(default_factory=BeamParams)
    detector: DetectorParams = field(default_factory=DetectorParams)
    scan: ScanParams = field(default_factory=ScanParams)
    crystal: CrystalParams = field(default_factory=CrystalParams)
    intensities: IntensityParams = field(default_factory=IntensityParams)
    background: BackgroundParams = field(default_factory=BackgroundParams)
    noise: NoiseParams = field(default_factory=NoiseParams)
    n_sigma: float = 4.0  # spot box half-width in sigmas (spatial); rocking curve uses 6


def flat_paths(obj: Any, prefix: str = "") -> dict[str, Any]:
    """{'detector.distance_mm': 264.84, ...}: every leaf of a params dataclass tree."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        path = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            out.update(flat_paths(value, path + "."))
        else:
            out[path] = value
    return out


def _coerce(path: str, old: Any, new: Any) -> Any:
    if isinstance(old, tuple) or (old is None and isinstance(new, (list, tuple))):
        new = tuple(new)
        if isinstance(old, tuple) and len(new) != len(old):
            raise ParameterError(f"simulation.{path}: needs {len(old)} numbers, got {len(new)}")
        if isinstance(old, tuple) and old and isinstance(old[0], int) and not isinstance(old[0], bool):
            new = tuple(int(v) for v in new)
        elif isinstance(old, tuple):
            new = tuple(float(v) for v in new)
    elif isinstance(old, bool):
        new = bool(new)
    elif isinstance(old, int):
        new = int(new)
    elif isinstance(old, float):
        new = float(new)
    return new


def with_overrides(params: SimulationParams, overrides: Mapping[str, Any]) -> SimulationParams:
    """A copy with dotted-path values replaced, e.g. {'detector.distance_mm': 200.0}."""
    known = flat_paths(params)
    groups: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    for path, value in overrides.items():
        if path not in known:
            raise ParameterError(f"simulation.{path}: unknown simulator parameter")
        value = _coerce(path, known[path], value)
        head, _, tail = path.partition(".")
        if tail:
            groups.setdefault(head, {})[tail] = value
        else:
            top[head] = value
    for head, changes in groups.items():
        top[head] = dataclasses.replace(getattr(params, head), **changes)
    return dataclasses.replace(params, **top)


def _positive(path: str, value: float, *, allow_zero: bool = False) -> None:
    bad = value < 0 if allow_zero else value <= 0
    if bad or not math.isfinite(value):
        need = ">= 0" if allow_zero else "> 0"
        raise ParameterError(f"simulation.{path} = {value}: must be {need}; give a {'non-negative' if allow_zero else 'positive'} value")


def validate(p: SimulationParams) -> None:
    """Raise ParameterError (one line: path, problem, fix) for impossible parameters."""
    _positive("beam.wavelength", p.beam.wavelength)
    _positive("beam.divergence_sigma_deg", p.beam.divergence_sigma_deg, allow_zero=True)
    if not 0.0 <= p.beam.polarization_fraction <= 1.0:
        raise ParameterError(f"simulation.beam.polarization_fraction = {p.beam.polarization_fraction}: must be in [0, 1]")
    d = p.detector
    if min(d.image_size) < 8:
        raise ParameterError(f"simulation.detector.image_size = {d.image_size}: needs at least 8 x 8 pixels")
    for i in range(2):
        _positive("detector.pixel_size_mm", d.pixel_size_mm[i])
    _positive("detector.distance_mm", d.distance_mm)
    _positive("detector.thickness_mm", d.thickness_mm, allow_zero=True)
    if d.material not in ("Si", "CdTe"):
        raise ParameterError(f"simulation.detector.material = '{d.material}': use Si or CdTe")
    _positive("detector.point_spread_px", d.point_spread_px, allow_zero=True)
    _positive("detector.gain", d.gain)
    _positive("detector.count_cutoff", d.count_cutoff)
    if not 0.0 <= d.dead_pixel_fraction < 0.5:
        raise ParameterError(f"simulation.detector.dead_pixel_fraction = {d.dead_pixel_fraction}: must be in [0, 0.5)")
    if p.scan.num_images < 1:
        raise ParameterError(f"simulation.scan.num_images = {p.scan.num_images}: must be >= 1")
    if p.scan.width_deg <= 0 or p.scan.width_deg * p.scan.num_images > 3600:
        raise ParameterError(f"simulation.scan.width_deg = {p.scan.width_deg}: must be > 0 (at most 10 turns in all)")
    _positive("crystal.mosaicity_sigma_deg", p.crystal.mosaicity_sigma_deg, allow_zero=True)
    if p.crystal.mosaicity_sigma_deg == 0 and p.beam.divergence_sigma_deg == 0:
        raise ParameterError("simulation.crystal.mosaicity_sigma_deg: mosaicity and divergence are both 0; give one a positive width")
    check_crystal(p.crystal)
    i = p.intensities
    _positive("intensities.mean", i.mean)
    _positive("intensities.scale", i.scale)
    _positive("intensities.anomalous_fraction", i.anomalous_fraction, allow_zero=True)
    if i.d_min is not None:
        _positive("intensities.d_min", i.d_min)
    if not 0.0 <= i.min_zeta < 1.0:
        raise ParameterError(f"simulation.intensities.min_zeta = {i.min_zeta}: must be in [0, 1)")
    if i.source not in ("wilson", "model"):
        raise ParameterError(f"simulation.intensities.source = '{i.source}': use wilson or model")
    if i.source == "model" and not i.model:
        raise ParameterError("simulation.intensities.model: source=model needs a PDB or mmCIF file; set intensities.model=FILE")
    b = p.background
    for name in ("flat", "solvent_ring", "ice_ring_counts"):
        _positive(f"background.{name}", getattr(b, name), allow_zero=True)
    for name in ("solvent_d", "solvent_width", "ice_ring_width"):
        _positive(f"background.{name}", getattr(b, name))
    _positive("n_sigma", p.n_sigma)


def check_crystal(c: CrystalParams) -> tuple[gemmi.UnitCell, gemmi.SpaceGroup]:
    """Cell and space group from the parameters, or a ParameterError saying what is wrong."""
    try:
        sg = gemmi.SpaceGroup(c.space_group)
    except (ValueError, RuntimeError):
        raise ParameterError(
            f"simulation.crystal.space_group = '{c.space_group}': not a space group; use a name like 'P 41 21 2' or a number"
        ) from None
    a, b, cc, al, be, ga = c.unit_cell
    if min(a, b, cc) <= 0 or min(al, be, ga) <= 0 or max(al, be, ga) >= 180:
        raise ParameterError(f"simulation.crystal.unit_cell = {c.unit_cell}: lengths must be > 0 and angles in (0, 180)")
    ca, cb, cg = (math.cos(math.radians(x)) for x in (al, be, ga))
    if 1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg <= 1e-9:
        raise ParameterError(f"simulation.crystal.unit_cell = {c.unit_cell}: the angles do not make a cell (zero volume)")
    cell = gemmi.UnitCell(a, b, cc, al, be, ga)
    if not cell.is_compatible_with_spacegroup(sg, 1e-3):
        raise ParameterError(
            f"simulation.crystal.unit_cell = {c.unit_cell}: incompatible with space group {sg.hm}; "
            "give a cell with that lattice's constraints"
        )
    return cell, sg
