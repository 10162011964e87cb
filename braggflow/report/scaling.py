"""Scaling report: model, error model, outliers (pure rich renderables)."""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.table import Table

from braggflow.algorithms.scaling.scaler import ScalingResult

__all__ = ["model_table", "summary"]


def model_table(result: ScalingResult) -> Table:
    m = result.model
    c, b, a = m.split(result.params)
    t = Table(title="Physical scaling model", title_justify="left")
    for h in ("Component", "Parameters", "Range"):
        t.add_column(h)
    t.add_row("scale", str(m.ns), f"{c.min():.3f} - {c.max():.3f}")
    if m.nd:
        t.add_row("decay (B, A^2)", str(m.nd), f"{b.min():.2f} - {b.max():.2f}")
    if m.na:
        t.add_row("absorption (c_lm)", str(m.na), f"max |c| {np.abs(a).max():.4f}")
    return t


def summary(result: ScalingResult) -> Group:
    t = Table(title="Scaling summary", title_justify="left")
    t.add_column("")
    t.add_column("Value", justify="right")
    n_scaled = int(np.isfinite(result.g).sum() - result.outlier.sum())
    t.add_row("Reflections scaled", str(n_scaled))
    t.add_row("Outliers rejected", str(int(result.outlier.sum())))
    t.add_row("Excluded (not scaled)", str(int(result.excluded.sum())))
    t.add_row("Error model a, b", f"{result.error_model.a:.4f}, {result.error_model.b:.4f}")
    t.add_row("Minimisation iterations", str(result.n_iterations))
    g = result.g[np.isfinite(result.g)]
    if len(g):
        t.add_row("Inverse scale factors", f"{g.min():.3f} - {g.max():.3f}")
    return Group(model_table(result), t)
