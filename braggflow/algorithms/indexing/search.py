"""Find one lattice: basis-vector search, candidate bases, evaluation and scoring (4.3-4.4)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from braggflow.algorithms.indexing.basis import candidate_crystals
from braggflow.algorithms.indexing.candidates import (
    Solution, evaluate, same_lattice, same_lattice_any, score_solutions, to_target_setting)
from braggflow.algorithms.indexing.fft1d import fft1d_search
from braggflow.algorithms.indexing.fft3d import fft3d_search
from braggflow.algorithms.indexing.known_symmetry import TargetSymmetry, cell_may_match, primitive_cell
from braggflow.algorithms.indexing.params import IndexingParams
from braggflow.algorithms.indexing.real_space_grid_search import real_space_grid_search
from braggflow.algorithms.indexing.spots import Spots
from braggflow.errors import StageFailed
from braggflow.model import Experiment

FEW_SPOTS = 200


@dataclass(frozen=True)
class LatticeSearch:
    best: Solution
    solutions: list[Solution]  # scored, best first
    d_min: float  # resolution limit of the spots used in the search


def basis_vectors(spots: Spots, sel: np.ndarray, max_cell: float, params: IndexingParams,
                  target: TargetSymmetry | None, log: list[str]) -> tuple[np.ndarray, float]:
    """Candidate real-space vectors (k, 3) and the d_min of the spots used."""
    rlp = spots.rlp[sel]
    if params.method == "fft3d":
        res = fft3d_search(rlp, max_cell, params.fft3d, min_cell=params.min_cell)
        log.append(f"Setting d_min: {res.d_min:.2f}")
        log.append(f"FFT gridding: ({res.n_points},{res.n_points},{res.n_points})")
        log.append(f"Number of centroids used: {res.n_used}")
        vectors = res.candidates.vectors
        if res.n_used < FEW_SPOTS:  # the 3D map is noise-dominated with few spots: add 1D FFT vectors
            extra = fft1d_search(rlp, max_cell, params.fft1d, min_cell=params.min_cell).candidates.vectors
            log.append(f"Only {res.n_used} centroids: adding {len(extra)} fft1d candidate vectors")
            vectors = np.vstack([vectors, extra]) if len(vectors) else extra
        return vectors, res.d_min
    if params.method == "fft1d":
        res1 = fft1d_search(rlp, max_cell, params.fft1d, min_cell=params.min_cell)
        log.append(f"Setting d_min: {res1.d_min:.2f}")
        log.append(f"Number of centroids used: {res1.n_used}")
        return res1.candidates.vectors, res1.d_min
    assert target is not None and target.unit_cell is not None  # checked by check_params
    cell = primitive_cell(target)
    lengths = sorted({round(v, 3) for v in cell.parameters[:3]})  # type: ignore[union-attr]
    d_min = float(np.min(spots.d[sel]))
    res2 = real_space_grid_search(rlp, lengths, params.real_space_grid_search)
    log.append(f"Indexing from {len(rlp)} reflections")
    log.append(f"Number of unique vectors: {len(res2)}")
    return res2.vectors, d_min


def find_lattice(spots: Spots, sel: np.ndarray, sweeps: list[Experiment], max_cell: float,
                 params: IndexingParams, target: TargetSymmetry | None, log: list[str],
                 existing: list[np.ndarray] | None = None) -> LatticeSearch:
    """Search the selected spots for one lattice; raises StageFailed if none is acceptable."""
    vectors, d_min = basis_vectors(spots, sel, max_cell, params, target, log)
    if len(vectors) < 3:
        raise StageFailed(
            f"indexing: only {len(vectors)} candidate basis vectors found from {int(sel.sum())} spots"
            f" (method {params.method}, max_cell {max_cell:.1f} A); check indexing.max_cell and the beam centre")
    is_still = all(e.scan is None or e.scan.oscillation_width_deg == 0 for e in sweeps)
    max_refine = params.basis_vector_combinations.max_refine or (5 if is_still else 50)
    eligible = sel & (spots.d >= d_min)
    solutions: list[Solution] = []
    tried: list[np.ndarray] = []
    rejected: list[np.ndarray] = []
    n_seen = 0
    for crystal in candidate_crystals(vectors, max_combinations=params.basis_vector_combinations.max_combinations,
                                      min_cell_volume=params.min_cell_volume):
        n_seen += 1
        if n_seen > 40 * max_refine or len(tried) >= max_refine:
            break
        if same_lattice_any(rejected[-500:], crystal.A, tol=0.2):
            continue
        if not cell_may_match(crystal, target, params.known_symmetry):
            rejected.append(crystal.A)
            continue
        p1 = crystal
        crystal = to_target_setting(crystal, target, params)
        if crystal is None:
            rejected.append(p1.A)
            continue
        if same_lattice_any(tried, crystal.A, tol=0.2):
            continue
        if existing and any(same_lattice(t, crystal.A) for t in existing):
            continue
        tried.append(crystal.A)
        sol = evaluate(crystal, spots, sweeps, eligible, params, target)
        if sol is not None and not any(same_lattice(s.crystal.A, sol.crystal.A) for s in solutions):
            solutions.append(sol)
    if not solutions:
        what = "consistent with the known symmetry " if target is not None else ""
        raise StageFailed(
            f"indexing: no suitable lattice {what}could be found: {len(tried)} candidate bases from"
            f" {len(vectors)} vectors ({params.method}, {int(eligible.sum())} spots to {d_min:.2f} A) all"
            f" indexed < 5 spots or had RMSD > 6 px; check the geometry (beam centre, distance),"
            " indexing.max_cell, or try another indexing.method")
    scored = score_solutions(solutions, params)
    return LatticeSearch(scored[0], scored, d_min)


def candidate_table_lines(solutions: list[Solution]) -> list[str]:
    """The 'Candidate solutions' table as text lines (DIALS' columns)."""
    head = (f"{'unit_cell':<36} {'volume':>8} {'vol score':>9} {'#indexed':>8} {'% indexed':>9}"
            f" {'% score':>7} {'rmsd_xy':>7} {'rmsd score':>10} {'overall':>7}")
    lines = ["Candidate solutions:", head]
    for s in solutions:
        c = s.crystal.unit_cell
        cell = f"{c.a:.2f} {c.b:.2f} {c.c:.2f} {c.alpha:.1f} {c.beta:.1f} {c.gamma:.1f}"
        lines.append(f"{cell:<36} {s.volume:8.0f} {s.scores[0]:9.2f} {s.n_indexed:8d}"
                     f" {100 * s.fraction_indexed:9.0f} {s.scores[1]:7.2f} {s.rmsd_xy_px:7.2f}"
                     f" {s.scores[2]:10.2f} {s.score:7.2f}")
    return lines


__all__ = ["LatticeSearch", "basis_vectors", "candidate_table_lines", "find_lattice"]
