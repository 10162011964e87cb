"""The integrated reflection table of one experiment from the kernel results (DIALS column
names; algorithms.md 7.6-7.8)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from braggflow.algorithms.integration import _kernels as K
from braggflow.algorithms.integration._context import IntegrationContext
from braggflow.algorithms.integration.corrections import detector_efficiency, lorentz_polarization
from braggflow.algorithms.integration.shoeboxes import partiality
from braggflow.algorithms.integration.statistics import ice_ring_mask
from braggflow.model.reflections import Flags, ReflectionTable

__all__ = ["assemble_table"]


def assemble_table(ctx: IntegrationContext, bbox: np.ndarray, out: np.ndarray, flags: np.ndarray,
                   sm_rad: float) -> ReflectionTable:
    """Columns of the integrated table (flags: the kernels' flags plus the caller's)."""
    i, expt, cols, p = ctx.index, ctx.expt, ctx.cols, ctx.params
    n = len(bbox)
    part = partiality(bbox, cols["xyzcal.mm"][:, 2], cols["zeta"], sm_rad, expt)
    if p.integration.filter.ice_rings:
        flags |= np.where(ice_ring_mask(cols["d"]), int(Flags.in_powder_ring), 0)
    flags |= int(Flags.predicted)
    xyzobs = out[:, [K.C_X, K.C_Y, K.C_Z]].copy()
    missing = ~np.isfinite(xyzobs).all(axis=1) | ((flags & int(Flags.integrated_sum)) == 0)
    xyzobs[missing] = cols["xyzcal.px"][missing]
    mm = np.empty_like(xyzobs)
    for pnl in np.unique(cols["panel"]):
        sel = cols["panel"] == pnl
        mm[sel, :2] = expt.detector[int(pnl)].pixel_to_millimeter(xyzobs[sel, :2])
    mm[:, 2] = np.radians(expt.scan.angle_from_array_index(xyzobs[:, 2]))
    pix = np.column_stack([expt.detector[int(q)].pixel_size for q in cols["panel"]]).T if n else np.zeros((0, 2))
    var_px = out[:, [K.C_VX, K.C_VY, K.C_VZ]]
    var_mm = np.column_stack([var_px[:, 0] * pix[:, 0] ** 2, var_px[:, 1] * pix[:, 1] ** 2,
                              var_px[:, 2] * math.radians(expt.scan.oscillation_width_deg) ** 2]) if n else var_px
    columns: dict[str, Any] = {
        "miller_index": cols["miller_index"], "id": np.full(n, i, dtype=np.int32), "imageset_id": np.full(n, i, dtype=np.int32),
        "panel": cols["panel"].astype(np.uint64), "entering": cols["entering"], "s1": cols["s1"], "d": cols["d"],
        "zeta": cols["zeta"], "xyzcal.mm": cols["xyzcal.mm"], "xyzcal.px": cols["xyzcal.px"], "bbox": bbox,
        "partiality": part, "partial_id": np.arange(n, dtype=np.uint64), "flags": flags.astype(np.uint64),
        "background.mean": out[:, K.C_BGMEAN], "background.sum.value": out[:, K.C_BGSUM],
        "background.sum.variance": out[:, K.C_BGVAR], "intensity.sum.value": out[:, K.C_ISUM],
        "intensity.sum.variance": out[:, K.C_VSUM], "intensity.prf.value": out[:, K.C_IPRF],
        "intensity.prf.variance": out[:, K.C_VPRF], "profile.correlation": out[:, K.C_CC],
        "lp": lorentz_polarization(expt, cols["s1"]), "qe": detector_efficiency(expt, cols["s1"], cols["panel"]),
        "xyzobs.px.value": xyzobs, "xyzobs.px.variance": var_px, "xyzobs.mm.value": mm, "xyzobs.mm.variance": var_mm,
        "num_pixels.valid": out[:, K.C_NVALID].astype(np.int32), "num_pixels.foreground": out[:, K.C_NFG].astype(np.int32),
        "num_pixels.background": out[:, K.C_NBG].astype(np.int32),
        "num_pixels.background_used": out[:, K.C_NBGUSED].astype(np.int32),
    }
    return ReflectionTable(columns, experiment_identifiers={i: expt.identifier})
