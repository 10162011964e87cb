"""Off-by-N misindexing check (`indexing.check_misindexing.grid_search_scope`).

A wrong beam centre (by about one reciprocal-lattice spacing) can give a lattice that indexes
every spot with a low RMSD but with the origin of the indices shifted: h_obs = h_true - o.
Geometry cannot tell these apart; intensities can. For every trial offset o in
[-N, N]^3 the indices are shifted to h + o and the intensities of reflections that would then
be symmetry mates (Friedel mates, h + o and -(h + o), and with a known space group also the
other Laue-group mates) are correlated. Only the true origin pairs real mates, so its CC stands
out; wrong offsets pair unrelated reflections (CC ~ 0). This is the check older DIALS
indexers ran (dials.algorithms.symmetry.origin.get_hkl_offset_correlation_coefficients with the
-h change of basis; selection: highest CC among offsets with at least half the largest number
of pairs). In DIALS 3.12 the parameter is still accepted but the offset is never applied
(model_evaluation always stores hkl_offset = (0, 0, 0)). braggflow also requires the winner to
beat the zero offset clearly (min_cc, margin) and to be significant (Fisher z), so noise never
moves a correct indexing. The shifted indices are then refined in the macro-cycles, which
move the beam/detector to the corrected origin.
"""

from __future__ import annotations

from dataclasses import dataclass

import gemmi
import numpy as np

MIN_PAIRS = 10


@dataclass(frozen=True)
class OffsetCC:
    offset: tuple[int, int, int]
    cc: float  # nan when there are fewer than MIN_PAIRS pairs
    n_pairs: int


def laue_rotations(space_group: gemmi.SpaceGroup | None) -> np.ndarray:
    """(m, 3, 3) integer rotations of the Laue group (point group + inversion) acting on
    row-vector Miller indices h' = h R."""
    sg = space_group if space_group is not None else gemmi.SpaceGroup("P 1")
    rots = {tuple(np.rint(np.array(op.rot) / gemmi.Op.DEN).astype(int).ravel()) for op in sg.operations().sym_ops}
    mats = [np.array(r).reshape(3, 3) for r in sorted(rots)]
    mats += [-m for m in mats]
    return np.array(mats, dtype=np.int64)


def _orbit_keys(hkl: np.ndarray, rots: np.ndarray) -> np.ndarray:
    """(n,) int64 key of each index's symmetry orbit (lexicographic max of its images)."""
    images = np.einsum("nj,mjk->nmk", hkl, rots)  # (n, m, 3)
    base = 4096
    codes = ((images[..., 0] + base // 2) * base + (images[..., 1] + base // 2)) * base + (images[..., 2] + base // 2)
    return codes.max(axis=1)


def _hkl_codes(hkl: np.ndarray) -> np.ndarray:
    base = 4096
    return ((hkl[:, 0] + base // 2) * base + (hkl[:, 1] + base // 2)) * base + (hkl[:, 2] + base // 2)


def mates_cc(hkl: np.ndarray, intensity: np.ndarray, rots: np.ndarray) -> tuple[float, int]:
    """(CC, n pairs) of mean intensities of distinct symmetry-related indices."""
    keep = np.any(hkl != 0, axis=1) & np.isfinite(intensity)
    hkl, intensity = hkl[keep], intensity[keep]
    if len(hkl) < 2:
        return float("nan"), 0
    codes = _hkl_codes(hkl)
    uniq, inv = np.unique(codes, return_inverse=True)
    mean_i = np.bincount(inv, weights=intensity) / np.bincount(inv)
    first = np.zeros(len(uniq), dtype=np.int64)
    first[inv[::-1]] = np.arange(len(inv))[::-1]
    orbit = _orbit_keys(hkl[first], rots)
    order = np.argsort(orbit, kind="stable")
    orbit, mean_i = orbit[order], mean_i[order]
    starts = np.nonzero(np.concatenate([[True], orbit[1:] != orbit[:-1]]))[0]
    ends = np.concatenate([starts[1:], [len(orbit)]])
    xs: list[float] = []
    ys: list[float] = []
    for s, e in zip(starts, ends):
        if e - s < 2:
            continue
        vals = mean_i[s:e]
        for i in range(len(vals)):
            for j in range(i + 1, len(vals)):
                xs += [vals[i], vals[j]]
                ys += [vals[j], vals[i]]
    n = len(xs) // 2
    if n < MIN_PAIRS:
        return float("nan"), n
    x, y = np.array(xs), np.array(ys)
    if np.std(x) == 0:
        return float("nan"), n
    return float(np.corrcoef(x, y)[0, 1]), n


def offset_correlations(hkl: np.ndarray, intensity: np.ndarray, scope: int,
                        space_group: gemmi.SpaceGroup | None = None) -> list[OffsetCC]:
    """CC of symmetry mates for every offset in [-scope, scope]^3 (h, k, l order)."""
    hkl = np.asarray(hkl, dtype=np.int64)
    intensity = np.asarray(intensity, dtype=np.float64)
    rots = laue_rotations(space_group)
    out = []
    r = range(-scope, scope + 1)
    for dh in r:
        for dk in r:
            for dl in r:
                cc, n = mates_cc(hkl + np.array([dh, dk, dl]), intensity, rots)
                out.append(OffsetCC((dh, dk, dl), cc, n))
    return out


def significance(cc: float, n: int) -> float:
    """Fisher z-score of a correlation from n pairs: atanh(cc) sqrt(n - 3) (0 if undefined)."""
    if not np.isfinite(cc) or n <= 3:
        return 0.0
    return float(np.arctanh(np.clip(cc, -0.999999, 0.999999)) * np.sqrt(n - 3))


def best_offset(results: list[OffsetCC], *, min_cc: float = 0.3, margin: float = 0.2,
                min_z: float = 4.0) -> OffsetCC | None:
    """DIALS' choice (highest CC among offsets with >= half the largest pair count), kept only
    if it is not (0, 0, 0), its CC >= min_cc, it beats the zero offset by `margin` and it is
    significant (Fisher z >= min_z, so a few pairs of noise among (2N+1)^3 trials never win)."""
    valid = [r for r in results if np.isfinite(r.cc)]
    if not valid:
        return None
    max_n = max(r.n_pairs for r in valid)
    best = max((r for r in valid if r.n_pairs >= max_n // 2), key=lambda r: r.cc)
    zero = next((r for r in results if r.offset == (0, 0, 0)), None)
    zero_cc = zero.cc if zero is not None and np.isfinite(zero.cc) else -1.0
    if (best.offset == (0, 0, 0) or best.cc < min_cc or best.cc - zero_cc < margin
            or significance(best.cc, best.n_pairs) < min_z):
        return None
    return best


def table_lines(results: list[OffsetCC]) -> list[str]:
    """'dH dK dL   Nref    CC' lines (as dials.check_indexing_symmetry)."""
    lines = ["Checking HKL origin:", f"dH dK dL {'Nref':>6} {'CC':>5}"]
    for r in results:
        cc = f"{r.cc:5.2f}" if np.isfinite(r.cc) else "  nan"
        lines.append(f"{r.offset[0]:2d} {r.offset[1]:2d} {r.offset[2]:2d} {r.n_pairs:6d} {cc}")
    return lines


def intensity_column(table: object) -> np.ndarray | None:
    """The spot intensities to correlate (intensity.sum.value), or None if absent/constant."""
    try:
        values = np.asarray(table["intensity.sum.value"], dtype=np.float64)  # type: ignore[index]
    except KeyError:
        return None
    if len(values) == 0 or np.nanstd(values) == 0:
        return None
    return values


__all__ = ["OffsetCC", "best_offset", "intensity_column", "laue_rotations", "mates_cc", "offset_correlations",
           "significance", "table_lines"]
