"""Merging statistics report: the aimless-style summary (Overall / InnerShell / OuterShell)
and the per-resolution-shell table. Pure: MergingStatistics in, rich renderables out."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table

from braggflow.algorithms.merging.statistics import MergingStatistics, ShellStatistics

__all__ = ["summary_table", "shell_table", "summary"]


def _f(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def summary_table(stats: MergingStatistics, title: str = "Summary data") -> Table:
    o, i, x = stats.overall, stats.inner, stats.outer
    t = Table(title=title, title_justify="left")
    t.add_column("")
    for h in ("Overall", "InnerShell", "OuterShell"):
        t.add_column(h, justify="right")

    def row(label: str, fn, fmt: str) -> None:  # noqa: ANN001
        t.add_row(label, *(_f(fn(s), fmt) for s in (o, i, x)))

    row("Low resolution limit", lambda s: s.d_max, ".2f")
    row("High resolution limit", lambda s: s.d_min, ".2f")
    t.add_row("", "", "", "")
    row("Rmerge  (within I+/I-)", lambda s: s.r_merge_anom, ".3f")
    row("Rmerge  (all I+ and I-)", lambda s: s.r_merge, ".3f")
    row("Rmeas (within I+/I-)", lambda s: s.r_meas_anom, ".3f")
    row("Rmeas (all I+ & I-)", lambda s: s.r_meas, ".3f")
    row("Rpim (within I+/I-)", lambda s: s.r_pim_anom, ".3f")
    row("Rpim (all I+ & I-)", lambda s: s.r_pim, ".3f")
    row("Total number of observations", lambda s: s.n_obs, "d")
    row("Total number unique", lambda s: s.n_uniq, "d")
    row("Mean((I)/sd(I))", lambda s: s.i_over_sigma_mean, ".1f")
    t.add_row("Mn(I) half-set correlation CC(1/2)", _f(stats.cc_one_half_overall(), ".3f"), _f(i.cc_one_half, ".3f"), _f(x.cc_one_half, ".3f"))
    row("Completeness", lambda s: 100 * s.completeness, ".1f")
    row("Multiplicity", lambda s: s.multiplicity, ".1f")
    t.add_row("", "", "", "")
    row("Anomalous completeness", lambda s: 100 * s.anom_completeness, ".1f")
    row("Anomalous multiplicity", lambda s: s.anom_multiplicity, ".1f")
    row("DelAnom correlation between half-sets", lambda s: s.cc_anom, ".3f")
    return t


def shell_table(stats: MergingStatistics) -> Table:
    t = Table(title="Merging statistics by resolution shell", title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, collapse_padding=True)
    heads = ("d_max", "d_min", "#obs", "#uniq", "mult.", "%comp", "<I/sI>", "r_mrg", "r_meas", "r_pim", "cc1/2", "cc_ano")
    for h in heads:
        t.add_column(h, justify="right", no_wrap=True)

    def add(s: ShellStatistics) -> None:
        t.add_row(_f(s.d_max, ".2f"), _f(s.d_min, ".2f"), str(s.n_obs), str(s.n_uniq), _f(s.multiplicity, ".2f"), _f(100 * s.completeness, ".2f"),
                  _f(s.i_over_sigma_mean, ".1f"), _f(s.r_merge, ".3f"), _f(s.r_meas, ".3f"), _f(s.r_pim, ".3f"),
                  _f(s.cc_one_half, ".3f") + ("*" if s.cc_one_half_significant else ""), _f(s.cc_anom, ".3f"))

    for s in stats.bins:
        add(s)
    add(stats.overall)
    return t


def summary(stats: MergingStatistics, title: str = "Summary data") -> Group:
    return Group(shell_table(stats), summary_table(stats, title))
