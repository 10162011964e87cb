"""Multi-panel flat detector model (DIALS `detector`), with px <-> mm <-> lab mappings.

Pixel coordinates have (0, 0) at the outer corner of the first pixel, so the centre of
pixel (i, j) is (i + 0.5, j + 0.5); arrays are indexed [slow, fast].
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from braggflow.model._vec import as_vec3, unit

SIMPLE = "SimplePxMmStrategy"
PARALLAX = "ParallaxCorrectedPxMmStrategy"


@dataclass(frozen=True, eq=False)
class Panel:
    """One flat detector panel; axes are unit lab vectors, origin in mm (pixel (0,0) corner)."""

    fast_axis: np.ndarray
    slow_axis: np.ndarray
    origin: np.ndarray
    pixel_size: tuple[float, float]  # (fast, slow) mm
    image_size: tuple[int, int]  # (n_fast, n_slow)
    trusted_range: tuple[float, float] = (0.0, 1.0e6)
    name: str = "Panel"
    type: str = "SENSOR_PAD"
    thickness: float = 0.0  # mm
    material: str = ""
    mu: float = 0.0  # linear attenuation coefficient, 1/mm
    gain: float = 1.0
    pedestal: float = 0.0
    identifier: str = ""
    raw_image_offset: tuple[int, int] = (0, 0)
    mask: tuple[tuple[int, int, int, int], ...] = ()  # untrusted rectangles x0,y0,x1,y1 (half-open)
    px_mm_strategy: str = SIMPLE

    def __post_init__(self) -> None:
        object.__setattr__(self, "fast_axis", unit(as_vec3(self.fast_axis)))
        object.__setattr__(self, "slow_axis", unit(as_vec3(self.slow_axis)))
        object.__setattr__(self, "origin", as_vec3(self.origin))
        object.__setattr__(self, "pixel_size", (float(self.pixel_size[0]), float(self.pixel_size[1])))
        object.__setattr__(self, "image_size", (int(self.image_size[0]), int(self.image_size[1])))
        object.__setattr__(self, "trusted_range", (float(self.trusted_range[0]), float(self.trusted_range[1])))
        object.__setattr__(self, "mask", tuple(tuple(int(v) for v in r) for r in self.mask))

    # --- frame -------------------------------------------------------------------------
    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.fast_axis, self.slow_axis)

    @property
    def d_matrix(self) -> np.ndarray:
        """d = [f | s | o] as columns: lab = d @ (X, Y, 1)."""
        return np.column_stack([self.fast_axis, self.slow_axis, self.origin])

    @property
    def D_matrix(self) -> np.ndarray:
        return np.linalg.inv(self.d_matrix)

    @property
    def image_shape(self) -> tuple[int, int]:
        """numpy shape of the panel's data array: (n_slow, n_fast)."""
        return (self.image_size[1], self.image_size[0])

    @property
    def distance(self) -> float:
        """Perpendicular distance from the sample to the panel plane (mm)."""
        return float(abs(np.dot(self.normal, self.origin)))

    def replace(self, **changes: object) -> "Panel":
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    # --- lab <-> mm --------------------------------------------------------------------
    def get_lab_coord(self, xy_mm: np.ndarray) -> np.ndarray:
        """Lab position(s) (mm) of panel mm coordinates; xy_mm (..., 2)."""
        xy = np.asarray(xy_mm, dtype=np.float64)
        return self.origin + xy[..., :1] * self.fast_axis + xy[..., 1:2] * self.slow_axis

    def get_ray_intersection(self, s1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Intersect rays s1 (n, 3) with the panel plane.

        Returns (xy_mm (n, 2), hits (n,) bool): hits is False if the ray points away from the
        plane or lands outside the panel.
        """
        s1 = np.atleast_2d(np.asarray(s1, dtype=np.float64))
        v = s1 @ self.D_matrix.T
        with np.errstate(divide="ignore", invalid="ignore"):
            xy = v[:, :2] / v[:, 2:3]
        size_mm = np.array(self.image_size, dtype=np.float64) * np.array(self.pixel_size)
        hits = (v[:, 2] > 0) & np.all((xy >= 0) & (xy <= size_mm), axis=1)
        return xy, hits

    # --- px <-> mm -----------------------------------------------------------------------
    def _parallax_offset(self, xy_mm: np.ndarray) -> np.ndarray:
        """Parallax shift o(t) * (u.f, u.s) in mm for points at xy_mm (..., 2)."""
        if self.px_mm_strategy != PARALLAX or self.mu <= 0 or self.thickness <= 0:
            return np.zeros_like(xy_mm)
        u = unit(self.get_lab_coord(xy_mm))
        n = self.normal if np.dot(self.normal, self.origin) > 0 else -self.normal
        cos_t = np.abs(u @ n)
        t0, mu = self.thickness, self.mu
        depth = 1.0 / mu - (t0 / cos_t + 1.0 / mu) * np.exp(-mu * t0 / cos_t)
        return depth[..., None] * np.stack([u @ self.fast_axis, u @ self.slow_axis], axis=-1)

    def pixel_to_millimeter(self, xy_px: np.ndarray) -> np.ndarray:
        """Pixel (..., 2) -> mm on the panel surface, parallax-corrected when configured."""
        xy = np.asarray(xy_px, dtype=np.float64) * np.array(self.pixel_size)
        return xy - self._parallax_offset(xy)

    def millimeter_to_pixel(self, xy_mm: np.ndarray) -> np.ndarray:
        """mm (..., 2) -> pixel, inverse of pixel_to_millimeter (parallax evaluated at xy_mm)."""
        xy = np.asarray(xy_mm, dtype=np.float64)
        return (xy + self._parallax_offset(xy)) / np.array(self.pixel_size)

    # --- resolution ----------------------------------------------------------------------
    def pixel_lab_centres(self) -> np.ndarray:
        """Lab coordinates (n_slow, n_fast, 3) of every pixel centre (no parallax)."""
        nf, ns = self.image_size
        x = (np.arange(nf) + 0.5) * self.pixel_size[0]
        y = (np.arange(ns) + 0.5) * self.pixel_size[1]
        return (
            self.origin[None, None, :]
            + x[None, :, None] * self.fast_axis[None, None, :]
            + y[:, None, None] * self.slow_axis[None, None, :]
        )

    def d_spacing_map(self, s0: np.ndarray) -> np.ndarray:
        """Resolution d (A) at every pixel centre, (n_slow, n_fast); inf at the beam."""
        s0 = as_vec3(s0)
        wavelength = 1.0 / np.linalg.norm(s0)
        s1 = unit(self.pixel_lab_centres()) / wavelength
        q = np.linalg.norm(s1 - s0, axis=-1)
        with np.errstate(divide="ignore"):
            return np.where(q > 0, 1.0 / q, np.inf)

    def beam_centre_mm(self, s0: np.ndarray) -> tuple[float, float] | None:
        """Where the direct beam meets the panel plane (mm), or None if it does not."""
        v = self.D_matrix @ as_vec3(s0)
        if v[2] <= 0:
            return None
        return float(v[0] / v[2]), float(v[1] / v[2])

    def __repr__(self) -> str:
        return (
            f"<Panel {self.name!r} {self.image_size[0]}x{self.image_size[1]} px "
            f"{self.pixel_size[0]:.4g}x{self.pixel_size[1]:.4g} mm distance={self.distance:.2f} mm>"
        )


@dataclass(frozen=True, eq=False)
class Detector:
    """An ordered list of panels (flat hierarchy is written as DIALS's identity root group)."""

    panels: tuple[Panel, ...]
    hierarchy: dict | None = field(default=None)  # raw hierarchy as read, for faithful rewrite

    def __post_init__(self) -> None:
        object.__setattr__(self, "panels", tuple(self.panels))

    def __len__(self) -> int:
        return len(self.panels)

    def __getitem__(self, index: int) -> Panel:
        return self.panels[index]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.panels)

    def replace_panel(self, index: int, panel: Panel) -> "Detector":
        panels = list(self.panels)
        panels[index] = panel
        return Detector(tuple(panels), self.hierarchy)

    def get_ray_intersection(self, s1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First panel hit by each ray: (panel (n,) int, -1 for none; xy_mm (n, 2))."""
        s1 = np.atleast_2d(np.asarray(s1, dtype=np.float64))
        panel = np.full(len(s1), -1, dtype=np.int64)
        xy = np.full((len(s1), 2), np.nan)
        for i, p in enumerate(self.panels):
            pxy, hit = p.get_ray_intersection(s1)
            take = hit & (panel < 0)
            panel[take] = i
            xy[take] = pxy[take]
        return panel, xy

    def is_similar_to(self, other: "Detector", *, tol_mm: float = 1e-3) -> bool:
        if len(self) != len(other):
            return False
        for a, b in zip(self.panels, other.panels):
            if a.image_size != b.image_size or not np.allclose(a.pixel_size, b.pixel_size):
                return False
            for va, vb in ((a.origin, b.origin), (a.fast_axis, b.fast_axis), (a.slow_axis, b.slow_axis)):
                if not np.allclose(va, vb, atol=tol_mm):
                    return False
        return True

    def __repr__(self) -> str:
        return f"<Detector {len(self.panels)} panel(s): {self.panels[0]!r}{' ...' if len(self.panels) > 1 else ''}>"


__all__ = ["Panel", "Detector", "SIMPLE", "PARALLAX"]
