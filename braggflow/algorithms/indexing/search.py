"""Find one lattice: basis-vector search, candidate bases, evaluation and scoring (4.3-4.4)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from braggflow.algorithms.indexing.basis import candidate_crystals, niggli_reduce
from braggflow.algorithms.indexing.candidates import (
    Solution, evaluate, same_lattice, same_lattice_any, score_solutions, to_target_setting)
from braggflow.algorithms.indexing.fft1d import fft1d_search
from braggflow.algorithms.indexing.fft3d import fft3d_search
from braggflow.algorithms.indexing.known_symmetry import TargetSymmetry, cell_may_match, primitive_cell
from braggflow.algorithms.indexing.params import IndexingParams
from braggflow.algorithms.indexing.real_space_grid_search import real_space_grid_search
from braggflow.algorithms.indexing.spots import Spots
from braggflow.errors import StageFailed
from braggflow.model import Crystal, Experiment

FEW_SPOTS = 200  # below this many spots a failed fft3d peak search falls back to fft1d
MAX_ABSENCE_CORRECTIONS = 8
# two candidate bases are "the same lattice" if A1^-1 A2 is within this of an integer matrix.
# 0.2 merged a basis whose c was 2.7 A (2 deg) off with the right one, and the right one was
# then never evaluated (hP 56 x 73 A, bench_indexing_matrix --seed 2); FFT vectors of the same
# lattice agree to ~0.01.
DUPLICATE_TOL = 0.05


def _is_collinear(x: tuple[int, ...], y: tuple[int, ...]) -> bool:
    return not np.any(np.cross(x, y))


def _absence_transforms() -> list[tuple[np.ndarray, int, np.ndarray]]:
    """(vec, mod, T) for the presence conditions vec . h = 0 mod m (m = 2, 3, 5; |vec|^2 <= 6),
    T (det m) turning the reciprocal basis into the sublattice basis (Sauter et al. 2004 2.5,
    the table rstbx/DIALS use in non_primitive_basis)."""
    mods = (2, 3, 5)
    r = range(max(mods), -max(mods) - 1, -1)
    spiral = sorted(((a, b, c) for a in r for b in r for c in r), key=lambda v: (sum(x * x for x in v), -sum(v)))
    spiral.remove((0, 0, 0))
    pts = np.array(spiral, dtype=np.int64)
    reps: list[tuple[int, ...]] = []
    for v in spiral:
        if sum(x * x for x in v) > 6:
            break
        if not any(_is_collinear(v, q) for q in reps):
            reps.append(v)
    out = []
    for vec in reps:
        dots = pts @ np.array(vec)
        for mod in mods:
            allowed = pts[dots % mod == 0]
            first = allowed[0]
            second = next(p for p in allowed[1:] if np.any(np.cross(first, p)))
            third = next(p for p in allowed[1:] if np.dot(np.cross(first, second), p) != 0)
            T = np.array([first, second, third], dtype=np.float64)
            if np.linalg.det(T) < 0:
                T = np.array([second, first, third], dtype=np.float64)
            out.append((np.array(vec), mod, T))
    return out


_ABSENCE_TRANSFORMS = _absence_transforms()


_UNIQUE_VECS = np.unique(np.array([v for v, _, _ in _ABSENCE_TRANSFORMS]), axis=0)  # (37, 3)
_VEC_ROW = {tuple(v): i for i, v in enumerate(_UNIQUE_VECS.tolist())}
_TEST_ORDER = [(_VEC_ROW[tuple(v.tolist())], m) for v, m, _ in _ABSENCE_TRANSFORMS]
ABSENCE_SAMPLE = 1500  # indices enough to measure a > 90 % presence condition (sd ~1 %)


def detect_absences(hkl: np.ndarray, threshold: float) -> np.ndarray | None:
    """T (3, 3) if more than `threshold` of the indices obey one presence condition
    vec . h = 0 mod m (first in table order), else None."""
    n = len(hkl)
    if n == 0:
        return None
    n_vec = len(_UNIQUE_VECS)
    residue = (np.asarray(hkl, dtype=np.int64) @ _UNIQUE_VECS.T) % 30  # 30 = lcm(2, 3, 5)
    counts = np.bincount((residue + 30 * np.arange(n_vec)).ravel(), minlength=30 * n_vec).reshape(n_vec, 30)
    frac = {m: counts[:, ::m].sum(axis=1) / n for m in (2, 3, 5)}
    for k, (row, m) in enumerate(_TEST_ORDER):
        if frac[m][row] > threshold:
            return _ABSENCE_TRANSFORMS[k][2]
    return None


def correct_non_primitive(crystal: Crystal, rlp: np.ndarray, hkl_tolerance: float, threshold: float,
                          min_cell_volume: float) -> Crystal:
    """Repeatedly move a supercell candidate to the sublattice its indices reveal (DIALS'
    non_primitive_basis.correct, moduli 2, 3, 5), Niggli-reducing after each step. FFT
    peaks of few spots often give 5x or 7x supercells (L-cysteine with 29 spots).

    rlp: the spots to index (a random subset is enough); duplicates are not removed here.
    """
    for _ in range(MAX_ABSENCE_CORRECTIONS):
        hf = rlp @ np.linalg.inv(crystal.A).T
        h = np.rint(hf)
        ok = (np.einsum("ij,ij->i", hf - h, hf - h) <= hkl_tolerance**2) & np.any(h != 0, axis=1)
        T = detect_absences(h[ok].astype(np.int64), threshold)
        if T is None:
            break
        new, _ = niggli_reduce(crystal.replace(A=crystal.A @ T.T))
        if new.unit_cell.volume < min_cell_volume:
            break
        crystal = new
    return crystal


@dataclass(frozen=True)
class LatticeSearch:
    best: Solution
    solutions: list[Solution]  # scored, best first
    d_min: float  # resolution limit of the spots used in the search


def _fft1d_vectors(rlp: np.ndarray, max_cell: float, params: IndexingParams, log: list[str]
                   ) -> tuple[np.ndarray, float]:
    res = fft1d_search(rlp, max_cell, params.fft1d, min_cell=params.min_cell)
    log.append(f"Setting d_min: {res.d_min:.2f}")
    log.append(f"Number of centroids used: {res.n_used}")
    return res.candidates.vectors, res.d_min


def basis_vectors(spots: Spots, sel: np.ndarray, max_cell: float, params: IndexingParams,
                  target: TargetSymmetry | None, log: list[str]) -> tuple[np.ndarray, float]:
    """Candidate real-space vectors (k, 3) and the d_min of the spots used."""
    rlp = spots.rlp[sel]
    if params.method == "fft3d":
        try:
            res = fft3d_search(rlp, max_cell, params.fft3d, min_cell=params.min_cell, workers=params.nproc)
        except StageFailed as exc:
            if len(rlp) >= FEW_SPOTS:
                raise
            log.append(f"fft3d failed with {len(rlp)} spots ({exc}); falling back to fft1d")
            return _fft1d_vectors(rlp, max_cell, params, log)
        log.append(f"Setting d_min: {res.d_min:.2f}")
        log.append(f"FFT gridding: ({res.n_points},{res.n_points},{res.n_points})")
        log.append(f"Number of centroids used: {res.n_used}")
        if len(res.candidates) < 3 and len(rlp) < FEW_SPOTS:
            log.append(f"fft3d found only {len(res.candidates)} basis vectors from {res.n_used} centroids;"
                       " falling back to fft1d")
            return _fft1d_vectors(rlp, max_cell, params, log)
        return res.candidates.vectors, res.d_min
    if params.method == "fft1d":
        return _fft1d_vectors(rlp, max_cell, params, log)
    assert target is not None and target.unit_cell is not None  # checked by check_params
    cell = primitive_cell(target)
    lengths = sorted({round(v, 3) for v in cell.parameters[:3]})  # type: ignore[union-attr]
    d_min = float(np.min(spots.d[sel]))
    res2 = real_space_grid_search(rlp, lengths, params.real_space_grid_search, workers=params.nproc)
    log.append(f"Indexing from {len(rlp)} reflections")
    log.append(f"Number of unique vectors: {len(res2)}")
    return res2.vectors, d_min


def evaluate_all(crystals: list[Crystal], spots: Spots, sweeps: list[Experiment], eligible: np.ndarray,
                 params: IndexingParams, target: TargetSymmetry | None) -> list[Solution | None]:
    """evaluate() for each candidate, in order. Sequential on purpose: a thread pool
    (indexing.nproc = 2) was measured no faster (GIL-bound small numpy calls, ~20 ms per
    candidate), and a process pool costs more to start than the ~1 s of work."""
    return [evaluate(c, spots, sweeps, eligible, params, target) for c in crystals]


def add_solution(solutions: list[Solution], sol: Solution) -> None:
    """Append `sol`, or replace a same-lattice solution if `sol` indexes more spots (then has the
    lower RMSD): a basis with one axis 2 deg off still counts as the same lattice, and keeping the
    first-seen one lost the right cell (hP 56 x 73 A, bench_indexing_matrix --seed 2)."""
    dup = next((i for i, s in enumerate(solutions) if same_lattice(s.crystal.A, sol.crystal.A)), None)
    if dup is None:
        solutions.append(sol)
    elif (sol.n_indexed, -sol.rmsd_xy_px) > (solutions[dup].n_indexed, -solutions[dup].rmsd_xy_px):
        solutions[dup] = sol


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
    to_evaluate: list[Crystal] = []
    rejected: list[np.ndarray] = []
    n_seen = 0
    seen: list[np.ndarray] = []
    rlp_abs = spots.rlp[eligible]
    if len(rlp_abs) > ABSENCE_SAMPLE:
        rlp_abs = rlp_abs[np.random.default_rng(42).choice(len(rlp_abs), ABSENCE_SAMPLE, replace=False)]
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
        if target is None:
            if same_lattice_any(seen[-500:], crystal.A, tol=DUPLICATE_TOL):
                continue
            seen.append(crystal.A)
            crystal = correct_non_primitive(crystal, rlp_abs, params.index_assignment.simple.hkl_tolerance,
                                            params.basis_vector_combinations.sys_absent_threshold,
                                            params.min_cell_volume)
        p1 = crystal
        crystal = to_target_setting(crystal, target, params)
        if crystal is None:
            rejected.append(p1.A)
            continue
        if same_lattice_any(tried, crystal.A, tol=DUPLICATE_TOL):
            continue
        if existing and any(same_lattice(t, crystal.A) for t in existing):
            continue
        tried.append(crystal.A)
        to_evaluate.append(crystal)
    for sol in evaluate_all(to_evaluate, spots, sweeps, eligible, params, target):
        if sol is not None:
            add_solution(solutions, sol)
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


__all__ = ["LatticeSearch", "add_solution", "basis_vectors", "candidate_table_lines", "correct_non_primitive", "detect_absences",
           "evaluate_all",
           "find_lattice"]
