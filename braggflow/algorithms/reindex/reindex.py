"""Change of basis of crystals and Miller indices (DIALS `dials.reindex`, algorithms.md 1.6).

With [a' b' c'] = [a b c] P the new real-space basis, indices become h' = P^T h and
A' = A (P^T)^-1, so A' h' = A h: the reflections keep their positions. The crystal and the
indices are always transformed together.
"""

from __future__ import annotations

import re

import gemmi
import numpy as np

from braggflow.errors import InputDataError, ParameterError
from braggflow.model import ExperimentList
from braggflow.model.crystal import Crystal, parse_abc
from braggflow.model.reflections import ReflectionTable

_TRANSLATE_HKL = str.maketrans("hkl", "abc")
_TRANSLATE_XYZ = str.maketrans("xyz", "abc")


def parse_change_of_basis(op: str, name: str = "change_of_basis_op") -> np.ndarray:
    """P from 'a+b,-a+b,c' (basis), 'k,h,-l' (indices) or 'y,x,-z' (coordinates) notation.

    Raises ParameterError for unreadable, singular or hand-inverting operators.
    """
    text = str(op).strip().lower().replace(" ", "")
    letters = set(re.findall(r"[a-z]", text))
    try:
        if letters <= set("abc"):
            P = parse_abc(text)
        elif letters <= set("hkl"):
            P = parse_abc(text.translate(_TRANSLATE_HKL))
        elif letters <= set("xyz"):
            P = np.linalg.inv(parse_abc(text.translate(_TRANSLATE_XYZ)).T)
        else:
            raise ValueError(f"'{op}' mixes letters {''.join(sorted(letters))}")
    except ValueError as exc:
        raise ParameterError(
            f"{name}={op}: not a valid change-of-basis operator ({exc}); write it like a,b,c or b+c,a+c,a+b"
        ) from None
    if np.linalg.det(P) < 0:
        raise ParameterError(
            f"{name}={op}: this operator inverts the hand of the crystal (determinant {np.linalg.det(P):.3g} < 0), "
            "which turns U into a non-rotation; negate all three axes (e.g. -a,-b,c in place of a,b,-c)"
        )
    return P


def reindex_miller_indices(hkl: np.ndarray, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """h' = P^T h for (n, 3) indices; returns (new indices, integral mask).

    Rows whose result is not integral get (0, 0, 0) and False in the mask.
    """
    hkl = np.asarray(hkl)
    new = hkl.astype(np.float64) @ np.asarray(P, dtype=np.float64)
    rounded = np.rint(new)
    integral = np.all(np.abs(new - rounded) < 1e-6, axis=1)
    out = np.where(integral[:, None], rounded, 0).astype(hkl.dtype if hkl.dtype.kind == "i" else np.int32)
    return out, integral


def check_cell_compatible(crystal: Crystal, space_group: gemmi.SpaceGroup, rel_tol: float = 0.05) -> None:
    """Error unless the metric of `crystal` is close to invariant under `space_group`."""
    G = crystal.real_space_vectors @ crystal.real_space_vectors.T
    worst = 0.0
    for op in space_group.operations().sym_ops:
        R = np.array(op.rot, dtype=np.float64) / gemmi.Op.DEN
        worst = max(worst, float(np.abs(R.T @ G @ R - G).max() / np.abs(G).max()))
    if worst > rel_tol:
        c = crystal.unit_cell
        raise ParameterError(
            f"space_group={space_group.xhm()}: the unit cell ({c.a:.3f}, {c.b:.3f}, {c.c:.3f}, {c.alpha:.2f}, "
            f"{c.beta:.2f}, {c.gamma:.2f}) does not have this symmetry; give the change_of_basis_op of that "
            "setting from bravais_summary.json"
        )


def symmetrise_crystal(crystal: Crystal) -> Crystal:
    """Average the real-space metric over the space group's rotations and rebuild A = U B."""
    G = crystal.real_space_vectors @ crystal.real_space_vectors.T
    rots = [np.array(op.rot, dtype=np.float64) / gemmi.Op.DEN for op in crystal.space_group.operations().sym_ops]
    G_sym = sum(R.T @ G @ R for R in rots) / len(rots)
    lengths = np.sqrt(np.diag(G_sym))
    cos = [G_sym[1, 2] / (lengths[1] * lengths[2]), G_sym[0, 2] / (lengths[0] * lengths[2]), G_sym[0, 1] / (lengths[0] * lengths[1])]
    cell = gemmi.UnitCell(*lengths, *np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return Crystal.from_cell_and_u(cell, crystal.U, crystal.space_group).replace(
        A_at_scan_points=crystal.A_at_scan_points, mosaicity=crystal.mosaicity
    )


def reindex_crystal(crystal: Crystal, P: np.ndarray, space_group: gemmi.SpaceGroup | None = None) -> Crystal:
    """The crystal in the new basis; with space_group, also symmetrised to that group."""
    new = crystal.change_basis(P)
    if space_group is None:
        moved = transform_space_group(crystal.space_group, P)
        if moved is None:
            raise ParameterError(
                f"change_of_basis_op: takes space group {crystal.space_group.xhm()} to a setting braggflow cannot "
                "name; give space_group= as well"
            )
        return new.replace(space_group=moved)
    new = new.replace(space_group=space_group)
    check_cell_compatible(new, space_group)
    return symmetrise_crystal(new)


def reindex_experiments(
    experiments: ExperimentList, P: np.ndarray, space_group: gemmi.SpaceGroup | None = None
) -> ExperimentList:
    """Every crystal changed to the new basis (crystals shared between experiments stay shared)."""
    done: dict[int, Crystal] = {}
    out = ExperimentList()
    for e in experiments:
        if e.crystal is None:
            out.append(e)
            continue
        key = id(e.crystal)
        if key not in done:
            done[key] = reindex_crystal(e.crystal, P, space_group)
        out.append(e.replace(crystal=done[key]))
    return out


def check_reflections_match(experiments: ExperimentList, reflections: ReflectionTable, path: str = "reflections") -> None:
    """InputDataError if the table refers to experiments that are not in the list."""
    if "id" not in reflections:
        raise InputDataError(path, "has no 'id' column; give the reflections written by index or refine")
    ids = np.asarray(reflections["id"])
    top = int(ids.max()) if len(ids) else -1
    if top >= len(experiments):
        raise InputDataError(
            path, f"refers to experiment id {top} but only {len(experiments)} experiment(s) were given; "
            "give the .expt file written together with this .refl file"
        )
    mapping = reflections.experiment_identifiers
    for i, ident in mapping.items():
        if 0 <= i < len(experiments) and ident and experiments[i].identifier and ident != experiments[i].identifier:
            raise InputDataError(
                path, f"experiment {i} has identifier {ident} but the .expt has {experiments[i].identifier}; "
                "give the .expt file written together with this .refl file"
            )


def reindex_reflections(
    reflections: ReflectionTable, P: np.ndarray, hkl_offset: tuple[int, int, int] | None = None, strict: bool = True
) -> tuple[ReflectionTable, int]:
    """Copy with miller_index h' = P^T (h + offset); returns (table, n_non_integral).

    strict: raise if any indexed reflection gets non-integral indices; otherwise they are
    unindexed (set to 0,0,0) as dials.reindex does.
    """
    if "miller_index" not in reflections:
        raise InputDataError("reflections", "have no miller_index column; index them first")
    table = reflections.copy()
    hkl = np.asarray(table["miller_index"]).copy()
    indexed = np.any(hkl != 0, axis=1)
    if hkl_offset is not None:
        hkl[indexed] += np.asarray(hkl_offset, dtype=hkl.dtype)
    new, integral = reindex_miller_indices(hkl, P)
    bad = int((indexed & ~integral).sum())
    if bad and strict:
        raise ParameterError(
            f"change_of_basis_op: gives non-integral Miller indices for {bad} of {int(indexed.sum())} indexed "
            "reflections; it does not describe a sublattice of this indexing"
        )
    table["miller_index"] = new
    return table, bad


__all__ = [
    "check_cell_compatible",
    "check_reflections_match",
    "parse_change_of_basis",
    "reindex_crystal",
    "reindex_experiments",
    "reindex_miller_indices",
    "reindex_reflections",
    "symmetrise_crystal",
    "transform_space_group",
]


def _op_from(rot: np.ndarray, tran: np.ndarray) -> gemmi.Op:
    op = gemmi.Op()
    op.rot = [[int(v) for v in row] for row in np.rint(rot * gemmi.Op.DEN).astype(int)]
    op.tran = [int(v) % gemmi.Op.DEN for v in np.rint(tran * gemmi.Op.DEN).astype(int)]
    return op


def transform_space_group(space_group: gemmi.SpaceGroup, P: np.ndarray) -> gemmi.SpaceGroup | None:
    """The space group in the basis [a' b' c'] = [a b c] P (x = P x'), or None if that setting
    is not one gemmi tabulates."""
    P = np.asarray(P, dtype=np.float64)
    pinv = np.linalg.inv(P)
    ops = space_group.operations()
    lattice = [np.array(c, dtype=np.float64) / gemmi.Op.DEN for c in ops.cen_ops]
    lattice += [pinv[:, k] for k in range(3)]  # old lattice translations in new coordinates
    new_ops = []
    for op in ops.sym_ops:
        R = np.array(op.rot, dtype=np.float64) / gemmi.Op.DEN
        t = np.array(op.tran, dtype=np.float64) / gemmi.Op.DEN
        new_ops.append(_op_from(pinv @ R @ P, pinv @ t))
    cen: set[tuple[int, ...]] = {(0, 0, 0)}
    frontier = [np.zeros(3)]
    steps = [pinv @ v if i < len(ops.cen_ops) else v for i, v in enumerate(lattice)]
    while frontier:
        nxt = []
        for f in frontier:
            for s in steps:
                v = np.mod(np.rint((f + s) * gemmi.Op.DEN), gemmi.Op.DEN)
                key = tuple(int(x) for x in v)
                if key not in cen:
                    if len(cen) > 8:
                        return None
                    cen.add(key)
                    nxt.append(v / gemmi.Op.DEN)
        frontier = nxt
    all_ops = [o.combine(_op_from(np.eye(3), np.array(c) / gemmi.Op.DEN)) for o in new_ops for c in cen]
    try:
        return gemmi.find_spacegroup_by_ops(gemmi.GroupOps(all_ops))
    except (RuntimeError, ValueError):
        return None
