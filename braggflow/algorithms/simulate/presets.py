"""Named starting points for a simulation; any field can then be overridden through PHIL.

- ``demo``: lysozyme-like P 43 21 2 crystal on a Pilatus 300K-sized detector (487 x 619),
  25 images of 1 deg; a few seconds; strong enough for indexing (the README's first command).
- ``pilatus6m_thaumatin``: the thaumatin tutorial geometry (P 41 21 2, 57.8 57.8 150.0,
  0.97625 A, Pilatus 6M with module gaps, 0.15 deg images, 540 images).
- ``small_256`` / ``small_512``: 256 x 256 / 512 x 512 pixel detectors for fast tests
  (P 21 21 21, 10 images of 0.5 deg; header convention GENERIC_MINI because DIALS asserts
  Pilatus module geometry on PILATUS_1.2 files of other sizes).
- ``eiger_nexus``: an Eiger2 X 4M-like detector (2068 x 2162, 75 um, module gaps), 0.1 deg
  images (written as mini-CBF with an EIGER detector line; NeXus output is not implemented).
"""

from __future__ import annotations

from braggflow.algorithms.simulate.params import (
    BackgroundParams,
    BeamParams,
    CrystalParams,
    DetectorParams,
    IntensityParams,
    NoiseParams,
    ScanParams,
    SimulationParams,
)
from braggflow.errors import ParameterError

__all__ = ["PRESETS", "preset"]


def _thaumatin() -> SimulationParams:
    return SimulationParams(
        beam=BeamParams(wavelength=0.97625, divergence_sigma_deg=0.02),
        detector=DetectorParams(),
        scan=ScanParams(num_images=540, width_deg=0.15, exposure_s=0.08),
        crystal=CrystalParams(mosaicity_sigma_deg=0.04),
        intensities=IntensityParams(mean=1000.0, b_factor=15.0),
        background=BackgroundParams(flat=0.5, solvent_ring=2.0),
    )


def _demo() -> SimulationParams:
    return SimulationParams(
        beam=BeamParams(wavelength=1.0, divergence_sigma_deg=0.03),
        detector=DetectorParams(
            name="PILATUS 300K", image_size=(487, 619), distance_mm=120.0, beam_centre_px=(243.5, 309.5),
            dead_pixel_fraction=1e-4, point_spread_px=0.6,
        ),
        scan=ScanParams(num_images=25, width_deg=1.0, exposure_s=0.2),
        crystal=CrystalParams(
            unit_cell=(79.1, 79.1, 38.0, 90.0, 90.0, 90.0), space_group="P 43 21 2",
            orientation_deg=(17.0, 31.0, 47.0), mosaicity_sigma_deg=0.08,
        ),
        intensities=IntensityParams(mean=3000.0, b_factor=12.0, seed=7),
        background=BackgroundParams(flat=1.0, solvent_ring=3.0),
        noise=NoiseParams(seed=11),
    )


def _small(n: int, distance: float) -> SimulationParams:
    return SimulationParams(
        beam=BeamParams(wavelength=1.0, divergence_sigma_deg=0.03),
        detector=DetectorParams(
            name="braggflow simulated PAD", image_size=(n, n), distance_mm=distance,
            beam_centre_px=(n / 2 + 0.3, n / 2 - 0.2), module_gaps=False, dead_pixel_fraction=0.0,
            point_spread_px=0.6, header_convention="GENERIC_MINI",
        ),
        scan=ScanParams(num_images=10, width_deg=0.5, exposure_s=0.1),
        crystal=CrystalParams(
            unit_cell=(40.0, 50.0, 60.0, 90.0, 90.0, 90.0), space_group="P 21 21 21",
            orientation_deg=(12.0, 24.0, 36.0), mosaicity_sigma_deg=0.08,
        ),
        intensities=IntensityParams(mean=3000.0, b_factor=12.0, seed=3),
        background=BackgroundParams(flat=1.0, solvent_ring=2.0),
        noise=NoiseParams(seed=5),
    )


def _eiger() -> SimulationParams:
    return SimulationParams(
        beam=BeamParams(wavelength=0.97625, divergence_sigma_deg=0.02),
        detector=DetectorParams(
            name="Dectris EIGER2 X 4M, S/N E-00-0000 braggflow simulated", image_size=(2068, 2162),
            pixel_size_mm=(0.075, 0.075), distance_mm=150.0, beam_centre_px=(1034.2, 1081.3),
            thickness_mm=0.45, module_size=(1028, 512), module_gap=(12, 38), count_cutoff=2**31 - 2,
            saturation=2**31 - 2, header_convention="PILATUS_1.2",
        ),
        scan=ScanParams(num_images=100, width_deg=0.1, exposure_s=0.01),
        crystal=CrystalParams(mosaicity_sigma_deg=0.04),
        intensities=IntensityParams(mean=1000.0, b_factor=15.0),
        background=BackgroundParams(flat=0.3, solvent_ring=1.5),
    )


PRESETS = {
    "demo": _demo,
    "pilatus6m_thaumatin": _thaumatin,
    "small_256": lambda: _small(256, 60.0),
    "small_512": lambda: _small(512, 100.0),
    "eiger_nexus": _eiger,
}


def preset(name: str) -> SimulationParams:
    """The named preset's parameters."""
    try:
        return PRESETS[name]()
    except KeyError:
        raise ParameterError(f"simulation.preset = '{name}': unknown; choose one of {', '.join(PRESETS)}") from None
