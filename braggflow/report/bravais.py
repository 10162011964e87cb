"""The refine_bravais_settings table (DIALS 3.12 layout, plus the crystal system), the
chiral space groups of each lattice, and the one-line reindex summary.

Pure functions: a BravaisResult in, rich renderables or strings out.
"""

from __future__ import annotations

import numpy as np
from rich.box import ASCII2
from rich.table import Table

from braggflow.algorithms.bravais import BravaisResult

# chiral space groups of each Bravais lattice (as dials.refine_bravais_settings prints them)
CHIRAL_SPACE_GROUPS = {
    "aP": "P1",
    "mP": "P2 P21",
    "mC": "C2",
    "mI": "I2",
    "oP": "P222 P2221 P21212 P212121",
    "oC": "C2221 C222",
    "oF": "F222",
    "oI": "I222 I212121",
    "tP": "P4 P41 P42 P43 P422 P4212 P4122 P41212 P4222 P42212 P4322 P43212",
    "tI": "I4 I41 I422 I4122",
    "hR": "R3 R32",
    "hP": "P3 P31 P32 P312 P321 P3112 P3121 P3212 P3221 P6 P61 P65 P62 P64 P63 P622 P6122 P6522 P6222 P6422 P6322",
    "cP": "P23 P213 P432 P4232 P4332 P4132",
    "cF": "F23 F432 F4132",
    "cI": "I23 I213 I432 I4132",
}

HEADERS = ("Solution", "Metric fit", "rmsd", "min/max cc", "#spots", "crystal_system", "lattice", "unit_cell", "volume", "cb_op")


def space_group_lines(result: BravaisResult) -> list[str]:
    seen = []
    for r in reversed(result.settings):
        if r.setting.bravais not in seen:
            seen.append(r.setting.bravais)
    return ["Chiral space groups corresponding to each Bravais lattice:"] + [f"{b}: {CHIRAL_SPACE_GROUPS[b]}" for b in seen]


def rows(result: BravaisResult) -> list[tuple[str, ...]]:
    """The table cells as DIALS formats them (rmsd in mm; '-' when refinement failed)."""
    out = []
    for r in result.settings:
        cc = "-/-" if r.min_cc is None or r.max_cc is None else f"{r.min_cc:.3f}/{r.max_cc:.3f}"
        out.append((
            f"{'*' if r.recommended else ' '}{r.setting_number:7d}",
            f"{r.setting.max_angular_difference:6.4f}",
            "-" if r.rmsd is None else f"{r.rmsd:5.3f}",
            cc,
            "-" if r.nspots is None else f"{r.nspots:d}",
            r.setting.crystal_system,
            r.setting.bravais,
            "%6.2f %6.2f %6.2f %6.2f %6.2f %6.2f" % tuple(r.unit_cell),
            f"{r.volume:.0f}",
            r.setting.cb_op,
        ))
    return out


def bravais_table(result: BravaisResult) -> Table:
    table = Table(box=ASCII2, show_edge=True, caption="* = recommended solution", caption_justify="left")
    for h in HEADERS:
        table.add_column(h, justify="right" if h in ("Solution", "Metric fit", "rmsd", "#spots", "volume") else "left", no_wrap=True)
    for row in rows(result):
        table.add_row(*row)
    return table


def table_text(result: BravaisResult) -> str:
    """The table as plain text in DIALS' layout (no wrapping at any terminal width)."""
    body = rows(result)
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(HEADERS)]
    right = {"Solution", "Metric fit", "rmsd", "#spots", "volume"}

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.rjust(w) if h in right else c.ljust(w) for c, w, h in zip(cells, widths, HEADERS)) + " |"

    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [rule, line(HEADERS), rule.replace("-", "-"), *(line(r) for r in body), rule, "* = recommended solution"]
    return "\n".join(out)


def failures(result: BravaisResult) -> list[str]:
    return [f"Solution {r.setting_number} ({r.setting.bravais}): refinement failed: {r.failure}" for r in result.settings if r.failure]


def recommended_line(result: BravaisResult) -> str:
    best = next((r for r in result.settings if r.recommended), None)
    if best is None:
        return "No solution is recommended."
    c = np.round(best.unit_cell, 2)
    return (
        f"Highest-symmetry recommended solution: {best.setting_number} ({best.setting.bravais}, cell "
        f"{' '.join(f'{v:g}' for v in c)}, cb_op {best.setting.cb_op})"
    )


__all__ = [
    "CHIRAL_SPACE_GROUPS",
    "HEADERS",
    "bravais_table",
    "failures",
    "recommended_line",
    "rows",
    "space_group_lines",
    "table_text",
]
