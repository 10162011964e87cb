"""Goniometer model: r(phi) = S R(e_d, phi) F A h (DIALS `goniometer`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from braggflow.model._vec import as_mat3, as_vec3, rotation_matrix, unit


@dataclass(frozen=True, eq=False)
class Goniometer:
    """Single-axis view of a goniometer.

    rotation_axis : (3,) datum axis e_d (in the frame before the setting rotation).
    fixed_rotation F, setting_rotation S : (3, 3).
    axes/angles/names/scan_axis : the multi-axis description when the file had one
      (angles in degrees, as stored); F and S are then derived from it.
    """

    rotation_axis: np.ndarray = field(default_factory=lambda: np.array([1.0, 0.0, 0.0]))
    fixed_rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    setting_rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    axes: tuple[tuple[float, float, float], ...] = ()
    angles: tuple[float, ...] = ()
    names: tuple[str, ...] = ()
    scan_axis: int = 0
    setting_rotation_at_scan_points: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "rotation_axis", unit(as_vec3(self.rotation_axis)))
        object.__setattr__(self, "fixed_rotation", as_mat3(self.fixed_rotation))
        object.__setattr__(self, "setting_rotation", as_mat3(self.setting_rotation))

    @classmethod
    def from_axes(
        cls, axes: list[tuple[float, float, float]], angles_deg: list[float], names: list[str], scan_axis: int
    ) -> "Goniometer":
        """Reduce a multi-axis stack (axes listed innermost first, as DIALS) to (F, e_d, S)."""
        rots = [rotation_matrix(as_vec3(a), np.radians(ang)) for a, ang in zip(axes, angles_deg)]
        fixed = np.eye(3)
        for r in rots[:scan_axis]:
            fixed = r @ fixed
        setting = np.eye(3)
        for r in rots[scan_axis + 1 :]:
            setting = r @ setting
        return cls(
            rotation_axis=as_vec3(axes[scan_axis]),
            fixed_rotation=fixed,
            setting_rotation=setting,
            axes=tuple(tuple(float(v) for v in a) for a in axes),  # type: ignore[misc]
            angles=tuple(float(a) for a in angles_deg),
            names=tuple(names),
            scan_axis=int(scan_axis),
        )

    @property
    def is_multi_axis(self) -> bool:
        return len(self.axes) > 0

    @property
    def lab_rotation_axis(self) -> np.ndarray:
        """The scan axis in the lab frame, e = S e_d."""
        return self.setting_rotation @ self.rotation_axis

    def rotation(self, phi_rad: float | np.ndarray) -> np.ndarray:
        """The full goniostat operator S R(e_d, phi) F; (3,3) or (n,3,3)."""
        r = rotation_matrix(self.rotation_axis, phi_rad)
        return self.setting_rotation @ r @ self.fixed_rotation

    def replace(self, **changes: object) -> "Goniometer":
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def is_similar_to(self, other: "Goniometer", *, tol: float = 1e-6) -> bool:
        return (
            np.allclose(self.rotation_axis, other.rotation_axis, atol=tol)
            and np.allclose(self.fixed_rotation, other.fixed_rotation, atol=tol)
            and np.allclose(self.setting_rotation, other.setting_rotation, atol=tol)
        )

    def __repr__(self) -> str:
        e = ", ".join(f"{x:.4g}" for x in self.lab_rotation_axis)
        return f"<Goniometer axis=({e}){' multi-axis' if self.is_multi_axis else ''}>"


__all__ = ["Goniometer"]
