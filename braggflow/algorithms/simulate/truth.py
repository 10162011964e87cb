"""The ground truth as reflection tables and an MTZ object.

truth.refl (one row per reflection event):
  miller_index, id, panel, flags (predicted), s1, xyzcal.px, xyzcal.mm (phi in rad), entering,
  d, zeta, lp (= 1/(L P), DIALS's correction), intensity.true (I_true),
  counts.expected (= I_true x scale x L x P: photons in the whole spot, all images),
  partiality (fraction of the rocking curve on the scan's images),
  rocking_sigma_deg (sigma_m / |zeta|), image_first/image_last (1-based images with fraction > 0).
truth_partials.refl (one row per reflection and image it reaches):
  miller_index, id, panel, partial_id (row of truth.refl), image (1-based), fraction,
  counts.expected (photons of the spot on that image), xyzcal.px (the spot's x, y; z = image
  centre n - 0.5).
"""

from __future__ import annotations

import gemmi
import numpy as np

from braggflow.algorithms.simulate.intensities import TrueIntensities
from braggflow.algorithms.simulate.sweep import Simulation
from braggflow.model.reflections import Flags, ReflectionTable

__all__ = ["truth_table", "partials_table", "truth_mtz"]


def truth_table(sim: Simulation) -> ReflectionTable:
    r = sim.reflections
    i0 = sim.experiment.scan.image_range[0]
    first = np.full(len(r), np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(len(r), -1, dtype=np.int64)
    np.minimum.at(first, r.partial_refl, r.partial_image)
    np.maximum.at(last, r.partial_refl, r.partial_image)
    n = len(r)
    return ReflectionTable(
        {
            "miller_index": r.miller_index,
            "id": np.zeros(n, dtype=np.int32),
            "panel": r.panel.astype(np.uint64),
            "flags": np.full(n, int(Flags.predicted), dtype=np.uint64),
            "s1": r.s1,
            "xyzcal.px": r.xyzcal_px,
            "xyzcal.mm": r.xyzcal_mm,
            "entering": r.entering,
            "d": r.d,
            "zeta": r.zeta,
            "lp": r.lp,
            "intensity.true": r.intensity,
            "counts.expected": r.counts,
            "partiality": r.partiality,
            "rocking_sigma_deg": np.degrees(r.sigma_phi_rad),
            "image_first": (first + i0).astype(np.int32),
            "image_last": (last + i0).astype(np.int32),
        },
        experiment_identifiers={0: sim.experiment.identifier},
    )


def partials_table(sim: Simulation) -> ReflectionTable:
    r = sim.reflections
    rows = r.partial_refl
    i0 = sim.experiment.scan.image_range[0]
    xyz = r.xyzcal_px[rows].copy()
    xyz[:, 2] = r.partial_image + 0.5
    return ReflectionTable(
        {
            "miller_index": r.miller_index[rows],
            "id": np.zeros(len(rows), dtype=np.int32),
            "panel": r.panel[rows].astype(np.uint64),
            "partial_id": rows.astype(np.uint64),
            "image": (r.partial_image + i0).astype(np.int32),
            "fraction": r.partial_fraction,
            "counts.expected": r.counts[rows] * r.partial_fraction,
            "xyzcal.px": xyz,
        },
        experiment_identifiers={0: sim.experiment.identifier},
    )


def truth_mtz(t: TrueIntensities) -> gemmi.Mtz:
    """Unique reflections (gemmi ASU) with I (mean of I(+), I(-)) and, if anomalous, I(+), I(-)."""
    mtz = gemmi.Mtz(with_base=True)
    mtz.spacegroup = t.space_group
    mtz.set_cell_for_all(t.cell)
    mtz.add_dataset("simulated")
    mtz.add_column("I", "J")
    if t.anomalous:
        mtz.add_column("I(+)", "K")
        mtz.add_column("I(-)", "K")
    mean = 0.5 * (t.intensity_plus + t.intensity_minus)
    cols = [t.miller_index.astype(np.float32), mean[:, None]]
    if t.anomalous:
        cols += [t.intensity_plus[:, None], t.intensity_minus[:, None]]
    mtz.set_data(np.hstack(cols).astype(np.float32))
    mtz.history = ["braggflow.simulate: true intensities"]
    return mtz
