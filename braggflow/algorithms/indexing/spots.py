"""The per-spot arrays indexing works on (read once from the mapped reflection table)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from braggflow.algorithms.indexing.predict import predict_indexed
from braggflow.model import Experiment
from braggflow.model.reflections import ReflectionTable


@dataclass(frozen=True)
class Spots:
    """Spot arrays; `imageset` indexes the input (imported) experiment list."""

    rlp: np.ndarray  # (n, 3) 1/A at phi = 0
    xyz_mm: np.ndarray  # (n, 3) mm, mm, rad
    xyz_px: np.ndarray  # (n, 3)
    panel: np.ndarray  # (n,) int64
    imageset: np.ndarray  # (n,) int64
    entering: np.ndarray  # (n,) bool

    @classmethod
    def from_table(cls, table: ReflectionTable) -> "Spots":
        return cls(
            rlp=np.asarray(table["rlp"], dtype=np.float64),
            xyz_mm=np.asarray(table["xyzobs.mm.value"], dtype=np.float64),
            xyz_px=np.asarray(table["xyzobs.px.value"], dtype=np.float64),
            panel=np.asarray(table["panel"], dtype=np.int64) if "panel" in table else np.zeros(len(table), dtype=np.int64),
            imageset=np.asarray(table["imageset_id"], dtype=np.int64),
            entering=np.asarray(table["entering"], dtype=bool),
        )

    def __len__(self) -> int:
        return len(self.rlp)

    @property
    def phi(self) -> np.ndarray:
        return self.xyz_mm[:, 2]

    @property
    def d(self) -> np.ndarray:
        n = np.linalg.norm(self.rlp, axis=1)
        with np.errstate(divide="ignore"):
            return np.where(n > 0, 1.0 / n, np.inf)

    def with_rlp(self, rlp: np.ndarray, xyz_mm: np.ndarray) -> "Spots":
        return replace(self, rlp=rlp, xyz_mm=xyz_mm)


def rmsds_px(sweeps: list[Experiment], A: np.ndarray, spots: Spots, hkl: np.ndarray, rows: np.ndarray,
             *, robust: bool = True) -> tuple[float, float, float, int]:
    """(rmsd_x px, rmsd_y px, rmsd_z frames, n) of the given indexed rows against A; with
    `robust`, residual outliers (Tukey fences, k = 3) are left out, as refinement would."""
    dx, dy, dz = [], [], []
    for iset in np.unique(spots.imageset[rows]):
        r = rows[spots.imageset[rows] == iset]
        expt = sweeps[int(iset)]
        pred = predict_indexed(expt, A, hkl[r], spots.phi[r], spots.panel[r])
        ok = pred.ok
        dx.append(pred.xyzcal_px[ok, 0] - spots.xyz_px[r][ok, 0])
        dy.append(pred.xyzcal_px[ok, 1] - spots.xyz_px[r][ok, 1])
        dz.append(pred.xyzcal_px[ok, 2] - spots.xyz_px[r][ok, 2])
    if not dx or sum(len(x) for x in dx) == 0:
        return np.inf, np.inf, np.inf, 0
    x, y, z = (np.concatenate(v) for v in (dx, dy, dz))
    keep = tukey_inliers(x) & tukey_inliers(y) & tukey_inliers(z) if robust else np.ones(len(x), dtype=bool)
    x, y, z = x[keep], y[keep], z[keep]
    return float(np.sqrt(np.mean(x**2))), float(np.sqrt(np.mean(y**2))), float(np.sqrt(np.mean(z**2))), len(x)


def tukey_inliers(r: np.ndarray, iqr_multiplier: float = 3.0) -> np.ndarray:
    """(n,) bool: inside the Tukey fences Q1 - k IQR, Q3 + k IQR (k = 3, DIALS' doubled 1.5)."""
    if len(r) < 4:
        return np.ones(len(r), dtype=bool)
    q1, q3 = np.percentile(r, [25, 75])
    iqr = q3 - q1
    return (r >= q1 - iqr_multiplier * iqr) & (r <= q3 + iqr_multiplier * iqr)


__all__ = ["Spots", "rmsds_px"]
