"""Which Bravais settings to recommend (DIALS identify_likely_solutions, algorithms.md 6.6),
and the correlation of I/sigma between symmetry mates used by that rule."""

from __future__ import annotations

import gemmi
import numpy as np


def is_recommended(max_delta_deg: float, rmsd: float | None, min_cc: float | None, rmsd_p1: float | None) -> bool:
    """DIALS' heuristic relative to the P1 rmsd r1 (min_cc None: no correlation available).

    Not recommended if: fit < 0.5 and (no cc or cc < 0.5) and rmsd > 1.5 r1; fit >= 0.5 and
    (no cc or cc < 0.7) and rmsd > 2 r1; fit >= 0.5 and rmsd > 3 r1. A setting whose
    refinement failed (rmsd None) is not recommended.
    """
    if rmsd is None or rmsd_p1 is None:
        return False
    weak_cc = min_cc is None
    if max_delta_deg < 0.5:
        return not ((weak_cc or min_cc < 0.5) and rmsd > 1.5 * rmsd_p1)
    if (weak_cc or min_cc < 0.7) and rmsd > 2.0 * rmsd_p1:
        return False
    return not rmsd > 3.0 * rmsd_p1


def symop_correlations(
    miller_index: np.ndarray, i_over_sigma: np.ndarray, space_group: gemmi.SpaceGroup
) -> tuple[list[float], list[int]]:
    """For each rotation of space_group (identity first): Pearson correlation of I/sigma
    between reflections h and their mates h R, and the number of pairs.

    Duplicate indices are averaged first. Returns nan for fewer than 2 pairs.
    """
    values: dict[tuple[int, int, int], list[float]] = {}
    for h, v in zip(map(tuple, np.asarray(miller_index).tolist()), np.asarray(i_over_sigma, dtype=np.float64)):
        if h != (0, 0, 0) and np.isfinite(v):
            values.setdefault(h, []).append(float(v))
    mean = {h: float(np.mean(v)) for h, v in values.items()}
    keys = list(mean)
    ccs, nrefs = [], []
    for op in space_group.operations().sym_ops:
        R = np.array(op.rot, dtype=np.int64) // gemmi.Op.DEN
        x, y = [], []
        for h in keys:
            mate = tuple(int(v) for v in np.asarray(h) @ R)
            if mate in mean:
                x.append(mean[h])
                y.append(mean[mate])
        nrefs.append(len(x))
        if len(x) < 2 or np.std(x) == 0 or np.std(y) == 0:
            ccs.append(float("nan"))
        else:
            ccs.append(float(np.corrcoef(x, y)[0, 1]))
    return ccs, nrefs


def min_max_cc(ccs: list[float], nrefs: list[int], min_pairs: int = 10) -> tuple[float | None, float | None]:
    """min/max cc over the non-identity operators with more than min_pairs pairs (DIALS)."""
    used = [c for c, n in zip(ccs, nrefs) if n > min_pairs and np.isfinite(c)]
    if len(used) <= 1 or not (nrefs and nrefs[0] > min_pairs):
        return None, None
    return float(min(used[1:])), float(max(used[1:]))


__all__ = ["is_recommended", "min_max_cc", "symop_correlations"]
