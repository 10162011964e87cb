"""Refinement: centroid RMSDs per image in X, Y and phi, the positional residuals, and the
scan-varying unit cell and orientation against image number."""

from __future__ import annotations

import numpy as np

from braggflow.model import Crystal, ExperimentList
from braggflow.model.reflections import Flags, ReflectionTable
from braggflow.report.html.sections._common import (
    ReportOptions, Section, SectionBuilder, flag_set, image_numbers,
)
from braggflow.report.html.sections.indexing import indexed_mask
from braggflow.report.html.svg import Plot

__all__ = ["refinement_section", "rmsd_per_image", "orientation_angles_deg"]

_RESID_COLUMNS = ("xyzobs.px.value", "xyzcal.px", "miller_index")


def refinement_rows(table: ReflectionTable) -> np.ndarray:
    """used_in_refinement rows when any are flagged, else indexed non-outlier rows."""
    used = flag_set(table, Flags.used_in_refinement)
    if used.any():
        return used
    return indexed_mask(table) & ~flag_set(table, Flags.centroid_outlier)


def rmsd_per_image(obs: np.ndarray, cal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images, rmsd (n_images, 3) in px, px, images, count per image) of rows obs/cal (n, 3)."""
    images = image_numbers(obs[:, 2])
    resid = cal - obs
    first = int(images.min())
    idx = images - first
    n = np.bincount(idx).astype(np.float64)
    sq = np.stack([np.bincount(idx, weights=resid[:, k] ** 2, minlength=n.size) for k in range(3)], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rmsd = np.sqrt(sq / n[:, None])
    rmsd[n == 0] = np.nan
    return np.arange(first, first + n.size), rmsd, n


def _residuals(b: SectionBuilder, table: ReflectionTable) -> None:
    rows = refinement_rows(table)
    obs = np.asarray(table["xyzobs.px.value"])[rows]
    cal = np.asarray(table["xyzcal.px"])[rows]
    ok = np.isfinite(obs).all(axis=1) & np.isfinite(cal).all(axis=1)
    obs, cal = obs[ok], cal[ok]
    if not len(obs):
        b.note("Refinement RMSDs: no indexed reflection has observed and calculated centroids.")
        return
    resid = cal - obs
    overall = np.sqrt(np.mean(resid**2, axis=0))
    b.table([("Reflections used", len(obs)), ("RMSD X (px)", float(overall[0])), ("RMSD Y (px)", float(overall[1])),
             ("RMSD phi (images)", float(overall[2]))])
    images, rmsd, n = rmsd_per_image(obs, cal)
    plot = Plot("Centroid RMSD per image", "image", "RMSD (px or images)")
    for k, name in enumerate(("X (px)", "Y (px)", "phi (images)")):
        plot.line(images, rmsd[:, k], label=name, markers=images.size < 60)
    b.plot(plot, "rmsd", "Root-mean-square difference between predicted and observed centroids of the reflections used in refinement.",
           {"image": images, "rmsd_x_px": rmsd[:, 0], "rmsd_y_px": rmsd[:, 1], "rmsd_phi_images": rmsd[:, 2], "n": n})
    plot = Plot("Positional residuals", "X calc − obs (px)", "Y calc − obs (px)", height=400, equal_aspect=True)
    plot.scatter(resid[:4000, 0], resid[:4000, 1], size=2.0, opacity=0.5)
    plot.marker(0.0, 0.0, colour="#333")
    b.plot(plot, "residuals", "Calculated minus observed spot positions; a cloud off the origin means a biased model.")


def orientation_angles_deg(U: np.ndarray, U0: np.ndarray) -> np.ndarray:
    """(phi1, phi2, phi3) in degrees with U = Rz(phi3) Ry(phi2) Rx(phi1) U0 (algorithms.md 5.3)."""
    R = U @ U0.T
    phi2 = -np.arcsin(np.clip(R[..., 2, 0], -1, 1))
    phi1 = np.arctan2(R[..., 2, 1], R[..., 2, 2])
    phi3 = np.arctan2(R[..., 1, 0], R[..., 0, 0])
    return np.degrees(np.stack([phi1, phi2, phi3], axis=-1))


def _scan_varying(b: SectionBuilder, experiments: ExperimentList | None) -> None:
    sv = [(i, e) for i, e in enumerate(experiments or ()) if e.crystal is not None and e.crystal.num_scan_points > 1]
    if not experiments or not any(e.crystal is not None for e in experiments):
        b.note("Scan-varying cell and orientation: needs a crystal model (a refined .expt).")
        return
    if not sv:
        b.paragraph("The crystal models are static (no A at scan points), so there are no scan-varying plots.")
        return
    for i, e in sv[:4]:
        A = e.crystal.A_at_scan_points
        first = e.scan.image_range[0] - 1 if e.scan is not None else 0
        x = first + np.arange(len(A), dtype=np.float64)  # frame boundaries
        crystals = [Crystal(A=a, space_group=e.crystal.space_group) for a in A]
        cells = np.array([c.unit_cell.parameters for c in crystals])
        volume = np.array([c.unit_cell.volume for c in crystals])
        U = np.array([c.U for c in crystals])
        angles = orientation_angles_deg(U, U[0])
        suffix = f" (experiment {i})" if len(experiments) > 1 else ""
        p1 = Plot(f"Cell lengths{suffix}", "image", "change from the first scan point (Å)", min_yspan=0.002)
        for k, name in enumerate("abc"):
            p1.line(x, cells[:, k] - cells[0, k], label=f"{name} ({cells[0, k]:.4f} Å)")
        p2 = Plot(f"Cell angles{suffix}", "image", "change from the first scan point (deg)", min_yspan=0.02)
        for k, name in enumerate(("alpha", "beta", "gamma")):
            p2.line(x, cells[:, 3 + k] - cells[0, 3 + k], label=f"{name} ({cells[0, 3 + k]:.3f}°)")
        p3 = Plot(f"Cell volume{suffix}", "image", "Å³", min_yspan=0.01)
        p3.line(x, volume, label="volume")
        p4 = Plot(f"Orientation{suffix}", "image", "degrees from the first scan point", min_yspan=0.01)
        for k in range(3):
            p4.line(x, angles[:, k], label=f"phi{k + 1} (about lab {'xyz'[k]})")
        data = {"frame": x, "a": cells[:, 0], "b": cells[:, 1], "c": cells[:, 2], "alpha": cells[:, 3], "beta": cells[:, 4],
                "gamma": cells[:, 5], "volume": volume, "phi1": angles[:, 0], "phi2": angles[:, 1], "phi3": angles[:, 2]}
        b.plot(p1, f"cell-lengths-{i}", "Scan-varying unit cell lengths at the frame boundaries.", data)
        b.plot(p2, f"cell-angles-{i}", "Scan-varying unit cell angles.")
        b.plot(p3, f"cell-volume-{i}", "Scan-varying unit cell volume.")
        b.plot(p4, f"orientation-{i}", "Crystal orientation relative to the first scan point, as small rotations about the lab axes.")


def refinement_section(experiments: ExperimentList | None, reflections: ReflectionTable | None,
                       options: ReportOptions | None = None) -> Section:
    b = SectionBuilder("refinement", "Refinement")
    if b.needs(reflections, _RESID_COLUMNS, "Centroid RMSDs"):
        _residuals(b, reflections)
    _scan_varying(b, experiments)
    return b.build()
