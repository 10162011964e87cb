"""Crystal model: setting matrix A = U B and space group (DIALS `crystal`).

B follows the cctbx convention (columns are a*, b*, c* in the PDB orthogonal frame), so
B = Fr^T with Fr gemmi's fractionalisation matrix. Real-space vectors are the rows of A^-1.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import gemmi
import numpy as np

from braggflow.model._vec import as_mat3


def b_matrix(cell: gemmi.UnitCell) -> np.ndarray:
    """cctbx-convention B (lower triangular) for a unit cell."""
    return np.array(cell.frac.mat.tolist(), dtype=np.float64).T


def cell_from_real_space(vectors: np.ndarray) -> gemmi.UnitCell:
    """Unit cell from real-space vectors given as the rows of a (3, 3) array."""
    a, b, c = (np.asarray(v, dtype=np.float64) for v in vectors)
    la, lb, lc = (float(np.linalg.norm(v)) for v in (a, b, c))

    def angle(u: np.ndarray, v: np.ndarray, lu: float, lv: float) -> float:
        return float(np.degrees(np.arccos(np.clip(np.dot(u, v) / (lu * lv), -1.0, 1.0))))

    return gemmi.UnitCell(la, lb, lc, angle(b, c, lb, lc), angle(a, c, la, lc), angle(a, b, la, lb))


_ABC_TERM = re.compile(r"([+-]?)\s*(\d+(?:\.\d*)?(?:/\d+)?)?\s*\*?\s*([abc])")


def parse_abc(op: str) -> np.ndarray:
    """Change-of-basis matrix P from cctbx abc notation ('a+b,-a+b,c'): columns of P give
    the new basis vectors in terms of the old ones, [a' b' c'] = [a b c] P."""
    parts = [p.strip() for p in op.replace(" ", "").split(",")]
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"'{op}' is not a change-of-basis operator like 'a,b,c' or 'a+b,-a+b,c'")
    p = np.zeros((3, 3))
    for col, part in enumerate(parts):
        pos = 0
        for m in _ABC_TERM.finditer(part):
            if m.start() != pos:
                raise ValueError(f"'{op}': cannot read '{part}'")
            pos = m.end()
            num = m.group(2)
            if num is None:
                value = 1.0
            elif "/" in num:
                n, d = num.split("/")
                value = float(n) / float(d)
            else:
                value = float(num)
            if m.group(1) == "-":
                value = -value
            p["abc".index(m.group(3)), col] += value
        if pos != len(part):
            raise ValueError(f"'{op}': cannot read '{part}' (translations are not supported)")
    if abs(np.linalg.det(p)) < 1e-9:
        raise ValueError(f"'{op}' is singular (the new axes are not independent)")
    return p


@dataclass(frozen=True, eq=False)
class Crystal:
    """A = U B (1/A), space group, optional per-frame-boundary A for scan-varying models."""

    A: np.ndarray
    space_group: gemmi.SpaceGroup
    A_at_scan_points: np.ndarray | None = None  # (n_images + 1, 3, 3)
    B_covariance: np.ndarray | None = None  # (81,)
    mosaicity: float | None = None  # degrees

    def __post_init__(self) -> None:
        object.__setattr__(self, "A", as_mat3(self.A))
        if self.A_at_scan_points is not None:
            object.__setattr__(self, "A_at_scan_points", np.asarray(self.A_at_scan_points, dtype=np.float64).reshape(-1, 3, 3))

    @classmethod
    def from_real_space_vectors(
        cls, a: np.ndarray, b: np.ndarray, c: np.ndarray, space_group: gemmi.SpaceGroup | str = "P 1"
    ) -> "Crystal":
        real = np.array([a, b, c], dtype=np.float64)
        sg = space_group if isinstance(space_group, gemmi.SpaceGroup) else gemmi.SpaceGroup(space_group)
        return cls(A=np.linalg.inv(real), space_group=sg)

    @classmethod
    def from_cell_and_u(cls, cell: gemmi.UnitCell, U: np.ndarray, space_group: gemmi.SpaceGroup | str = "P 1") -> "Crystal":
        sg = space_group if isinstance(space_group, gemmi.SpaceGroup) else gemmi.SpaceGroup(space_group)
        return cls(A=as_mat3(U) @ b_matrix(cell), space_group=sg)

    @property
    def real_space_vectors(self) -> np.ndarray:
        """(3, 3): rows are a, b, c in the lab frame at phi = 0 (A)."""
        return np.linalg.inv(self.A)

    @property
    def unit_cell(self) -> gemmi.UnitCell:
        return cell_from_real_space(self.real_space_vectors)

    @property
    def B(self) -> np.ndarray:
        return b_matrix(self.unit_cell)

    @property
    def U(self) -> np.ndarray:
        return self.A @ np.linalg.inv(self.B)

    @property
    def num_scan_points(self) -> int:
        return 0 if self.A_at_scan_points is None else len(self.A_at_scan_points)

    def A_at_frame(self, z: float, first_frame: int = 0) -> np.ndarray:
        """A at frame coordinate z, interpolated between scan points (static A if none).

        first_frame is the array index of scan point 0 (i0 - 1 for a scan starting at i0).
        """
        if self.A_at_scan_points is None:
            return self.A
        t = float(np.clip(z - first_frame, 0, len(self.A_at_scan_points) - 1))
        k = min(int(np.floor(t)), len(self.A_at_scan_points) - 2)
        f = t - k
        return (1 - f) * self.A_at_scan_points[k] + f * self.A_at_scan_points[k + 1]

    def change_basis(self, P: np.ndarray, space_group: gemmi.SpaceGroup | None = None) -> "Crystal":
        """Crystal in the basis [a' b' c'] = [a b c] P; indices transform as h' = P^T h."""
        P = as_mat3(P)
        new_real = (self.real_space_vectors.T @ P).T
        A_sp = None
        if self.A_at_scan_points is not None:
            A_sp = np.array([np.linalg.inv((np.linalg.inv(a).T @ P).T) for a in self.A_at_scan_points])
        return dataclasses.replace(
            self,
            A=np.linalg.inv(new_real),
            space_group=space_group if space_group is not None else self.space_group,
            A_at_scan_points=A_sp,
            B_covariance=None,
        )

    def replace(self, **changes: object) -> "Crystal":
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        c = self.unit_cell
        return (
            f"<Crystal {self.space_group.hm} cell=({c.a:.4f}, {c.b:.4f}, {c.c:.4f}, "
            f"{c.alpha:.3f}, {c.beta:.3f}, {c.gamma:.3f})"
            f"{' scan-varying' if self.A_at_scan_points is not None else ''}>"
        )


__all__ = ["Crystal", "b_matrix", "cell_from_real_space", "parse_abc"]
