"""determine_symmetry: Laue group by element scoring, reindexing, then screw axes."""

from __future__ import annotations

from dataclasses import dataclass

import gemmi
import numpy as np

from braggflow.algorithms.merging.unmerged import UnmergedData
from braggflow.algorithms.symmetry.absences import AbsenceResult, space_group_from_absences
from braggflow.algorithms.symmetry.laue import LaueResult, determine_laue_group
from braggflow.errors import StageFailed

__all__ = ["SymmetryResult", "determine_symmetry"]


@dataclass
class SymmetryResult:
    laue: LaueResult
    absences: AbsenceResult | None
    space_group: gemmi.SpaceGroup
    P: np.ndarray  # change of basis applied: (a' b' c') = (a b c) P, h' = h P
    data: UnmergedData  # reindexed data carrying the chosen space group

    @property
    def reindexed(self) -> bool:
        return not np.allclose(self.P, np.eye(3))


def determine_symmetry(data: UnmergedData, *, max_delta_deg: float = 2.0, d_min: float | None = None, systematic_absences: bool = True, seed: int = 42) -> SymmetryResult:
    laue = determine_laue_group(data, max_delta_deg=max_delta_deg, d_min=d_min, seed=seed)
    best = laue.best
    if best.name is None:
        raise StageFailed(f"symmetry: the best rotation group ({best.label}) has no tabulated setting that braggflow could find; rerun with a smaller lattice_symmetry_max_delta")
    symmorphic = best.name.space_group
    P = np.asarray(best.name.P, float)
    reindexed = data.reindexed(P, symmorphic) if not np.allclose(P, np.eye(3)) else data.with_space_group(symmorphic)
    absences = None
    sg = symmorphic
    if systematic_absences:
        absences = space_group_from_absences(reindexed, symmorphic)
        sg = absences.best
    return SymmetryResult(laue, absences, sg, P, reindexed.with_space_group(sg))
