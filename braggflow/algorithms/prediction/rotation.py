"""Where and when each reciprocal-lattice point crosses the Ewald sphere.

Static model: r(phi) = S R(e_d, phi) F A h; the diffracting condition |s0 + r| = 1/lambda is
solved analytically for phi in the frame of the datum axis (algorithms.md 1.7).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from braggflow.model import Experiment
from braggflow.model._vec import rotation_matrix, unit


def generate_indices(A: np.ndarray, d_min: float) -> np.ndarray:
    """All Miller indices h != 0 with |A h| <= 1/d_min; (n, 3) int32."""
    real = np.linalg.inv(A)  # rows a, b, c
    limits = np.floor(np.linalg.norm(real, axis=1) / d_min).astype(int) + 1
    grids = np.meshgrid(*(np.arange(-m, m + 1) for m in limits), indexing="ij")
    hkl = np.stack([g.ravel() for g in grids], axis=1)
    q = hkl @ A.T
    keep = np.einsum("ij,ij->i", q, q) <= 1.0 / d_min**2
    keep &= np.any(hkl != 0, axis=1)
    return hkl[keep].astype(np.int32)


def rotation_angles(
    p0: np.ndarray, s0: np.ndarray, axis: np.ndarray, setting: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both angles at which p0 (n, 3) = F A h diffracts about the datum axis.

    Returns (phi_a, phi_b, ok): radians in (-pi, pi]; ok False in the blind region or beyond 2/lambda.
    """
    p0 = np.atleast_2d(np.asarray(p0, dtype=np.float64))
    s0p = np.asarray(s0, dtype=np.float64) if setting is None else np.linalg.solve(setting, s0)
    e = unit(axis)
    m1 = unit(np.cross(e, s0p))
    m3 = unit(np.cross(m1, e))
    p_e = p0 @ e
    p_sq = np.einsum("ij,ij->i", p0, p0)
    pm3 = (-0.5 * p_sq - p_e * float(s0p @ e)) / float(s0p @ m3)
    rho_sq = p_sq - p_e**2
    disc = rho_sq - pm3**2
    ok = (disc >= 0) & (p_sq <= 4.0 * float(s0p @ s0p))
    pm1 = np.sqrt(np.where(ok, disc, 0.0))
    p0m1, p0m3 = p0 @ m1, p0 @ m3
    phis = []
    for sign in (1.0, -1.0):
        cos_phi = sign * pm1 * p0m1 + pm3 * p0m3
        sin_phi = sign * pm1 * p0m3 - pm3 * p0m1
        phis.append(np.arctan2(sin_phi, cos_phi))
    return phis[0], phis[1], ok


@dataclass(frozen=True)
class Predictions:
    """Predicted reflections; arrays have one row per prediction.

    xyzcal_mm : (n, 3) X, Y (mm) and phi (rad); xyzcal_px : (n, 3) x, y (px) and frame z.
    """

    miller_index: np.ndarray
    s1: np.ndarray
    xyzcal_mm: np.ndarray
    xyzcal_px: np.ndarray
    panel: np.ndarray
    entering: np.ndarray
    d: np.ndarray

    def __len__(self) -> int:
        return len(self.miller_index)

    def as_columns(self, experiment_id: int = 0) -> dict[str, np.ndarray]:
        """DIALS column names and dtypes."""
        return {
            "miller_index": self.miller_index.astype(np.int32),
            "s1": self.s1,
            "xyzcal.mm": self.xyzcal_mm,
            "xyzcal.px": self.xyzcal_px,
            "panel": self.panel.astype(np.uint64),
            "entering": self.entering.astype(bool),
            "d": self.d,
            "id": np.full(len(self), experiment_id, dtype=np.int32),
        }


def predict_reflections(
    experiment: Experiment, d_min: float, *, miller_index: np.ndarray | None = None
) -> Predictions:
    """Predict all reflections of a rotation experiment to d_min inside the scan (static A).

    miller_index : optional (n, 3) indices to predict instead of the full sphere.
    """
    beam, gonio, scan, crystal, detector = (
        experiment.beam, experiment.goniometer, experiment.scan, experiment.crystal, experiment.detector,
    )
    A = crystal.A
    hkl = generate_indices(A, d_min) if miller_index is None else np.asarray(miller_index, dtype=np.int32)
    s0 = beam.s0
    p0 = (hkl @ A.T) @ gonio.fixed_rotation.T
    phi_a, phi_b, ok = rotation_angles(p0, s0, gonio.rotation_axis, gonio.setting_rotation)
    lo = np.radians(scan.oscillation_range_deg[0])
    width = np.radians(scan.oscillation_width_deg)
    rows, phis = [], []
    for phi in (phi_a, phi_b):
        # bring phi into the turn(s) covered by the scan: every turn inside the range counts
        span = np.radians(abs(scan.oscillation_range_deg[1] - scan.oscillation_range_deg[0]))
        n_turns = int(np.ceil(span / (2 * np.pi))) + 1
        base = lo + np.mod(phi - lo, 2 * np.pi) if width > 0 else lo - np.mod(lo - phi, 2 * np.pi)
        for turn in range(n_turns):
            candidate = base + np.sign(width or 1.0) * 2 * np.pi * turn
            z = scan.array_index_from_angle(np.degrees(candidate))
            inside = ok & (z >= scan.array_range[0]) & (z < scan.array_range[1])
            idx = np.nonzero(inside)[0]
            rows.append(idx)
            phis.append(candidate[idx])
    idx = np.concatenate(rows)
    phi = np.concatenate(phis)
    R = gonio.setting_rotation @ rotation_matrix(gonio.rotation_axis, phi)
    r = np.einsum("nij,nj->ni", R, p0[idx])
    s1 = s0 + r
    panel, xy_mm = detector.get_ray_intersection(s1)
    hit = panel >= 0
    idx, phi, s1, panel, xy_mm, r = idx[hit], phi[hit], s1[hit], panel[hit], xy_mm[hit], r[hit]
    xy_px = np.empty_like(xy_mm)
    for p in np.unique(panel):
        sel = panel == p
        xy_px[sel] = detector[int(p)].millimeter_to_pixel(xy_mm[sel])
    z = np.asarray(scan.array_index_from_angle(np.degrees(phi)), dtype=np.float64)
    e_lab = gonio.lab_rotation_axis
    entering = (s1 @ np.cross(s0, e_lab)) < 0
    d = 1.0 / np.linalg.norm(r, axis=1)
    order = np.lexsort((hkl[idx][:, 2], hkl[idx][:, 1], hkl[idx][:, 0], z))
    return Predictions(
        miller_index=hkl[idx][order],
        s1=s1[order],
        xyzcal_mm=np.column_stack([xy_mm, phi])[order],
        xyzcal_px=np.column_stack([xy_px, z])[order],
        panel=panel[order],
        entering=entering[order],
        d=d[order],
    )


__all__ = ["Predictions", "generate_indices", "predict_reflections", "rotation_angles"]
