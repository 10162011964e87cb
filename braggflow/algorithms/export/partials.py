"""Combine partial reflections that share a `partial_id` (DIALS `sum_partial_reflections`).

Only rows with partiality < 0.99 and a positive variance for every exported intensity take
part. Within a group (same experiment id and partial_id, more than one row) the first row
keeps the result and the others are removed:

- sum: values and variances added;
- prf: weighted mean with weights I^2/var (value and variance both weighted; DIALS' rule);
- scale: inverse-variance weighted mean;
- partiality: added.
"""

from __future__ import annotations

import numpy as np

from braggflow.model.reflections import ReflectionTable

__all__ = ["combine_partials"]

_COMPLETE = 0.99


def _group_rows(table: ReflectionTable, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, group index per row, first row per group) for groups of more than one row."""
    rows = np.flatnonzero(candidates)
    keys = np.stack([table["id"][rows].astype(np.int64), table["partial_id"][rows].astype(np.int64)], axis=1)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    multi = counts[inverse] > 1
    rows, inverse = rows[multi], inverse[multi]
    _, group = np.unique(inverse, return_inverse=True)
    group = group.reshape(-1)
    first = np.full(group.max() + 1 if group.size else 0, np.iinfo(np.int64).max)
    np.minimum.at(first, group, rows)
    return rows, group, first


def _combine(kind: str, value: np.ndarray, variance: np.ndarray, group: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    if kind == "sum":
        return np.bincount(group, value, n), np.bincount(group, variance, n)
    if kind == "scale":
        total = np.bincount(group, 1.0 / variance, n)
        return np.bincount(group, value / variance, n) / total, 1.0 / total
    weight = value * value / variance
    total = np.bincount(group, weight, n)
    safe = np.where(total != 0, total, 1.0)
    combined = np.where(total != 0, np.bincount(group, weight * value, n) / safe, 0.0)
    combined_var = np.where(total != 0, np.bincount(group, weight * variance, n) / safe, np.bincount(group, variance, n))
    return combined, combined_var


def combine_partials(table: ReflectionTable, kinds: tuple[str, ...]) -> tuple[ReflectionTable, int]:
    """Return (table with partials combined, number of rows removed by combining).

    kinds : the exported intensity kinds among "prf", "sum", "scale".
    """
    if "partiality" not in table or "partial_id" not in table or len(table) == 0:
        return table, 0
    candidates = table["partiality"] < _COMPLETE
    for kind in kinds:
        candidates &= table[f"intensity.{kind}.variance"] > 0
    rows, group, first = _group_rows(table, candidates)
    if rows.size == 0:
        return table, 0
    out = table.copy()
    n = first.size
    for kind in kinds:
        value_col, var_col = f"intensity.{kind}.value", f"intensity.{kind}.variance"
        value, variance = _combine(kind, table[value_col][rows], table[var_col][rows], group, n)
        out[value_col][first] = value
        out[var_col][first] = variance
    out["partiality"][first] = np.bincount(group, table["partiality"][rows], n)
    keep = np.ones(len(table), dtype=bool)
    keep[rows] = False
    keep[first] = True
    return out.select(keep), int(len(table) - keep.sum())
