"""Prediction of every reflection to integrate (algorithms.md 1.7): static or scan-varying A,
over the scan widened by `prediction.padding` so that rocking-curve tails entering the scan
are predicted too (their bboxes are clipped to the scan later)."""

from __future__ import annotations

import math

import numpy as np

from braggflow.algorithms.prediction import predict_reflections
from braggflow.model import Experiment
from braggflow.model._vec import rotation_matrix, unit

__all__ = ["predict_for_integration", "padded_experiment", "zeta_of", "orientation_drift_rad", "search_window_frames"]

MAX_WINDOW_FRAMES = 30  # scan-varying search: at most this many frames either side of the static phi


def padded_experiment(experiment: Experiment, padding_deg: float) -> Experiment:
    """The experiment with its scan widened by whole images covering padding_deg each side."""
    scan = experiment.scan
    width = abs(scan.oscillation_width_deg)
    pad = int(math.ceil(max(padding_deg, 0.0) / width)) if width > 0 else 0
    if pad == 0:
        return experiment
    i0, i1 = scan.image_range
    return experiment.replace(scan=scan.replace(
        image_range=(i0 - pad, i1 + pad),
        oscillation_start_deg=scan.oscillation_start_deg - pad * scan.oscillation_width_deg,
        exposure_times=np.zeros(0), epochs=np.zeros(0)))


def zeta_of(s1: np.ndarray, s0: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """zeta = e . unit(s1 x s0) per reflection."""
    return unit(np.cross(s1, s0)) @ unit(axis)


def predict_for_integration(experiment: Experiment, d_min: float, *, d_max: float | None = None,
                            padding_deg: float = 1.0, force_static: bool = False) -> dict[str, np.ndarray]:
    """DIALS prediction columns (miller_index, s1, xyzcal.mm/px, panel, entering, d, zeta)."""
    wide = padded_experiment(experiment, padding_deg)
    crystal = experiment.crystal
    varying = crystal.A_at_scan_points is not None and not force_static
    if varying:
        mid = 0.5 * (experiment.scan.array_range[0] + experiment.scan.array_range[1])
        A_mid = crystal.A_at_frame(mid, experiment.scan.array_range[0])
        wide = wide.replace(crystal=crystal.replace(A=A_mid, A_at_scan_points=None))
        # static candidates from a search window more each side: a reflection whose static
        # phi is just outside the padded range may cross inside it with the scan-varying A
        width = abs(experiment.scan.oscillation_width_deg)
        edge = search_window_frames(experiment, np.array([0.05]))[0]  # |zeta| = min_zeta default
        cand = padded_experiment(experiment, max(padding_deg, 0.0) + edge * width)
        pred = predict_reflections(cand.replace(crystal=wide.crystal), d_min * 0.995)
    else:
        pred = predict_reflections(wide, d_min)
    cols = {
        "miller_index": pred.miller_index, "s1": pred.s1, "xyzcal.mm": pred.xyzcal_mm,
        "xyzcal.px": pred.xyzcal_px, "panel": pred.panel.astype(np.int64), "entering": pred.entering, "d": pred.d,
    }
    if varying:
        cols = _scan_varying(experiment, wide, cols, d_min)
    keep = cols["d"] >= d_min
    if d_max is not None:
        keep &= cols["d"] <= d_max
    cols = {k: v[keep] for k, v in cols.items()}
    cols["zeta"] = zeta_of(cols["s1"], experiment.beam.s0, experiment.goniometer.lab_rotation_axis)
    return cols


def orientation_drift_rad(experiment: Experiment) -> float:
    """Largest relative change of a reciprocal-lattice vector between the mid-scan A and any
    scan-point A: max_k ||A_k A_mid^-1 - I||_2 (about the misorientation in radians)."""
    crystal = experiment.crystal
    A = crystal.A_at_scan_points
    if A is None or len(A) == 0:
        return 0.0
    first, last = experiment.scan.array_range
    inv = np.linalg.inv(crystal.A_at_frame(0.5 * (first + last), first))
    return float(max(np.linalg.norm(a @ inv - np.eye(3), 2) for a in A))


def search_window_frames(experiment: Experiment, zeta: np.ndarray) -> np.ndarray:
    """Frames either side of the static (mid-scan A) phi in which the scan-varying crossing
    is searched: 2 + 1.5 x drift / (|zeta| x width), at most `MAX_WINDOW_FRAMES`. A
    misorientation d moves phi by about d / |zeta| (L-cysteine: 0.04 deg at zeta 0.18 moved
    (1 -4 -11) by 0.29 deg = 2.9 frames, out of the old fixed +-2 frames)."""
    width = math.radians(abs(experiment.scan.oscillation_width_deg)) or 1.0
    drift = orientation_drift_rad(experiment)
    za = np.maximum(np.abs(np.asarray(zeta, dtype=float)), 1e-3)
    w = 2 + np.ceil(1.5 * drift / (za * width))
    return np.minimum(w, MAX_WINDOW_FRAMES).astype(np.int64)


def _scan_varying(experiment: Experiment, wide: Experiment, cols: dict, d_min: float) -> dict:
    """Refine each static candidate with A interpolated at the frame boundaries around it
    (`search_window_frames` either side; the crossing nearest the static phi wins)."""
    scan, gonio, beam, det = wide.scan, experiment.goniometer, experiment.beam, experiment.detector
    crystal = experiment.crystal
    first = experiment.scan.array_range[0]
    s0 = beam.s0
    inv_wl = 1.0 / beam.wavelength
    hkl = cols["miller_index"].astype(np.float64)
    z_static = cols["xyzcal.px"][:, 2]
    lo, hi = scan.array_range
    window = search_window_frames(experiment, zeta_of(cols["s1"], s0, gonio.lab_rotation_axis))
    top = int(window.max()) if len(window) else 0
    offsets = [0] + [o for k in range(1, top + 1) for o in (-k, k)]  # nearest crossing first
    out_rows, out_s1, out_phi = [], [], []
    for offset in offsets:
        k = np.floor(z_static).astype(np.int64) + offset
        inside = (k >= lo) & (k < hi) & (abs(offset) <= window)
        idx = np.nonzero(inside)[0]
        if len(idx) == 0:
            continue
        kk = k[idx].astype(np.float64)
        r1 = _r_at(crystal, gonio, scan, hkl[idx], kk, first)
        r2 = _r_at(crystal, gonio, scan, hkl[idx], kk + 1, first)
        f1 = np.linalg.norm(s0 + r1, axis=1) - inv_wl
        f2 = np.linalg.norm(s0 + r2, axis=1) - inv_wl
        cross = (np.sign(f1) != np.sign(f2)) & (np.linalg.norm(r1, axis=1) <= 1.0 / d_min)
        idx, r1, r2, kk = idx[cross], r1[cross], r2[cross], kk[cross]
        dr = r2 - r1
        a = np.einsum("ij,ij->i", dr, dr)
        b = 2 * np.einsum("ij,ij->i", s0 + r1, dr)
        c = np.einsum("ij,ij->i", r1, r1) + 2 * (r1 @ s0)
        disc = np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))
        alpha = np.where(a > 0, (-b + disc) / (2 * a), 0.0)
        alt = np.where(a > 0, (-b - disc) / (2 * a), 0.0)
        alpha = np.where((alpha >= 0) & (alpha <= 1), alpha, alt)
        ok = (alpha >= 0) & (alpha <= 1)
        out_rows.append(idx[ok])
        out_s1.append(s0 + r1[ok] + alpha[ok, None] * dr[ok])
        out_phi.append(np.radians(scan.angle_from_array_index(kk[ok] + alpha[ok])))
    if not out_rows:
        return {k: v[:0] for k, v in cols.items()}
    rows = np.concatenate(out_rows)
    rows, first_occ = np.unique(rows, return_index=True)  # one event per candidate
    s1 = np.concatenate(out_s1)[first_occ]
    phi = np.concatenate(out_phi)[first_occ]
    panel, xy_mm = det.get_ray_intersection(s1)
    hit = panel >= 0
    rows, s1, phi, panel, xy_mm = rows[hit], s1[hit], phi[hit], panel[hit], xy_mm[hit]
    xy_px = np.empty_like(xy_mm)
    for p in np.unique(panel):
        sel = panel == p
        xy_px[sel] = det[int(p)].millimeter_to_pixel(xy_mm[sel])
    z = np.asarray(scan.array_index_from_angle(np.degrees(phi)), dtype=np.float64)
    entering = (s1 @ np.cross(s0, gonio.lab_rotation_axis)) < 0
    return {
        "miller_index": cols["miller_index"][rows], "s1": s1,
        "xyzcal.mm": np.column_stack([xy_mm, phi]), "xyzcal.px": np.column_stack([xy_px, z]),
        "panel": panel.astype(np.int64), "entering": entering, "d": 1.0 / np.linalg.norm(s1 - s0, axis=1),
    }


def _r_at(crystal, gonio, scan, hkl: np.ndarray, z: np.ndarray, first: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Lab reciprocal-lattice vectors S R(phi(z)) F A(z) h, A interpolated at frame z."""
    A = crystal.A_at_scan_points
    t = np.clip(z - first, 0, len(A) - 1)
    k = np.minimum(np.floor(t).astype(np.int64), len(A) - 2)
    f = (t - k)[:, None, None]
    Az = (1 - f) * A[k] + f * A[k + 1]
    R = rotation_matrix(gonio.rotation_axis, np.radians(scan.angle_from_array_index(z)))
    M = gonio.setting_rotation @ R @ gonio.fixed_rotation @ Az
    return np.einsum("nij,nj->ni", M, hkl)
