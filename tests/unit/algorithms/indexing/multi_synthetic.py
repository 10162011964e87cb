"""Synthetic data for multi-sweep, multi-lattice and misindexing tests (read-only use of
indexing_synthetic; no images, spots straight from prediction)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from braggflow.model import Crystal, Experiment, ExperimentList, Goniometer, Scan
from braggflow.model._vec import rotation_matrix
from braggflow.model.reflections import ReflectionTable

from indexing_synthetic import make_sweep, simulate_spots

KAPPA_AXIS = (0.7660444, 0.0, 0.6427876)  # 50 degrees from the omega axis (1, 0, 0)


def kappa_sweep(*, n_images: int = 30, start_deg: float = 0.0, kappa_deg: float = 0.0,
                phi_deg: float = 0.0) -> Experiment:
    """A sweep about (1, 0, 0) with F = R(kappa axis, kappa) R(x, phi): a second crystal
    setting of the same mounted crystal (the crystal model A is defined before F)."""
    expt = make_sweep(n_images=n_images, start_deg=start_deg)
    F = rotation_matrix(np.array(KAPPA_AXIS), np.radians(kappa_deg)) @ rotation_matrix(
        np.array([1.0, 0.0, 0.0]), np.radians(phi_deg))
    return expt.replace(goniometer=Goniometer(rotation_axis=(1, 0, 0), fixed_rotation=F))


def wedge_sweep(*, n_images: int = 30, start_deg: float = 0.0, like: Experiment | None = None) -> Experiment:
    """A sweep sharing beam, detector and goniometer with `like` (second wedge of one mount)."""
    expt = make_sweep(n_images=n_images, start_deg=start_deg)
    if like is None:
        return expt
    return expt.replace(beam=like.beam, detector=like.detector, goniometer=like.goniometer,
                        scan=Scan(image_range=(1, n_images), oscillation_start_deg=start_deg,
                                  oscillation_width_deg=expt.scan.oscillation_width_deg))


def multi_sweep_spots(sweeps: list[Experiment], crystal: Crystal, d_min: float, rng: np.random.Generator,
                      **kw: object) -> ReflectionTable:
    """Strong spots of one crystal in several sweeps, `id` = sweep index."""
    tables = [simulate_spots(e, crystal, d_min, rng, experiment_id=i, **kw) for i, e in enumerate(sweeps)]
    out = ReflectionTable.concatenate(tables)
    out.experiment_identifiers = {i: e.identifier for i, e in enumerate(sweeps)}
    return out


def two_lattice_spots(sweep: Experiment, crystals: list[Crystal], d_min: float, rng: np.random.Generator,
                      max_spots: list[int], **kw: object) -> tuple[ReflectionTable, np.ndarray]:
    """Strong spots of several crystals in one sweep; returns (table, true lattice of each row)."""
    tables, truth = [], []
    for k, (cr, n) in enumerate(zip(crystals, max_spots)):
        t = simulate_spots(sweep, cr, d_min, rng, max_spots=n, **kw)
        tables.append(t)
        truth.append(np.full(len(t), k))
    out = ReflectionTable.concatenate(tables)
    out.experiment_identifiers = {0: sweep.identifier}
    return out, np.concatenate(truth)


def write_inputs(tmp: Path, sweeps: list[Experiment], table: ReflectionTable) -> tuple[Path, Path]:
    """imported.expt (sweeps without crystals) and strong.refl written with braggflow's writers."""
    from braggflow.formats.expt_io import write_experiments
    from braggflow.formats.refl_io import write_refl

    expt, refl = tmp / "imported.expt", tmp / "strong.refl"
    write_experiments(ExperimentList(sweeps), expt)
    write_refl(table, refl)
    return expt, refl


def true_indices(sweeps: list[Experiment], table: ReflectionTable, crystal: Crystal) -> np.ndarray:
    """(n, 3) nearest integer indices of each spot under the true crystal and geometry."""
    from braggflow.algorithms.indexing.reciprocal_space import map_to_reciprocal_space

    t = map_to_reciprocal_space(sweeps, table)
    return np.rint(np.asarray(t["rlp"]) @ np.linalg.inv(crystal.A).T).astype(np.int64)


def wilson_intensities(hkl: np.ndarray, rng: np.random.Generator, *, noise: float = 0.1) -> np.ndarray:
    """Random acentric (exponential) intensities obeying Friedel's law, I(h) = I(-h), with
    `noise` relative measurement error (P1 structure factors of a random structure)."""
    positive = (hkl[:, 0] > 0) | ((hkl[:, 0] == 0) & (hkl[:, 1] > 0)) | (
        (hkl[:, 0] == 0) & (hkl[:, 1] == 0) & (hkl[:, 2] > 0))
    key = np.where(positive[:, None], hkl, -hkl)
    _, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.ravel()
    mean = rng.exponential(1000.0, inv.max() + 1)
    return mean[inv] * rng.normal(1.0, noise, len(inv))
