"""Test data for the export tests: the DIALS l-cysteine files and a synthetic triclinic sweep."""

from __future__ import annotations

from pathlib import Path

import gemmi
import numpy as np

from braggflow.model import Beam, Crystal, Detector, Experiment, Goniometer, Panel, Scan
from braggflow.model._vec import rotation_matrix
from braggflow.model.reflections import Flags, ReflectionTable

DATA = Path(__file__).resolve().parents[3] / "data"
L_CYS_EXPT = DATA / "experiments" / "l_cysteine_integrated.expt"
L_CYS_REFL = DATA / "reflections" / "l_cysteine_sweep4_integrated.refl"
L_CYS_DIALS_MTZ = DATA / "mtz" / "l_cysteine_dials312_integrated.mtz"


def synthetic_experiment(first_image: int = 1, n_images: int = 10, phi0: float = 12.0, batch_offset: int = 0) -> Experiment:
    """A triclinic crystal in a non-trivial orientation on a tilted single axis."""
    cell = gemmi.UnitCell(31.0, 42.0, 57.0, 81.0, 97.0, 104.0)
    u = rotation_matrix(np.array([0.3, -0.5, 0.8]), 0.7)
    panel = Panel(
        fast_axis=np.array([1.0, 0.0, 0.0]), slow_axis=np.array([0.0, -1.0, 0.0]),
        origin=np.array([-100.0, 100.0, -200.0]), pixel_size=(0.1, 0.1), image_size=(2000, 2000),
    )
    return Experiment(
        beam=Beam(direction=np.array([0.01, 0.0, 1.0]), wavelength=0.9795),
        detector=Detector(panels=(panel,)),
        goniometer=Goniometer(rotation_axis=np.array([1.0, 0.02, 0.0])),
        scan=Scan(image_range=(first_image, first_image + n_images - 1), oscillation_start_deg=phi0,
                  oscillation_width_deg=0.5, batch_offset=batch_offset),
        crystal=Crystal.from_cell_and_u(cell, u, "P 1"),
    )


def synthetic_table(n: int = 12, experiment_id: int = 0, identifier: str | None = None, seed: int = 42) -> ReflectionTable:
    """n integrated reflections with every column export reads; all pass the default filters."""
    rng = np.random.default_rng(seed)
    hkl = rng.integers(-9, 10, size=(n, 3))
    hkl[np.all(hkl == 0, axis=1)] = (1, 2, 3)
    z = rng.uniform(0.0, 9.99, n)
    table = ReflectionTable(
        {
            "id": np.full(n, experiment_id),
            "miller_index": hkl,
            "flags": np.full(n, int(Flags.integrated_sum | Flags.integrated_prf), dtype=np.uint64),
            "intensity.sum.value": rng.uniform(100, 1000, n),
            "intensity.sum.variance": rng.uniform(50, 200, n),
            "intensity.prf.value": rng.uniform(100, 1000, n),
            "intensity.prf.variance": rng.uniform(50, 200, n),
            "background.sum.value": rng.uniform(1, 10, n),
            "background.sum.variance": rng.uniform(1, 4, n),
            "lp": rng.uniform(0.2, 1.0, n),
            "qe": rng.uniform(0.5, 0.9, n),
            "partiality": np.full(n, 0.999),
            "partial_id": np.arange(n, dtype=np.uint64),
            "xyzcal.px": np.column_stack([rng.uniform(0, 2000, n), rng.uniform(0, 2000, n), z]),
            "xyzobs.px.value": np.column_stack([rng.uniform(0, 2000, n), rng.uniform(0, 2000, n), z + 0.001]),
        },
        experiment_identifiers={experiment_id: identifier} if identifier else None,
    )
    return table
