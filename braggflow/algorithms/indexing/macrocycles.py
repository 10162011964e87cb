"""Macro-cycles: index at low resolution, refine, extend the resolution, repeat (algorithms.md 4.6).

Refinement uses braggflow.algorithms.refinement.refine when that package provides it (static
refinement of beam, detector and crystals, as DIALS does); otherwise — or if it fails — a
linear least-squares fit of each A to its indexed rlps (A only; the geometry stays fixed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from braggflow.algorithms.indexing.assign import Assignment, assign_indices
from braggflow.algorithms.indexing.candidates import refine_linear
from braggflow.algorithms.indexing.known_symmetry import TargetSymmetry, symmetrize_A
from braggflow.algorithms.indexing.misindexing import best_offset, intensity_column, offset_correlations, table_lines
from braggflow.algorithms.indexing.params import IndexingParams
from braggflow.algorithms.indexing.reciprocal_space import map_to_reciprocal_space
from braggflow.algorithms.indexing.spots import Spots, rmsds_px
from braggflow.errors import StageFailed
from braggflow.model import Crystal, Experiment, ExperimentList, new_identifier
from braggflow.model.reflections import Flags, ReflectionTable


@dataclass(frozen=True)
class CycleState:
    sweeps: list[Experiment]  # geometry (possibly refined), one per input imageset
    crystals: list[Crystal]
    spots: Spots
    assignment: Assignment
    rmsds: list[tuple[float, float, float, int]]  # per lattice: px, px, frames, n
    refinement_flags: np.ndarray | None = None  # per spot: used_in_refinement / centroid_outlier bits


def d_min_schedule(d_min_first: float, d_min_all: float, params: IndexingParams) -> list[float]:
    """Resolution limit of each macro-cycle (coarse to fine)."""
    rp = params.refinement_protocol
    n = rp.n_macro_cycles
    start = rp.d_min_start if rp.d_min_start is not None else d_min_first
    final = max(rp.d_min_final if rp.d_min_final is not None else d_min_all, d_min_all)
    start = max(start, final)
    step = rp.d_min_step if rp.d_min_step is not None else ((start - final) / (n - 1) if n > 1 else 0.0)
    out, d = [], start
    for _ in range(n):
        out.append(d)
        d = max(d - step, final)
    return out


def build_experiments(sweeps: list[Experiment], crystals: list[Crystal]) -> ExperimentList:
    """One experiment per (lattice, sweep), id = lattice * n_sweeps + sweep, new identifiers."""
    out = ExperimentList()
    for cr in crystals:
        for sw in sweeps:
            out.append(sw.replace(crystal=cr, identifier=new_identifier()))
    return out


class RefinementReport(str):
    """A log line that also carries a macro-cycle's RefinementResult: it prints as its text and
    the index program shows the refinement tables after it (as dials.index does)."""

    result: Any

    rows: np.ndarray  # spot rows of result.reflections

    def __new__(cls, text: str, result: Any, rows: np.ndarray) -> "RefinementReport":
        obj = super().__new__(cls, text)
        obj.result, obj.rows = result, rows
        return obj


def _refiner():  # type: ignore[no-untyped-def]
    try:
        from braggflow.algorithms.refinement import RefinementParams, refine  # type: ignore[attr-defined]
    except ImportError:
        return None
    return refine, RefinementParams


def refine_cycle(sweeps: list[Experiment], crystals: list[Crystal], spots: Spots, asg: Assignment,
                 table: ReflectionTable, params: IndexingParams, target: TargetSymmetry | None,
                 d_min: float, log: list[str], refinement_params: object | None = None, cycle: int = 1
                 ) -> tuple[list[Experiment], list[Crystal]]:
    """Refine the models on the indexed spots (d >= d_min). Returns (sweeps, crystals)."""
    if params.refinement_protocol.mode != "refine_shells":
        return sweeps, crystals
    found = _refiner()
    if found is not None:
        refine, RefinementParams = found
        rparams = refinement_params if refinement_params is not None else RefinementParams()
        elist = build_experiments(sweeps, crystals)
        rows = np.nonzero(asg.indexed)[0]
        sub = table.select(rows)
        sub["id"] = (asg.lattice[rows] * len(sweeps) + spots.imageset[rows]).astype(np.int32)
        sub["miller_index"] = asg.miller_index[rows]
        sub.experiment_identifiers = {i: e.identifier for i, e in enumerate(elist)}
        sub.set_flags(np.ones(len(sub), dtype=bool), Flags.indexed)
        try:
            result = refine(elist, sub, rparams)
        except StageFailed as exc:
            log.append(f"Refinement failed ({exc}); using a linear fit of the crystal model instead")
        else:
            log.append(RefinementReport(f"Refinement (macro-cycle {cycle}, d_min {d_min:.2f} A):", result, rows))
            new = list(result.experiments)
            n_s = len(sweeps)
            return [new[j] for j in range(n_s)], [new[k * n_s].crystal for k in range(len(crystals))]
    if found is None and not any("linear fit" in line for line in log):
        log.append("braggflow.algorithms.refinement is not available: refining A by a linear fit only")
    tol = params.index_assignment.simple.hkl_tolerance
    out = []
    for k, cr in enumerate(crystals):
        others = [c.A for i, c in enumerate(crystals) if i != k]
        eligible = (spots.d >= d_min) & ((asg.lattice == k) | (asg.lattice < 0) if others else True)
        A, _, _ = refine_linear(cr.A, spots, eligible, tol, target=target, n_cycles=2)
        out.append(cr.replace(A=A))
    return sweeps, out


def run_macrocycles(sweeps: list[Experiment], crystals: list[Crystal], table: ReflectionTable, spots: Spots,
                    d_min_first: float, params: IndexingParams, target: TargetSymmetry | None, log: list[str],
                    refinement_params: object | None = None) -> CycleState:
    """Index and refine in resolution shells; returns the final state (all spots assigned)."""
    tol = params.index_assignment.simple.hkl_tolerance
    d_all = float(np.min(spots.d))
    schedule = d_min_schedule(d_min_first, d_all, params)
    volumes = [c.unit_cell.volume for c in crystals]
    asg = None
    for cycle, d_min in enumerate(schedule):
        if cycle > 0:
            log.append(f"Increasing resolution to {d_min:.1f} Angstrom")
        asg = assign_indices(spots.rlp, spots.phi, [c.A for c in crystals], hkl_tolerance=tol,
                             eligible=spots.d >= d_min, imageset_id=spots.imageset)
        log.append(f"Macro-cycle {cycle + 1}: {asg.n_indexed} indexed, {len(spots) - asg.n_indexed} unindexed"
                   f" (d_min {d_min:.2f} A)")
        if cycle == 0 and params.check_misindexing.grid_search_scope > 0:
            asg = correct_misindexing(asg, crystals, table, params.check_misindexing.grid_search_scope, log,
                                      can_refine=params.refinement_protocol.mode == "refine_shells")
        new_sweeps, crystals = refine_cycle(sweeps, crystals, spots, asg, table, params, target, d_min, log,
                                            refinement_params, cycle=cycle + 1)
        if target is not None:
            crystals = [c.replace(A=symmetrize_A(c.A, target.space_group)) for c in crystals]
        _check_volumes(volumes, crystals, params)
        volumes = [c.unit_cell.volume for c in crystals]
        if new_sweeps is not sweeps:
            sweeps = new_sweeps
            mapped = map_to_reciprocal_space(sweeps, table)
            spots = Spots.from_table(mapped)
        if cycle >= 2 and d_min <= schedule[-1]:
            break
    asg = assign_indices(spots.rlp, spots.phi, [c.A for c in crystals], hkl_tolerance=tol,
                         eligible=spots.d >= schedule[-1], imageset_id=spots.imageset)
    rmsds = [rmsds_px(sweeps, c.A, spots, asg.miller_index, np.nonzero(asg.lattice == k)[0])
             for k, c in enumerate(crystals)]
    return CycleState(sweeps, crystals, spots, asg, rmsds, _last_refinement_flags(log, len(spots)))


def _last_refinement_flags(log: list[str], n: int) -> np.ndarray | None:
    """The used_in_refinement / centroid_outlier bits of the last macro-cycle refinement, per
    spot (DIALS writes them to indexed.refl), or None without refinement."""
    report = next((e for e in reversed(log) if isinstance(e, RefinementReport)), None)
    if report is None:
        return None
    bits = np.uint64(int(Flags.used_in_refinement | Flags.centroid_outlier))
    out = np.zeros(n, dtype=np.uint64)
    out[report.rows] = np.asarray(report.result.reflections["flags"]).astype(np.uint64) & bits
    return out


def correct_misindexing(asg: Assignment, crystals: list[Crystal], table: ReflectionTable, scope: int,
                        log: list[str], *, can_refine: bool = True) -> Assignment:
    """Shift the indices of each lattice by the h,k,l offset whose symmetry mates correlate
    (misindexing.py); refinement then moves the geometry to the corrected origin. Without
    refinement (can_refine False) the offset is only reported: the model could not follow."""
    intensity = intensity_column(table)
    if intensity is None:
        log.append("check_misindexing: no varying intensity.sum.value column; the h,k,l origin is not checked")
        return asg
    hkl = asg.miller_index.copy()
    for k, cr in enumerate(crystals):
        rows = np.nonzero(asg.lattice == k)[0]
        results = offset_correlations(hkl[rows], intensity[rows], scope, cr.space_group)
        log.extend(table_lines(results))
        best = best_offset(results)
        if best is None:
            continue
        if not can_refine:
            log.append(f"h,k,l offset ({best.offset[0]}, {best.offset[1]}, {best.offset[2]}) [cc = {best.cc:.2f}]"
                       f" found for lattice {k + 1} but not applied: it needs"
                       " indexing.refinement_protocol.mode=refine_shells to correct the geometry")
            continue
        log.append(f"Applying h,k,l offset: ({best.offset[0]}, {best.offset[1]}, {best.offset[2]})"
                   f" [cc = {best.cc:.2f}] to lattice {k + 1}")
        hkl[rows] += np.array(best.offset, dtype=hkl.dtype)
    return Assignment(hkl, asg.lattice, asg.eps_sq)


def _check_volumes(before: list[float], crystals: list[Crystal], params: IndexingParams) -> None:
    if params.refinement_protocol.disable_unit_cell_volume_sanity_check:
        return
    for v0, c in zip(before, crystals):
        v1 = c.unit_cell.volume
        if abs(v1 - v0) / v0 > 0.5:
            raise StageFailed(
                f"indexing: refinement changed the unit cell volume from {v0:.0f} to {v1:.0f} A^3 (> 50%);"
                " the lattice is probably wrong. Check the geometry, or set"
                " indexing.refinement_protocol.disable_unit_cell_volume_sanity_check=True")


__all__ = ["CycleState", "build_experiments", "correct_misindexing", "d_min_schedule", "refine_cycle", "run_macrocycles"]
