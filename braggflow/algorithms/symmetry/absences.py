"""Space group from systematic absences of axial reflections (screw axes).

Candidates are all Sohncke space groups in gemmi's table with the same rotations and
centring as the chosen symmorphic group, in the same setting. For each candidate the
reflections it predicts absent (beyond the centring) are looked up among the merged data;
a candidate is consistent when those reflections are weak: mean I/σ below the larger of
``max_mean_isig`` and ``relative_threshold`` × the mean I/σ of the allowed reflections on the
same axes, and at most ``max_strong_fraction`` of them above three times that threshold. The consistent
candidate predicting the most absences wins (ties, e.g. enantiomorphs P4₁2₁2/P4₃2₁2, are
reported as alternatives; the lower number is taken).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gemmi
import numpy as np

from braggflow.algorithms.merging.statistics import group_keys, merge_groups
from braggflow.algorithms.merging.unmerged import UnmergedData

__all__ = ["AbsenceCandidate", "AbsenceResult", "space_group_from_absences"]


@dataclass
class AbsenceCandidate:
    space_group: gemmi.SpaceGroup
    n_absent_observed: int
    mean_isig_absent: float
    consistent: bool


@dataclass
class AbsenceResult:
    best: gemmi.SpaceGroup
    candidates: list[AbsenceCandidate]
    alternatives: list[gemmi.SpaceGroup] = field(default_factory=list)
    axial: dict = field(default_factory=dict)  # axis label -> (n, mean I/σ odd-ish, even-ish)


def _candidates(symmorphic: gemmi.SpaceGroup) -> list[gemmi.SpaceGroup]:
    ref = symmorphic.operations()
    out = []
    for sg in gemmi.spacegroup_table():
        if not sg.is_sohncke():
            continue
        ops = sg.operations()
        if ops.has_same_rotations(ref) and ops.has_same_centring(ref):
            out.append(sg)
    # unique by Hall symbol, keep table order
    seen, uniq = set(), []
    for sg in out:
        if sg.hall not in seen:
            seen.add(sg.hall)
            uniq.append(sg)
    return uniq


def space_group_from_absences(data: UnmergedData, symmorphic: gemmi.SpaceGroup, *, max_mean_isig: float = 3.0, relative_threshold: float = 0.1, max_strong_fraction: float = 0.1) -> AbsenceResult:
    """``data`` must already be indexed in the setting of ``symmorphic``."""
    merged_data = data.with_space_group(symmorphic)
    g = merge_groups(group_keys(merged_data, anomalous=False), merged_data.intensity, merged_data.sigma, merged_data.asu_hkl)
    hkl = np.ascontiguousarray(g.hkl, dtype=np.int32)
    isig = g.mean / g.sigma
    base_absent = np.asarray(symmorphic.operations().systematic_absences(hkl), bool)
    zero_pattern = (hkl == 0) @ np.array([1, 2, 4])
    cands = []
    for sg in _candidates(symmorphic):
        absent = np.asarray(sg.operations().systematic_absences(hkl), bool) & ~base_absent
        n = int(absent.sum())
        if n == 0:
            cands.append(AbsenceCandidate(sg, 0, 0.0, True))
            continue
        vals = isig[absent]
        mean = float(vals.mean())
        lines = np.isin(zero_pattern, np.unique(zero_pattern[absent])) & ~absent & ~base_absent
        present = float(isig[lines].mean()) if lines.any() else 0.0
        threshold = max(max_mean_isig, relative_threshold * present)
        strong = float((vals > 3 * threshold).mean())
        cands.append(AbsenceCandidate(sg, n, mean, mean < threshold and strong <= max_strong_fraction))
    consistent = [c for c in cands if c.consistent]
    if not consistent:
        consistent = [min(cands, key=lambda c: c.mean_isig_absent)] if cands else []
    if not consistent:
        return AbsenceResult(symmorphic, [], [])
    top = max(c.n_absent_observed for c in consistent)
    # among those predicting the most absences, prefer those whose absences are weakest
    best_group = [c for c in consistent if c.n_absent_observed == top]
    best_group.sort(key=lambda c: c.space_group.number)
    best = best_group[0].space_group
    alts = [c.space_group for c in best_group[1:] if c.space_group.number != best.number and _same_absences(c.space_group, best, hkl)]
    return AbsenceResult(best, cands, alts)


def _same_absences(a: gemmi.SpaceGroup, b: gemmi.SpaceGroup, hkl: np.ndarray) -> bool:
    return bool(np.array_equal(a.operations().systematic_absences(hkl), b.operations().systematic_absences(hkl)))
