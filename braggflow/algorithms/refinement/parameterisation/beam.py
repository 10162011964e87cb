"""Beam parameterisation: s0 = nu * M2(mu2) M1(mu1) unit(s0_initial) (algorithms.md 5.3).

u2 = unit(s0 x e) is normal to the spindle-beam plane and u1 = unit(u2 x s0) lies in it;
Mu1 rotates about u1 (moves the beam out of the spindle-beam plane, fixed by
`in_spindle_plane`), Mu2 about u2 (moves it within the plane). nu = |s0| = 1/wavelength.
"""

from __future__ import annotations

import numpy as np

from braggflow.algorithms.refinement.parameterisation._rotation import composed_rotation
from braggflow.model import Beam, Goniometer


def _perpendicular(v: np.ndarray) -> np.ndarray:
    trial = np.array([1.0, 0.0, 0.0]) if abs(v[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    w = np.cross(v, trial)
    return w / np.linalg.norm(w)


class BeamParameterisation:
    """Parameters (Mu1 mrad, Mu2 mrad, nu 1/A) of one beam model."""

    names = ("Mu1", "Mu2", "nu")

    def __init__(self, beam: Beam, goniometer: Goniometer | None = None) -> None:
        self.beam = beam
        s0 = beam.s0
        self.unit_s0 = s0 / np.linalg.norm(s0)
        if goniometer is not None:
            e = goniometer.lab_rotation_axis
            u2 = np.cross(s0, e)
            u2 = u2 / np.linalg.norm(u2) if np.linalg.norm(u2) > 1e-9 else _perpendicular(self.unit_s0)
        else:
            u2 = _perpendicular(self.unit_s0)
        u1 = np.cross(u2, self.unit_s0)
        self.axes = np.array([u2, u1 / np.linalg.norm(u1)])  # applied as M2 M1
        self.initial = np.array([0.0, 0.0, float(np.linalg.norm(s0))])

    def _rot(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # composed_rotation multiplies left to right: R = M2(mu2) M1(mu1)
        rot, drot = composed_rotation(self.axes, [values[1], values[0]])
        return rot, drot[::-1]  # derivative order (mu1, mu2)

    def s0(self, values: np.ndarray) -> np.ndarray:
        rot, _ = self._rot(values)
        return values[2] * (rot @ self.unit_s0)

    def ds0_dp(self, values: np.ndarray) -> np.ndarray:
        """(3 params, 3): d s0 / d (Mu1, Mu2, nu)."""
        rot, drot = self._rot(values)
        return np.array([values[2] * (drot[0] @ self.unit_s0), values[2] * (drot[1] @ self.unit_s0), rot @ self.unit_s0])

    def compose(self, values: np.ndarray) -> Beam:
        rot, _ = self._rot(values)
        s0 = values[2] * (rot @ self.unit_s0)
        length = float(np.linalg.norm(s0))
        return self.beam.replace(
            direction=-s0 / length,
            wavelength=1.0 / length,
            polarization_normal=rot @ self.beam.polarization_normal,
        )


__all__ = ["BeamParameterisation"]
