"""Shoebox geometry from the gaussian_rs profile model (algorithms.md 7.3): Kabsch frames,
bounding boxes, partiality, and the kernel-ready panel arrays.

Masks (Foreground / Background / Valid, `braggflow.model.shoebox.MaskCode` bits) are set per
pixel column by `_kernels.foreground_mask`, evaluated at the pixel corners.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import erf

from braggflow.model import Detector, Experiment
from braggflow.model._vec import unit

__all__ = ["PanelArrays", "panel_arrays", "kabsch_frames", "effective_s1", "compute_bbox", "partiality",
           "SIGMA_B_MULTIPLIER", "nonempty"]

SIGMA_B_MULTIPLIER = 2.0  # the bbox reaches 2 x n_sigma x sigma_b (background around the spot)


@dataclass(frozen=True)
class PanelArrays:
    """Per-panel geometry as contiguous arrays for the kernels (simple px -> mm)."""

    origin: np.ndarray  # (np, 3) mm
    fast: np.ndarray  # (np, 3)
    slow: np.ndarray  # (np, 3)
    pixel_size: np.ndarray  # (np, 2) mm
    image_size: np.ndarray  # (np, 2) int (n_fast, n_slow)
    trusted_max: np.ndarray  # (np,)


def panel_arrays(detector: Detector) -> PanelArrays:
    return PanelArrays(
        origin=np.ascontiguousarray([p.origin for p in detector], dtype=np.float64),
        fast=np.ascontiguousarray([p.fast_axis for p in detector], dtype=np.float64),
        slow=np.ascontiguousarray([p.slow_axis for p in detector], dtype=np.float64),
        pixel_size=np.ascontiguousarray([p.pixel_size for p in detector], dtype=np.float64),
        image_size=np.ascontiguousarray([p.image_size for p in detector], dtype=np.int64),
        trusted_max=np.ascontiguousarray([p.trusted_range[1] for p in detector], dtype=np.float64),
    )


def effective_s1(pa: PanelArrays, xy_px: np.ndarray, panel: np.ndarray, wavelength: float) -> np.ndarray:
    """Beam vector (n, 3) of the predicted pixel position mapped with the simple px -> mm rule,
    so that masks built from pixel corners (no parallax) are centred on the prediction."""
    p = np.asarray(panel, dtype=np.int64)
    X = xy_px[:, 0] * pa.pixel_size[p, 0]
    Y = xy_px[:, 1] * pa.pixel_size[p, 1]
    lab = pa.origin[p] + X[:, None] * pa.fast[p] + Y[:, None] * pa.slow[p]
    return unit(lab) / wavelength


def kabsch_frames(s1: np.ndarray, s0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(e1, e2, e3) unit vectors (n, 3): e1 = s1 x s0, e2 = s1 x e1, e3 = s1 + s0."""
    e1 = unit(np.cross(s1, s0))
    e2 = unit(np.cross(s1, e1))
    e3 = unit(s1 + s0)
    return e1, e2, e3


def nonempty(bbox: np.ndarray) -> np.ndarray:
    """Rows whose bbox has at least one pixel and one frame."""
    return (bbox[:, 1] > bbox[:, 0]) & (bbox[:, 3] > bbox[:, 2]) & (bbox[:, 5] > bbox[:, 4])


def compute_bbox(experiment: Experiment, s1: np.ndarray, panel: np.ndarray, phi_rad: np.ndarray,
                 zeta: np.ndarray, sigma_b_rad: float, sigma_m_rad: float, n_sigma: float,
                 *, multiplier: float = SIGMA_B_MULTIPLIER) -> np.ndarray:
    """Bounding boxes (n, 6) int32 (x0, x1, y0, y1, z0, z1), clipped to the scan.

    The four Kabsch points (+-m delta_b, +-m delta_b) are mapped to the Ewald sphere and the
    panel; z spans phi_c +- delta_m / |zeta|. Rows that miss the panel get an empty box.
    """
    s0 = experiment.beam.s0
    scan = experiment.scan
    n = len(s1)
    e1, e2, _ = kabsch_frames(s1, s0)
    length = np.linalg.norm(s1, axis=1)
    delta = multiplier * n_sigma * sigma_b_rad
    xs = np.full((n, 4), np.nan)
    ys = np.full((n, 4), np.nan)
    for k, (a, b) in enumerate(((-1, -1), (1, -1), (-1, 1), (1, 1))):
        v = s1 + (a * delta * length)[:, None] * e1 + (b * delta * length)[:, None] * e2
        v = unit(v) * length[:, None]
        for p in np.unique(panel):
            sel = panel == p
            pan = experiment.detector[int(p)]
            w = v[sel] @ pan.D_matrix.T
            with np.errstate(divide="ignore", invalid="ignore"):
                mm = w[:, :2] / w[:, 2:3]
            px = pan.millimeter_to_pixel(mm)
            bad = w[:, 2] <= 0
            px[bad] = np.nan
            xs[sel, k], ys[sel, k] = px[:, 0], px[:, 1]
    size = np.array([experiment.detector[int(p)].image_size for p in range(len(experiment.detector))])
    nx, ny = size[panel, 0], size[panel, 1]
    with np.errstate(invalid="ignore"):
        # not clipped to the panel: pixels off the image are extracted as invalid, so a spot
        # cut by the panel edge is flagged foreground_includes_bad_pixels (as DIALS does)
        x0 = np.clip(np.floor(np.nanmin(xs, axis=1)), -nx, 2 * nx)
        x1 = np.clip(np.ceil(np.nanmax(xs, axis=1)), -nx, 2 * nx)
        y0 = np.clip(np.floor(np.nanmin(ys, axis=1)), -ny, 2 * ny)
        y1 = np.clip(np.ceil(np.nanmax(ys, axis=1)), -ny, 2 * ny)
    dphi = n_sigma * sigma_m_rad / np.maximum(np.abs(zeta), 1e-6)
    za = np.asarray(scan.array_index_from_angle(np.degrees(phi_rad - dphi)))
    zb = np.asarray(scan.array_index_from_angle(np.degrees(phi_rad + dphi)))
    zlo, zhi = np.minimum(za, zb), np.maximum(za, zb)
    a0, a1 = scan.array_range
    z0 = np.clip(np.floor(zlo), a0, a1 - 1)
    z1 = np.clip(np.ceil(zhi), a0 + 1, a1)
    # a prediction in the padding whose box misses the scan still gets the nearest frame
    # (as DIALS does); its partiality says how little of it was recorded
    z1 = np.maximum(z1, z0 + 1)
    bbox = np.column_stack([x0, x1, y0, y1, z0, z1])
    bbox = np.nan_to_num(bbox, nan=0.0)
    return bbox.astype(np.int32)


def partiality(bbox: np.ndarray, phi_rad: np.ndarray, zeta: np.ndarray, sigma_m_rad: float,
               experiment: Experiment) -> np.ndarray:
    """Fraction of the Gaussian rocking curve inside the bbox's frames (n,)."""
    scan = experiment.scan
    pa = np.radians(np.asarray(scan.angle_from_array_index(bbox[:, 4].astype(np.float64))))
    pb = np.radians(np.asarray(scan.angle_from_array_index(bbox[:, 5].astype(np.float64))))
    s = math.sqrt(2.0) * sigma_m_rad
    za = np.abs(zeta)
    return 0.5 * np.abs(erf(za * (pb - phi_rad) / s) - erf(za * (pa - phi_rad) / s))
