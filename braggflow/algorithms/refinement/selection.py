"""Which reflections refinement may use, and the working-set sample (algorithms.md 5.1)."""

from __future__ import annotations

import numpy as np

from braggflow.algorithms.refinement.params import ReflectionsParams
from braggflow.model import ExperimentList
from braggflow.model.reflections import Flags, ReflectionTable
from braggflow.phil import AUTO

# centroid_outlier is not here: each refinement run redoes outlier rejection from scratch
BAD = int(Flags.overloaded | Flags.excluded_for_refinement | Flags.not_suitable_for_refinement)


def _imageset_experiment(experiments: ExperimentList) -> list[int]:
    """Index of the first experiment using each unique imageset (DIALS imageset_id order)."""
    first: list[int] = []
    seen: list = []
    for i, e in enumerate(experiments):
        key = e.imageset
        if key is None or not any(key is s for s in seen):
            seen.append(key)
            first.append(i)
    return first


def centroids_px_to_mm(experiments: ExperimentList, reflections: ReflectionTable) -> ReflectionTable:
    """Copy of `reflections` with xyzobs.mm.value/variance computed from xyzobs.px.*.

    The geometry of each row comes from its experiment: `imageset_id` when present, else `id`
    when >= 0, else experiment 0. X, Y use Panel.pixel_to_millimeter (parallax included),
    phi uses Scan.angle_from_array_index; variances scale by pixel size^2 and (dphi in rad)^2.
    """
    out = reflections.copy()
    n = len(out)
    px = np.asarray(out["xyzobs.px.value"], dtype=np.float64).reshape(n, 3)
    var_px = (
        np.asarray(out["xyzobs.px.variance"], dtype=np.float64).reshape(n, 3)
        if "xyzobs.px.variance" in out
        else np.zeros((n, 3))
    )
    if "imageset_id" in out:
        first = _imageset_experiment(experiments)
        iset = np.asarray(out["imageset_id"], dtype=np.int64)
        exp = np.array([first[k] if 0 <= k < len(first) else 0 for k in iset], dtype=np.int64)
    elif "id" in out:
        exp = np.where(np.asarray(out["id"]) >= 0, np.asarray(out["id"]), 0).astype(np.int64)
    else:
        exp = np.zeros(n, dtype=np.int64)
    panel = np.asarray(out["panel"], dtype=np.int64) if "panel" in out else np.zeros(n, dtype=np.int64)
    mm = np.full((n, 3), np.nan)
    var_mm = np.full((n, 3), np.nan)
    for i in np.unique(exp):
        e = experiments[int(i)]
        for p in np.unique(panel[exp == i]):
            sel = (exp == i) & (panel == p)
            pnl = e.detector[int(p)]
            mm[sel, :2] = pnl.pixel_to_millimeter(px[sel, :2])
            var_mm[sel, :2] = var_px[sel, :2] * np.array(pnl.pixel_size) ** 2
        sel = exp == i
        if e.scan is not None:
            mm[sel, 2] = np.radians(e.scan.angle_from_array_index(px[sel, 2]))
            var_mm[sel, 2] = var_px[sel, 2] * np.radians(e.scan.oscillation_width_deg) ** 2
        else:
            mm[sel, 2] = 0.0
            var_mm[sel, 2] = 0.0
    out["xyzobs.mm.value"] = mm
    out["xyzobs.mm.variance"] = var_mm
    return out


def usable_mask(reflections: ReflectionTable, n_experiments: int) -> np.ndarray:
    """Indexed to an experiment, h != 0, not flagged bad, finite observations, variances > 0."""
    ids = np.asarray(reflections["id"])
    hkl = np.asarray(reflections["miller_index"])
    mm = np.asarray(reflections["xyzobs.mm.value"])
    var = np.asarray(reflections["xyzobs.mm.variance"])
    ok = (ids >= 0) & (ids < n_experiments) & np.any(hkl != 0, axis=1)
    ok &= np.all(np.isfinite(mm), axis=1) & np.all(np.isfinite(var) & (var > 0), axis=1)
    if "flags" in reflections:
        ok &= (np.asarray(reflections["flags"]) & np.uint64(BAD)) == 0
    return ok


def observed_s1(experiments: ExperimentList, exp: np.ndarray, panel: np.ndarray, xy_mm: np.ndarray) -> np.ndarray:
    """s1 (n, 3) through each observed spot position (length 1/lambda)."""
    s1 = np.zeros((len(exp), 3))
    for i in np.unique(exp):
        e = experiments[int(i)]
        for p in np.unique(panel[exp == i]):
            sel = (exp == i) & (panel == p)
            lab = e.detector[int(p)].get_lab_coord(xy_mm[sel])
            s1[sel] = lab / np.linalg.norm(lab, axis=1, keepdims=True) / e.beam.wavelength
    return s1


def spindle_mask(experiments: ExperimentList, exp: np.ndarray, s1: np.ndarray, cutoff: float | None) -> np.ndarray:
    """Parallelepiped test |(s1 x s0) . e| > cutoff (DIALS close_to_spindle_cutoff)."""
    if cutoff is None:
        return np.ones(len(exp), dtype=bool)
    keep = np.ones(len(exp), dtype=bool)
    for i in np.unique(exp):
        e = experiments[int(i)]
        sel = exp == i
        if e.goniometer is None:
            continue
        vol = np.abs(np.cross(s1[sel], e.beam.s0) @ e.goniometer.lab_rotation_axis)
        keep[sel] = vol > cutoff
    return keep


def scan_margin_mask(experiments: ExperimentList, exp: np.ndarray, phi: np.ndarray, margin_deg: float | None) -> np.ndarray:
    """Drop observations within margin_deg of the centres of the first and last images."""
    keep = np.ones(len(exp), dtype=bool)
    if not margin_deg:
        return keep
    for i in np.unique(exp):
        scan = experiments[int(i)].scan
        if scan is None or scan.is_still:
            continue
        sel = exp == i
        lo, hi = np.radians(scan.oscillation_range_deg)
        half = 0.5 * np.radians(scan.oscillation_width_deg)
        lo, hi = min(lo, hi) + half, max(lo, hi) - half
        m = np.radians(margin_deg)
        trial = (phi[sel] >= lo + m) & (phi[sel] <= hi - m)
        if trial.sum() >= 20:  # unless too few would remain
            keep[sel] = trial
    return keep


def sample_working_set(
    experiments: ExperimentList, exp: np.ndarray, candidates: np.ndarray, params: ReflectionsParams
) -> np.ndarray:
    """Random subset (seeded) of candidate rows per experiment; returns a bool mask."""
    keep = candidates.copy()
    rng = np.random.default_rng(params.random_seed)
    for i in np.unique(exp[candidates]):
        rows = np.nonzero(candidates & (exp == i))[0]
        scan = experiments[int(i)].scan
        width = 0.0 if scan is None else abs(scan.oscillation_range_deg[1] - scan.oscillation_range_deg[0])
        rpd = params.reflections_per_degree
        if rpd is AUTO and width > 360.0:  # keep at least one turn's worth and 100 per degree
            size = max(int(len(rows) * 360.0 / width), int(100 * width), params.minimum_sample_size or 0)
        elif rpd is AUTO or rpd is None:
            size = len(rows)
        else:
            size = max(int(rpd * width), params.minimum_sample_size or 0)
        if params.maximum_sample_size:
            size = min(size, params.maximum_sample_size)
        if size < len(rows):
            chosen = rng.choice(rows, size=size, replace=False)
            keep[rows] = False
            keep[chosen] = True
    return keep


__all__ = [
    "centroids_px_to_mm",
    "observed_s1",
    "sample_working_set",
    "scan_margin_mask",
    "spindle_mask",
    "usable_mask",
]
