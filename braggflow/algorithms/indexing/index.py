"""Public entry point: index(experiments, reflections, params) -> IndexingResult (dials.index)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from braggflow.algorithms.indexing.candidates import Solution, misorientation_deg
from braggflow.algorithms.indexing.known_symmetry import TargetSymmetry, primitive_cell, target_symmetry
from braggflow.algorithms.indexing.macrocycles import CycleState, build_experiments, run_macrocycles
from braggflow.algorithms.indexing.max_cell import estimate_max_cell, histogram_lines
from braggflow.algorithms.indexing.params import IndexingParams, check_params
from braggflow.algorithms.indexing.predict import predict_indexed
from braggflow.algorithms.indexing.reciprocal_space import map_to_reciprocal_space
from braggflow.algorithms.indexing.search import candidate_table_lines, find_lattice
from braggflow.algorithms.indexing.spots import Spots
from braggflow.errors import StageFailed
from braggflow.model import ExperimentList
from braggflow.model.reflections import Flags, ReflectionTable

MIN_SPOTS = 10


@dataclass(frozen=True)
class IndexingResult:
    experiments: ExperimentList  # one experiment per (lattice, sweep) with the crystal set
    reflections: ReflectionTable
    max_cell: float
    n_indexed: int
    n_unindexed: int
    log: list[str]
    candidates: list[Solution] = field(default_factory=list)  # scored candidates of the first lattice
    rmsds: list[tuple[float, float, float, int]] = field(default_factory=list)  # per lattice (px, px, frames, n)
    n_lattices: int = 1


def select_spots(reflections: ReflectionTable, n_sweeps: int, params: IndexingParams) -> ReflectionTable:
    """Rows usable for indexing: valid experiment id, and inside indexing.image_range if given."""
    for col in ("xyzobs.px.value", "id"):
        if col not in reflections:
            raise StageFailed(f"indexing: the reflection table has no '{col}' column; give the strong.refl"
                              " written by find_spots")
    ids = np.asarray(reflections["id"], dtype=np.int64)
    keep = (ids >= 0) & (ids < n_sweeps)
    if params.image_range:
        z = np.asarray(reflections["xyzobs.px.value"])[:, 2]
        in_range = np.zeros(len(z), dtype=bool)
        for j0, j1 in params.image_range:  # C-style j0 <= image < j1 on 1-based image numbers
            in_range |= (z >= j0 - 1) & (z < j1 - 1)
        keep &= in_range
    return reflections.select(keep)


def resolve_max_cell(spots: Spots, table: ReflectionTable, params: IndexingParams, target: TargetSymmetry | None,
                     log: list[str]) -> float:
    if params.max_cell is not None:
        log.append(f"Using max_cell: {params.max_cell:.1f} Angstrom")
        return float(params.max_cell)
    mult = params.max_cell_estimation.multiplier
    if target is not None and target.unit_cell is not None:
        cell = primitive_cell(target)
        value = mult * max(cell.parameters[:3])  # type: ignore[union-attr]
        log.append(f"Using max_cell: {value:.1f} Angstrom")
        return value
    res = estimate_max_cell(
        spots.rlp, spots.phi, spots.entering, spots.imageset, params.max_cell_estimation,
        bbox=np.asarray(table["bbox"]) if "bbox" in table else None,
        panel=spots.panel if "bbox" in table else None)
    log.append(f"Found max_cell: {res.max_cell:.1f} Angstrom")
    return res.max_cell


def index(experiments: ExperimentList, reflections: ReflectionTable, params: IndexingParams,
          *, refinement_params: object | None = None) -> IndexingResult:
    """Index strong spots of rotation sweeps (jointly, one orientation per lattice).

    Raises StageFailed with what was tried and why it failed (too few spots, blank sweep,
    no lattice, known cell not found).
    """
    check_params(params)
    sweeps = list(experiments)
    if not sweeps:
        raise StageFailed("indexing: no experiments given; pass the imported.expt of the sweeps")
    if len(sweeps) > 1 and params.joint_indexing is False:
        return _index_separately(sweeps, reflections, params, refinement_params)
    log: list[str] = []
    target = target_symmetry(params.known_symmetry)
    table = select_spots(reflections, len(sweeps), params)
    if len(table) < MIN_SPOTS:
        raise StageFailed(
            f"indexing: only {len(table)} spots to index (of {len(reflections)} in the table); at least"
            f" {MIN_SPOTS} are needed. Is the sweep blank? Check find_spots (spotfinder.threshold...) and"
            " indexing.image_range")
    mapped = map_to_reciprocal_space(sweeps, table)
    spots = Spots.from_table(mapped)
    max_cell = _max_cell_or_fail(spots, mapped, params, target, log)
    state, candidates = _find_all_lattices(sweeps, mapped, spots, max_cell, params, target, log,
                                           refinement_params)
    out = _output_table(mapped, state)
    elist = build_experiments(state.sweeps, state.crystals)
    out.experiment_identifiers = {i: e.identifier for i, e in enumerate(elist)}
    n_idx = state.assignment.n_indexed
    log.append(f"{n_idx} indexed reflections, {len(out) - n_idx} unindexed reflections"
               f" ({100.0 * n_idx / max(len(out), 1):.1f}% indexed)")
    return IndexingResult(elist, out, max_cell, n_idx, len(out) - n_idx, log, candidates, state.rmsds,
                          len(state.crystals))


def _index_separately(sweeps: list, reflections: ReflectionTable, params: IndexingParams,
                      refinement_params: object | None) -> IndexingResult:
    """joint_indexing=False: index every sweep on its own (own crystal models), then merge
    (experiments in sweep order, reflection ids renumbered, imageset_id = sweep)."""
    ids = np.asarray(reflections["id"], dtype=np.int64) if "id" in reflections else np.zeros(len(reflections), int)
    elist, tables, log, cands, rmsds = ExperimentList(), [], [], [], []
    max_cell, n_lat, failures = 0.0, 0, []
    for j, sweep in enumerate(sweeps):
        sub = reflections.select(ids == j)
        sub["id"] = np.zeros(len(sub), dtype=np.int32)
        sub.experiment_identifiers = {0: sweep.identifier}
        log.append(f"Indexing sweep {j} on its own (joint_indexing=False)")
        try:
            res = index(ExperimentList([sweep]), sub, params, refinement_params=refinement_params)
        except StageFailed as exc:
            log.append(f"Sweep {j}: {exc}")
            failures.append(f"sweep {j}: {exc}")
            continue
        log.extend(res.log)
        out = res.reflections
        rid = np.asarray(out["id"], dtype=np.int64)
        out["id"] = np.where(rid >= 0, rid + len(elist), -1).astype(np.int32)
        out["imageset_id"] = np.full(len(out), j, dtype=np.int32)
        out.experiment_identifiers = {}
        tables.append(out)
        elist.extend(res.experiments)
        cands = cands or res.candidates
        rmsds.extend(res.rmsds)
        max_cell, n_lat = max(max_cell, res.max_cell), n_lat + res.n_lattices
    if not tables:
        raise StageFailed("indexing: no sweep could be indexed on its own (" + "; ".join(failures) + ")")
    out = ReflectionTable.concatenate(tables)
    out.experiment_identifiers = {i: e.identifier for i, e in enumerate(elist)}
    n_idx = int(np.count_nonzero(np.asarray(out["id"]) >= 0))
    log.append(f"{n_idx} indexed reflections, {len(out) - n_idx} unindexed reflections"
               f" ({100.0 * n_idx / max(len(out), 1):.1f}% indexed)")
    return IndexingResult(elist, out, max_cell, n_idx, len(out) - n_idx, log, cands, rmsds, n_lat)


def _max_cell_or_fail(spots: Spots, table: ReflectionTable, params: IndexingParams,
                      target: TargetSymmetry | None, log: list[str]) -> float:
    try:
        return resolve_max_cell(spots, table, params, target, log)
    except StageFailed:
        raise
    except ValueError as exc:  # degenerate histogram input
        raise StageFailed(f"indexing: max_cell estimation failed ({exc}); set indexing.max_cell") from exc


def _find_all_lattices(sweeps, table, spots, max_cell, params, target, log, refinement_params
                       ) -> tuple[CycleState, list[Solution]]:  # type: ignore[no-untyped-def]
    mls = params.multiple_lattice_search
    sel = np.ones(len(spots), dtype=bool)
    crystals: list = []
    first_candidates: list[Solution] = []
    state: CycleState | None = None
    while len(crystals) < mls.max_lattices:
        try:
            found = find_lattice(spots, sel, sweeps, max_cell, params, target, log,
                                 existing=[c.A for c in crystals])
        except StageFailed as exc:
            if not crystals:
                if params.max_cell is None and target is None and "fft3d" == params.method:
                    log.extend(_nn_histogram(spots, params))
                raise
            log.append(f"Indexing remaining reflections failed ({exc}); no more suitable lattices could be found")
            break
        if any(misorientation_deg(c.A, found.best.crystal.A) < mls.minimum_angular_separation for c in crystals):
            log.append("Skipping a lattice too similar in orientation to one already found")
            break
        if not first_candidates:
            first_candidates = found.solutions
            log.extend(candidate_table_lines(found.solutions))
        crystals.append(found.best.crystal)
        if mls.max_lattices > 1:
            log.append(f"Found lattice {len(crystals)}: unit cell {_cell_str(found.best.crystal)}"
                       f" ({found.best.n_indexed} spots indexed in the search)")
        state = run_macrocycles(sweeps, crystals, table, spots, found.d_min, params, target, log,
                                refinement_params)
        sweeps, crystals, spots = state.sweeps, state.crystals, state.spots
        if len(crystals) >= mls.max_lattices:
            break
        unindexed = ~state.assignment.indexed
        n_left = _unindexed_within_resolution(spots, state.assignment)
        if n_left[0] < mls.recycle_unindexed_reflections_cutoff * n_left[1] or unindexed.sum() < MIN_SPOTS:
            log.append(f"Finish searching for more lattices: {n_left[0]} unindexed reflections remaining.")
            break
        log.append(f"Searching for another lattice in {int(unindexed.sum())} unindexed reflections")
        sel = unindexed
    assert state is not None
    return state, first_candidates


def _cell_str(crystal) -> str:  # type: ignore[no-untyped-def]
    c = crystal.unit_cell
    return f"({c.a:.3f}, {c.b:.3f}, {c.c:.3f}, {c.alpha:.3f}, {c.beta:.3f}, {c.gamma:.3f})"


def _unindexed_within_resolution(spots: Spots, asg) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(unindexed, all) spots with d above the smallest indexed d (DIALS' recycling test)."""
    if not asg.indexed.any():
        return int(len(spots)), int(len(spots))
    d = spots.d
    within = d > np.min(d[asg.indexed])
    return int(np.count_nonzero(within & ~asg.indexed)), int(np.count_nonzero(within))


def _nn_histogram(spots: Spots, params: IndexingParams) -> list[str]:
    try:
        res = estimate_max_cell(spots.rlp, spots.phi, spots.entering, spots.imageset, params.max_cell_estimation)
    except StageFailed:
        return []
    return histogram_lines(res)


def _output_table(mapped: ReflectionTable, state: CycleState) -> ReflectionTable:
    """The input rows with indexing columns (ids follow build_experiments)."""
    out = map_to_reciprocal_space(state.sweeps, mapped) if state.sweeps else mapped.copy()
    asg, spots = state.assignment, state.spots
    n_s = len(state.sweeps)
    ids = np.where(asg.indexed, asg.lattice * n_s + spots.imageset, -1)
    out["id"] = ids.astype(np.int32)
    out["miller_index"] = asg.miller_index.astype(np.int32)
    cal_mm = np.zeros((len(out), 3))
    cal_px = np.zeros((len(out), 3))
    for k, cr in enumerate(state.crystals):
        for j, sw in enumerate(state.sweeps):
            rows = np.nonzero((asg.lattice == k) & (spots.imageset == j))[0]
            if len(rows):
                pred = predict_indexed(sw, cr.A, asg.miller_index[rows], spots.phi[rows], spots.panel[rows])
                cal_mm[rows] = np.nan_to_num(pred.xyzcal_mm)
                cal_px[rows] = np.nan_to_num(pred.xyzcal_px)
    out["xyzcal.mm"] = cal_mm
    out["xyzcal.px"] = cal_px
    if "flags" not in out:
        out["flags"] = np.full(len(out), int(Flags.strong), dtype=np.uint64)
    out.unset_flags(np.ones(len(out), dtype=bool), Flags.indexed | Flags.used_in_refinement | Flags.centroid_outlier)
    out.set_flags(asg.indexed, Flags.indexed)
    if state.refinement_flags is not None:
        out["flags"] = np.asarray(out["flags"]).astype(np.uint64) | np.where(asg.indexed, state.refinement_flags, 0).astype(np.uint64)
    return out


__all__ = ["IndexingResult", "index", "resolve_max_cell", "select_spots"]
