"""Map spot centroids to reciprocal space (algorithms.md 4.1).

px -> mm (parallax-corrected when the panel says so) -> lab point -> s1 -> p = s1 - s0 ->
rlp = F^-1 R(e_d, -phi) S^-1 p, the frame in which A = U B is determined (phi = 0).
Stills (no scan or zero oscillation width) use phi = 0.
"""

from __future__ import annotations

import numpy as np

from braggflow.model import Experiment
from braggflow.model._vec import rotation_matrix, unit
from braggflow.model.reflections import ReflectionTable


def spot_phi_rad(experiment: Experiment, z: np.ndarray) -> np.ndarray:
    """phi (rad) at frame coordinate(s) z; zeros for stills."""
    scan = experiment.scan
    if scan is None or scan.oscillation_width_deg == 0.0:
        return np.zeros(np.shape(z))
    return np.asarray(scan.phi_rad(z), dtype=np.float64)


def centroid_px_to_mm(experiment: Experiment, xyz_px: np.ndarray, var_px: np.ndarray,
                      panel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(xyzobs.mm.value, xyzobs.mm.variance) (n, 3) from pixel centroids: mm, mm, rad."""
    det, scan = experiment.detector, experiment.scan
    xyz_mm = np.zeros_like(xyz_px, dtype=np.float64)
    var_mm = np.zeros_like(var_px, dtype=np.float64)
    for p in np.unique(panel):
        sel = panel == p
        pan = det[int(p)]
        xyz_mm[sel, :2] = pan.pixel_to_millimeter(xyz_px[sel, :2])
        var_mm[sel, :2] = var_px[sel, :2] * np.square(pan.pixel_size)
    xyz_mm[:, 2] = spot_phi_rad(experiment, xyz_px[:, 2])
    dphi = 0.0 if scan is None else np.radians(scan.oscillation_width_deg)
    var_mm[:, 2] = var_px[:, 2] * dphi**2
    return xyz_mm, var_mm


def s1_from_mm(experiment: Experiment, xy_mm: np.ndarray, panel: np.ndarray) -> np.ndarray:
    """Diffracted beam vectors (n, 3), |s1| = 1/lambda, for panel mm positions."""
    det, beam = experiment.detector, experiment.beam
    lab = np.zeros((len(xy_mm), 3))
    for p in np.unique(panel):
        sel = panel == p
        lab[sel] = det[int(p)].get_lab_coord(xy_mm[sel])
    return unit(lab) / beam.wavelength


def rlp_from_s1(experiment: Experiment, s1: np.ndarray, phi_rad: np.ndarray) -> np.ndarray:
    """Reciprocal-lattice points (n, 3) at phi = 0: F^-1 R(e_d, -phi) S^-1 (s1 - s0)."""
    gonio = experiment.goniometer
    p = s1 - experiment.beam.s0
    if gonio is None:
        return p
    p = p @ np.linalg.inv(gonio.setting_rotation).T
    R = rotation_matrix(gonio.rotation_axis, -np.asarray(phi_rad, dtype=np.float64))
    p = np.einsum("nij,nj->ni", R, p) if R.ndim == 3 else p @ R.T
    return p @ np.linalg.inv(gonio.fixed_rotation).T


def entering_flags(experiment: Experiment, s1: np.ndarray) -> np.ndarray:
    """entering = s1 . (s0 x e) < 0 (all False for stills without a goniometer)."""
    if experiment.goniometer is None:
        return np.zeros(len(s1), dtype=bool)
    e = experiment.goniometer.lab_rotation_axis
    return (s1 @ np.cross(experiment.beam.s0, e)) < 0


def map_to_reciprocal_space(experiments: list[Experiment], reflections: ReflectionTable) -> ReflectionTable:
    """A copy of `reflections` with xyzobs.mm.value/variance, s1, rlp, entering, imageset_id.

    Rows are mapped with the experiment given by their `id` column (index into
    `experiments`; for strong spots this is the imageset).
    """
    table = reflections.copy()
    n = len(table)
    ids = np.asarray(table["id"], dtype=np.int64) if "id" in table else np.zeros(n, dtype=np.int64)
    xyz_px = np.asarray(table["xyzobs.px.value"], dtype=np.float64)
    var_px = (np.asarray(table["xyzobs.px.variance"], dtype=np.float64)
              if "xyzobs.px.variance" in table else np.zeros_like(xyz_px))
    panel = (np.asarray(table["panel"], dtype=np.int64) if "panel" in table
             else np.zeros(n, dtype=np.int64))
    xyz_mm = np.zeros((n, 3))
    var_mm = np.zeros((n, 3))
    s1 = np.zeros((n, 3))
    rlp = np.zeros((n, 3))
    entering = np.zeros(n, dtype=bool)
    for i_expt in np.unique(ids):
        sel = ids == i_expt
        if i_expt < 0 or i_expt >= len(experiments):
            continue
        expt = experiments[int(i_expt)]
        xyz_mm[sel], var_mm[sel] = centroid_px_to_mm(expt, xyz_px[sel], var_px[sel], panel[sel])
        s1[sel] = s1_from_mm(expt, xyz_mm[sel, :2], panel[sel])
        rlp[sel] = rlp_from_s1(expt, s1[sel], xyz_mm[sel, 2])
        entering[sel] = entering_flags(expt, s1[sel])
    table["xyzobs.mm.value"] = xyz_mm
    table["xyzobs.mm.variance"] = var_mm
    table["s1"] = s1
    table["rlp"] = rlp
    table["entering"] = entering
    table["imageset_id"] = ids.astype(np.int32)
    return table


__all__ = [
    "centroid_px_to_mm",
    "entering_flags",
    "map_to_reciprocal_space",
    "rlp_from_s1",
    "s1_from_mm",
    "spot_phi_rad",
]
