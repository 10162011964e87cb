"""Synthetic unmerged data with known truth (tests and benchmarks).

Unique reflections of a space group (gemmi), Wilson-distributed true intensities, expanded
to symmetry equivalents and Friedel mates, observed on batches with a smooth per-batch scale
and a B decay, plus Poisson-like noise. Systematically absent axial reflections are observed
too (true intensity 0), so screw axes can be detected.
"""

from __future__ import annotations

from dataclasses import dataclass

import gemmi
import numpy as np

from braggflow.algorithms.merging.unmerged import BatchInfo, UnmergedData

__all__ = ["SyntheticTruth", "simulate_unmerged"]


@dataclass
class SyntheticTruth:
    asu_hkl: np.ndarray
    intensity: np.ndarray  # true, in the ASU order of asu_hkl
    batch_scale: np.ndarray  # g per batch (index batch-1) at d = inf
    b_per_batch: np.ndarray


def simulate_unmerged(space_group: str, cell: tuple, *, d_min: float = 2.5, n_batches: int = 90, multiplicity: float = 4.0,
                      scale_amplitude: float = 0.3, b_range: float = 4.0, noise: float = 1.0, background: float = 20.0,
                      seed: int = 1, label_space_group: str | None = None) -> tuple[UnmergedData, SyntheticTruth]:
    rng = np.random.default_rng(seed)
    sg = gemmi.SpaceGroup(space_group)
    uc = gemmi.UnitCell(*cell)
    ops = sg.operations()
    uniq = gemmi.make_miller_array(uc, sg, d_min, 0.0, True).astype(np.int32)
    # add systematically absent axial reflections (true I = 0)
    big = gemmi.make_miller_array(uc, gemmi.SpaceGroup(f"{sg.centring_type()} 1"), d_min, 0.0, True).astype(np.int32) if sg.centring_type() != "R" else np.zeros((0, 3), np.int32)
    absent = big[np.asarray(ops.systematic_absences(big), bool)] if len(big) else big
    centring_absent = np.asarray(gemmi.SpaceGroup(f"{sg.centring_type()} 1").operations().systematic_absences(absent), bool) if len(absent) else np.zeros(0, bool)
    absent = absent[~centring_absent] if len(absent) else absent
    d = np.asarray(uc.calculate_d_array(uniq))
    eps = np.asarray(ops.epsilon_factor_without_centering_array(uniq), float)
    centric = np.asarray(ops.centric_flag_array(uniq), bool)
    mean = 5000.0 * np.exp(-2 * 20.0 / (4 * d**2)) * eps
    true = np.where(centric, mean * rng.standard_normal(len(uniq)) ** 2, rng.exponential(mean))
    all_hkl = np.concatenate([uniq, absent]) if len(absent) else uniq
    all_true = np.concatenate([true, np.zeros(len(absent))]) if len(absent) else true
    # equivalents (incl. Friedel) of every reflection
    rots = [np.array(op.rot, dtype=np.int64) // op.DEN for op in ops.sym_ops]
    obs_h, obs_src = [], []
    n_eq = 2 * len(rots)
    p_keep = min(1.0, multiplicity / n_eq)
    for k, R in enumerate(rots):
        for sign in (1, -1):
            h = sign * (all_hkl.astype(np.int64) @ R)
            keep = rng.random(len(all_hkl)) < p_keep
            obs_h.append(h[keep])
            obs_src.append(np.flatnonzero(keep))
    hkl = np.concatenate(obs_h).astype(np.int32)
    src = np.concatenate(obs_src)
    n = len(hkl)
    batch = rng.integers(1, n_batches + 1, n).astype(np.int32)
    phi = batch - rng.random(n)
    batches = np.arange(1, n_batches + 1)
    g_batch = 1.0 + scale_amplitude * np.sin(2 * np.pi * (batches - 0.5) / max(n_batches, 1) * 1.3)
    b_batch = -b_range * (batches - 1) / max(n_batches - 1, 1)
    d_obs = np.asarray(uc.calculate_d_array(hkl))
    g = g_batch[batch - 1] * np.exp(b_batch[batch - 1] / (2 * d_obs**2))
    signal = all_true[src] * g
    sigma = np.sqrt(np.maximum(signal, 0) + background) * noise
    intensity = signal + sigma * rng.standard_normal(n)
    label = gemmi.SpaceGroup(label_space_group) if label_space_group else sg
    data = UnmergedData(hkl=hkl, intensity=intensity, sigma=sigma, batch=batch, cell=uc, space_group=label, rot_deg=phi,
                        wavelength=1.0, batches={int(b): BatchInfo(float(b - 1), float(b)) for b in batches}, source="synthetic")
    truth = SyntheticTruth(uniq, true, g_batch, b_batch)
    return data, truth
