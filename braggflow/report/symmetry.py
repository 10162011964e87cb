"""Symmetry report: element scores, subgroup scores (dials.symmetry/pointless style) and the
verdict. Pure functions: results in, rich renderables out."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from braggflow.algorithms.symmetry.driver import SymmetryResult

__all__ = ["element_table", "subgroup_table", "verdict", "summary"]


def element_table(result: SymmetryResult) -> Table:
    t = Table(title="Scoring individual symmetry elements", title_justify="left")
    for h in ("likelihood", "Z-CC", "CC", "N", "", "Operator"):
        t.add_column(h, justify="right" if h not in ("", "Operator") else "left")
    for e in result.laue.elements:
        t.add_row(f"{e.likelihood:.3f}", f"{e.z_cc:.2f}", f"{e.cc:.2f}", str(e.n_pairs), "***" if e.likelihood > 0.9 else "", e.element.label)
    return t


def subgroup_table(result: SymmetryResult, max_rows: int = 12) -> Table:
    t = Table(title="Scoring all possible sub-groups", title_justify="left")
    for h in ("Patterson group", "", "Likelihood", "NetZcc", "Zcc+", "Zcc-", "CC+", "CC-", "delta", "Reindex operator"):
        t.add_column(h, justify="left" if h in ("Patterson group", "", "Reindex operator") else "right")
    for i, s in enumerate(result.laue.subgroups[:max_rows]):
        name = s.name.patterson if s.name else s.label
        reindex = _cb(s.name.P) if s.name is not None else "-"
        t.add_row(name, "***" if i == 0 else "", f"{s.likelihood:.3f}", f"{s.net_z_cc:.2f}", f"{s.z_cc_for:.2f}", f"{s.z_cc_against:.2f}",
                  f"{s.cc_for:.2f}", f"{s.cc_against:.2f}", "", reindex)
    return t


def _cb(P) -> str:  # noqa: ANN001
    """abc notation of (a' b' c') = (a b c) P."""
    import numpy as np

    P = np.asarray(P, float)
    parts = []
    for col in range(3):
        terms = []
        for row, axis in enumerate("abc"):
            v = P[row, col]
            if abs(v) < 1e-9:
                continue
            coef = "" if abs(abs(v) - 1) < 1e-9 else (f"{abs(v):g}" if abs(v - round(v)) < 1e-9 else f"{abs(v):.3g}")
            terms.append(("-" if v < 0 else "+") + coef + axis)
        s = "".join(terms)
        parts.append(s[1:] if s.startswith("+") else s)
    return ",".join(parts)


def verdict(result: SymmetryResult) -> Text:
    best = result.laue.best
    lines = [f"Best solution: {best.name.patterson if best.name else best.label}  (likelihood {best.likelihood:.3f}, NetZcc {best.net_z_cc:.2f})"]
    subs = result.laue.subgroups
    if len(subs) > 1 and subs[1].likelihood > 0.2 * best.likelihood:
        other = subs[1].name.patterson if subs[1].name else subs[1].label
        lines.append(f"Warning: the next solution {other} is close (likelihood {subs[1].likelihood:.3f}); check for pseudo-symmetry")
    lines.append(f"Space group: {result.space_group.hm} (No. {result.space_group.number})")
    if result.absences is not None and result.absences.alternatives:
        lines.append("Indistinguishable by absences: " + ", ".join(sg.hm for sg in result.absences.alternatives))
    if result.reindexed:
        lines.append(f"Reindexing operator: {_cb(result.P)}")
    c = result.data.cell
    lines.append(f"Unit cell: {c.a:.3f} {c.b:.3f} {c.c:.3f} {c.alpha:.2f} {c.beta:.2f} {c.gamma:.2f}")
    return Text("\n".join(lines))


def absences_table(result: SymmetryResult) -> Table | None:
    if result.absences is None or not result.absences.candidates:
        return None
    t = Table(title="Systematic absences (screw axes)", title_justify="left")
    for h in ("Space group", "N absent observed", "<I/sigI> of absent", "Consistent"):
        t.add_column(h)
    for c in result.absences.candidates:
        t.add_row(c.space_group.hm, str(c.n_absent_observed), f"{c.mean_isig_absent:.2f}", "yes" if c.consistent else "no")
    return t


def summary(result: SymmetryResult) -> Group:
    parts = [element_table(result), subgroup_table(result)]
    ab = absences_table(result)
    if ab is not None:
        parts.append(ab)
    parts.append(verdict(result))
    return Group(*parts)
