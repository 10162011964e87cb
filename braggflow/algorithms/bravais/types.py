"""The 14 Bravais lattice types (plus mI, the I-centred monoclinic setting of mC).

Each type knows its holohedry in the reference (conventional) setting, the lowest-symmetry
space group DIALS gives the lattice for constrained refinement, and the cctbx space-group
numbers DIALS sorts by (acentric rotation group; centric holohedry).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import gemmi
import numpy as np

from braggflow.algorithms.bravais.lattice import Rot, as_rot


@dataclass(frozen=True)
class BravaisType:
    symbol: str  # e.g. "oC"
    crystal_system: str  # triclinic ... cubic (hR: trigonal)
    holohedry: str  # reference-setting H-M symbol of the lattice point group (gemmi)
    lowest_space_group: str  # space group used for constrained refinement
    acentric_number: int  # number of the rotation group (P222 16, C222 21, ...)
    centric_number: int  # number of the holohedry (Pmmm 47, ...)

    @property
    def family(self) -> str:
        return self.symbol[0]

    @property
    def centring(self) -> str:
        return self.symbol[1]


BRAVAIS_TYPES: dict[str, BravaisType] = {
    t.symbol: t
    for t in (
        BravaisType("aP", "triclinic", "P -1", "P 1", 1, 2),
        BravaisType("mP", "monoclinic", "P 1 2/m 1", "P 1 2 1", 3, 10),
        BravaisType("mC", "monoclinic", "C 1 2/m 1", "C 1 2 1", 5, 12),
        BravaisType("mI", "monoclinic", "I 1 2/m 1", "I 1 2 1", 5, 12),
        BravaisType("oP", "orthorhombic", "P m m m", "P 2 2 2", 16, 47),
        BravaisType("oC", "orthorhombic", "C m m m", "C 2 2 2", 21, 65),
        BravaisType("oF", "orthorhombic", "F m m m", "F 2 2 2", 22, 69),
        BravaisType("oI", "orthorhombic", "I m m m", "I 2 2 2", 23, 71),
        BravaisType("tP", "tetragonal", "P 4/m m m", "P 4", 89, 123),
        BravaisType("tI", "tetragonal", "I 4/m m m", "I 4", 97, 139),
        BravaisType("hR", "trigonal", "R -3 m:H", "R 3:H", 155, 166),
        BravaisType("hP", "hexagonal", "P 6/m m m", "P 3", 177, 191),
        BravaisType("cP", "cubic", "P m -3 m", "P 2 3", 207, 221),
        BravaisType("cF", "cubic", "F m -3 m", "F 2 3", 209, 225),
        BravaisType("cI", "cubic", "I m -3 m", "I 2 3", 211, 229),
    )
}

# Bravais types with the same proper-rotation group, by the structure of the group found
FAMILY_TYPES = {
    "a": ("aP",),
    "m": ("mP", "mC", "mI"),
    "o": ("oP", "oC", "oF", "oI"),
    "t": ("tP", "tI"),
    "hR": ("hR",),
    "hP": ("hP",),
    "c": ("cP", "cF", "cI"),
}


@functools.cache
def reference_rotations(symbol: str) -> frozenset[Rot]:
    """Proper rotations of the holohedry of `symbol` in its reference setting."""
    ops = gemmi.SpaceGroup(BRAVAIS_TYPES[symbol].holohedry).operations()
    rots = (np.array(op.rot, dtype=np.int64) // gemmi.Op.DEN for op in ops.sym_ops)
    return frozenset(as_rot(r) for r in rots if round(np.linalg.det(r)) == 1)


@functools.cache
def reference_centring(symbol: str) -> frozenset[tuple[int, int, int]]:
    """Centring translations of `symbol` in units of 1/24 (gemmi's Op.DEN)."""
    ops = gemmi.SpaceGroup(BRAVAIS_TYPES[symbol].holohedry).operations()
    return frozenset(tuple(int(v) % gemmi.Op.DEN for v in c) for c in ops.cen_ops)


def lowest_space_group(symbol: str) -> gemmi.SpaceGroup:
    return gemmi.SpaceGroup(BRAVAIS_TYPES[symbol].lowest_space_group)


__all__ = [
    "BRAVAIS_TYPES",
    "FAMILY_TYPES",
    "BravaisType",
    "lowest_space_group",
    "reference_centring",
    "reference_rotations",
]
