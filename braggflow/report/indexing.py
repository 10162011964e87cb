"""Rich renderables for indexing (dials.index-style crystal model block and indexed counts)."""

from __future__ import annotations

import numpy as np
from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from braggflow.algorithms.indexing.index import IndexingResult
from braggflow.model import Crystal


def _matrix_lines(name: str, m: np.ndarray) -> list[str]:
    rows = [", ".join(f"{v: .4f}" for v in r) for r in m]
    pad = " " * (len(name) + 2)
    return [f"    {name}  {{{{{rows[0]}}},", f"    {pad}{{{rows[1]}}},", f"    {pad}{{{rows[2]}}}}}"]


def crystal_model(crystal: Crystal, n_reflections: int, model_number: int = 1) -> Text:
    """The 'model N (n reflections): Crystal: Unit cell ... U/B/A' block of the DIALS log."""
    c = crystal.unit_cell
    lines = [
        f"model {model_number} ({n_reflections} reflections):",
        "Crystal:",
        f"    Unit cell: {c.a:.3f}, {c.b:.3f}, {c.c:.3f}, {c.alpha:.3f}, {c.beta:.3f}, {c.gamma:.3f}",
        f"    Space group: {crystal.space_group.xhm()}",
    ]
    lines += _matrix_lines("U matrix:", crystal.U)
    lines += _matrix_lines("B matrix:", crystal.B)
    lines += _matrix_lines("A = UB:  ", crystal.A)
    return Text("\n".join(lines))


def indexed_table(result: IndexingResult) -> Table:
    """# indexed / # unindexed / % indexed per imageset."""
    t = Table(box=box.SIMPLE_HEAD)
    for col in ("Imageset", "# indexed", "# unindexed", "% indexed"):
        t.add_column(col, justify="right")
    refl = result.reflections
    iset = np.asarray(refl["imageset_id"]) if "imageset_id" in refl else np.zeros(len(refl), dtype=int)
    ids = np.asarray(refl["id"])
    for i in np.unique(iset):
        sel = iset == i
        n_idx = int(np.count_nonzero(ids[sel] >= 0))
        n_un = int(sel.sum()) - n_idx
        t.add_row(str(int(i)), str(n_idx), str(n_un), f"{100.0 * n_idx / max(int(sel.sum()), 1):.1f}%")
    return t


def summary(result: IndexingResult) -> Group:
    """Final crystal models, the indexed table and the unindexed count."""
    ids = np.asarray(result.reflections["id"])
    parts: list = [Text("Indexed crystal models:")]
    crystals: list[Crystal] = []
    for e in result.experiments:
        if not any(e.crystal is c for c in crystals):
            crystals.append(e.crystal)
    n_sweeps = max(len(result.experiments) // max(len(crystals), 1), 1)
    for k, cr in enumerate(crystals):
        n = int(np.count_nonzero((ids >= k * n_sweeps) & (ids < (k + 1) * n_sweeps)))
        parts.append(crystal_model(cr, n, k + 1))
    parts.append(indexed_table(result))
    parts.append(Text(f"{result.n_unindexed} unindexed reflections"))
    return Group(*parts)


__all__ = ["crystal_model", "indexed_table", "summary"]
