"""Scan model: image range and oscillation (DIALS `scan`).

Image n (1-based) covers the array-index (frame) range z in [n-1, n); with image_range
[i0, i1] and oscillation (phi0, dphi) in degrees, phi(z) = phi0 + (z - (i0 - 1)) * dphi.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class Scan:
    image_range: tuple[int, int]
    oscillation_start_deg: float
    oscillation_width_deg: float
    exposure_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    epochs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    batch_offset: int = 0
    valid_image_ranges: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        i0, i1 = int(self.image_range[0]), int(self.image_range[1])
        object.__setattr__(self, "image_range", (i0, i1))
        n = i1 - i0 + 1
        for name in ("exposure_times", "epochs"):
            arr = np.asarray(getattr(self, name), dtype=np.float64).reshape(-1)
            if arr.size == 0:
                arr = np.zeros(n)
            elif arr.size == 1 and n > 1:
                arr = np.full(n, arr[0])
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "oscillation_start_deg", float(self.oscillation_start_deg))
        object.__setattr__(self, "oscillation_width_deg", float(self.oscillation_width_deg))

    @property
    def num_images(self) -> int:
        return self.image_range[1] - self.image_range[0] + 1

    @property
    def array_range(self) -> tuple[int, int]:
        """Frame (z) range [i0 - 1, i1)."""
        return (self.image_range[0] - 1, self.image_range[1])

    @property
    def is_still(self) -> bool:
        return self.oscillation_width_deg == 0.0

    @property
    def oscillation_range_deg(self) -> tuple[float, float]:
        start = self.oscillation_start_deg
        return (start, start + self.num_images * self.oscillation_width_deg)

    def angle_from_array_index(self, z: float | np.ndarray) -> float | np.ndarray:
        """phi (degrees) at frame coordinate z."""
        return self.oscillation_start_deg + (np.asarray(z) - (self.image_range[0] - 1)) * self.oscillation_width_deg

    def array_index_from_angle(self, phi_deg: float | np.ndarray) -> float | np.ndarray:
        """Frame coordinate z at angle phi (degrees); inverse of angle_from_array_index."""
        return (self.image_range[0] - 1) + (np.asarray(phi_deg) - self.oscillation_start_deg) / self.oscillation_width_deg

    def phi_rad(self, z: float | np.ndarray) -> float | np.ndarray:
        return np.radians(self.angle_from_array_index(z))

    def image_oscillation_deg(self, image: int) -> tuple[float, float]:
        """(start, width) of 1-based image number `image`."""
        return (float(self.angle_from_array_index(image - 1)), self.oscillation_width_deg)

    def is_angle_valid(self, phi_rad: np.ndarray) -> np.ndarray:
        """True where phi (any number of turns) lies inside the scanned range."""
        lo, hi = np.radians(self.oscillation_range_deg)
        if hi < lo:
            lo, hi = hi, lo
        rel = np.mod(np.asarray(phi_rad) - lo, 2 * np.pi)
        return rel < (hi - lo) if (hi - lo) < 2 * np.pi else np.ones(np.shape(phi_rad), dtype=bool)

    def slice(self, first_image: int, last_image: int) -> "Scan":
        """Sub-scan covering images first..last (1-based, inclusive)."""
        if not (self.image_range[0] <= first_image <= last_image <= self.image_range[1]):
            raise ValueError(f"images {first_image}-{last_image} are outside the scan {self.image_range}")
        k0, k1 = first_image - self.image_range[0], last_image - self.image_range[0] + 1
        return dataclasses.replace(
            self,
            image_range=(first_image, last_image),
            oscillation_start_deg=float(self.angle_from_array_index(first_image - 1)),
            exposure_times=self.exposure_times[k0:k1],
            epochs=self.epochs[k0:k1],
        )

    def replace(self, **changes: object) -> "Scan":
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        lo, hi = self.oscillation_range_deg
        return (
            f"<Scan images {self.image_range[0]}-{self.image_range[1]} "
            f"phi {lo:.3f}-{hi:.3f} deg ({self.oscillation_width_deg:.4g} deg/image)>"
        )


__all__ = ["Scan"]
