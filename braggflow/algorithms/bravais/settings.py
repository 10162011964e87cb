"""Bravais settings compatible with a P1 cell: `find_lattice_settings(cell, max_delta)`.

The metric subgroups of cctbx.sgtbx.lattice_symmetry.metric_subgroups as DIALS uses them
(bravais types only): Niggli-reduce, find the lattice group by Le Page's method, take every
subgroup that is the holohedry of a Bravais lattice, and give each its best conventional
cell, change of basis from the input cell, and metric fit (largest two-fold obliquity).
Sorted like DIALS' table: largest metric fit first (fits within 0.01 degree count as equal and
are ordered by space-group number, higher first); aP is last.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import gemmi
import numpy as np

from braggflow.algorithms.bravais.conventional import best_setting, cell_of_metric, conventional_settings
from braggflow.algorithms.bravais.lattice import lattice_group, max_delta_deg, niggli_reduce, real_space_basis, subgroups
from braggflow.algorithms.bravais.types import BRAVAIS_TYPES


@dataclass(frozen=True, eq=False)
class LatticeSetting:
    """One Bravais setting. P: [a' b' c'] = [a b c] P from the input (P1) basis, integer.

    unit_cell is the input cell expressed in the setting (not symmetrised).
    """

    bravais: str
    max_angular_difference: float  # degrees ("Metric fit")
    P: np.ndarray
    unit_cell: tuple[float, float, float, float, float, float]
    group_order: int  # proper rotations of the holohedry

    @property
    def crystal_system(self) -> str:
        return BRAVAIS_TYPES[self.bravais].crystal_system

    @property
    def cb_op(self) -> str:
        return format_abc(self.P)

    @property
    def centric_number(self) -> int:
        return BRAVAIS_TYPES[self.bravais].centric_number


def format_abc(P: np.ndarray) -> str:
    """cctbx abc notation of an integer basis change ('a+b,-a+b,c')."""
    parts = []
    for col in np.asarray(P).T:
        terms = ""
        for coeff, name in zip(col, "abc"):
            k = int(round(coeff))
            if k == 0:
                continue
            sign = "-" if k < 0 else ("+" if terms else "")
            terms += f"{sign}{'' if abs(k) == 1 else f'{abs(k)}*'}{name}"
        parts.append(terms or "0")
    return ",".join(parts)


def _metric(cell: gemmi.UnitCell) -> np.ndarray:
    basis = real_space_basis(cell)
    return basis.T @ basis


def _bestcmp(a: LatticeSetting, b: LatticeSetting) -> int:
    """rstbx.dps_core.lepage.bestcmp: larger delta first; within 0.01 deg, higher number first."""
    if abs(a.max_angular_difference - b.max_angular_difference) < 0.01:
        return (a.centric_number < b.centric_number) - (a.centric_number > b.centric_number)
    return -1 if a.max_angular_difference > b.max_angular_difference else 1


def find_lattice_settings(
    cell: gemmi.UnitCell | tuple[float, ...], max_delta: float = 5.0, best_monoclinic_beta: bool = True
) -> list[LatticeSetting]:
    """Bravais settings of a primitive cell within max_delta degrees, highest symmetry first."""
    cell = cell if isinstance(cell, gemmi.UnitCell) else gemmi.UnitCell(*cell)
    P_red = niggli_reduce(cell)
    G_inp = _metric(cell)
    G_red = P_red.T @ G_inp @ P_red
    basis_red = real_space_basis(cell) @ P_red
    group = lattice_group(basis_red, max_delta)
    found = []
    for sub in subgroups(group):
        best = best_setting(conventional_settings(sub, G_red), G_red, P_red, best_monoclinic_beta)
        if best is None:
            continue
        P = np.eye(3, dtype=np.int64) if best.bravais == "aP" else best.P
        found.append(
            LatticeSetting(
                bravais=best.bravais,
                max_angular_difference=max_delta_deg(sub, basis_red),
                P=P,
                unit_cell=cell_of_metric(P.T @ G_inp @ P),
                group_order=len(sub),
            )
        )
    # cctbx's order (rotation-group order, then group number, descending) then DIALS' bestcmp
    found.sort(key=lambda s: (-(s.group_order * 1000 + BRAVAIS_TYPES[s.bravais].acentric_number), -s.max_angular_difference))
    return sorted(found, key=functools.cmp_to_key(_bestcmp))


__all__ = ["LatticeSetting", "find_lattice_settings", "format_abc"]
