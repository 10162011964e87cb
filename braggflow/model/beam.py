"""Monochromatic beam model (DIALS `beam`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from braggflow.model._vec import as_vec3, unit


@dataclass(frozen=True, eq=False)
class Beam:
    """The incident beam.

    direction : (3,) unit vector from the sample towards the source (files store this).
    wavelength : Angstrom.
    divergence, sigma_divergence : degrees, as in DIALS files (unused by integration).
    """

    direction: np.ndarray
    wavelength: float
    divergence: float = 0.0
    sigma_divergence: float = 0.0
    polarization_normal: np.ndarray = field(default_factory=lambda: np.array([0.0, 1.0, 0.0]))
    polarization_fraction: float = 0.999
    flux: float = 0.0
    transmission: float = 1.0
    probe: str = "x-ray"
    sample_to_source_distance: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "direction", unit(as_vec3(self.direction)))
        object.__setattr__(self, "polarization_normal", as_vec3(self.polarization_normal))
        object.__setattr__(self, "wavelength", float(self.wavelength))

    @property
    def s0(self) -> np.ndarray:
        """Incident wave vector -direction/wavelength, |s0| = 1/lambda (1/A)."""
        return -self.direction / self.wavelength

    @property
    def unit_s0(self) -> np.ndarray:
        return -self.direction

    @classmethod
    def from_s0(cls, s0: np.ndarray, **kwargs: object) -> "Beam":
        s0 = as_vec3(s0)
        length = float(np.linalg.norm(s0))
        return cls(direction=-s0 / length, wavelength=1.0 / length, **kwargs)  # type: ignore[arg-type]

    def replace(self, **changes: object) -> "Beam":
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def is_similar_to(self, other: "Beam", *, wavelength_tol: float = 1e-6, angle_tol_rad: float = 1e-6) -> bool:
        """True if wavelength and direction agree within tolerances (sweep grouping)."""
        if abs(self.wavelength - other.wavelength) > wavelength_tol * max(1.0, self.wavelength):
            return False
        cos = float(np.clip(np.dot(self.direction, other.direction), -1.0, 1.0))
        return float(np.arccos(cos)) <= angle_tol_rad

    def __repr__(self) -> str:
        d = ", ".join(f"{x:.6g}" for x in self.direction)
        return f"<Beam wavelength={self.wavelength:.6g} A direction=({d})>"


__all__ = ["Beam"]
