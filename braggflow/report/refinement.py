"""Refinement report tables, shaped like DIALS' (see the advanced tutorial):

- "Summary statistics for observations matched to predictions"
- "Refinement steps" (Step | Nref | RMSD_X (mm) | RMSD_Y (mm) | RMSD_Phi (deg))
- "RMSDs by experiment" (Exp | Nref | RMSD_X (px) | RMSD_Y (px) | RMSD_Z (images))

Pure functions: a RefinementResult in, rich renderables out.
"""

from __future__ import annotations

import numpy as np
from rich.box import Box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from braggflow.algorithms.refinement import RefinementResult

# DIALS' tables: dashed rules above, below the header and at the bottom; '|' column separators
DIALS_BOX = Box("----\n| ||\n----\n| ||\n----\n----\n| ||\n----\n", ascii=True)


def _g(value: float, digits: int) -> str:
    return f"{value:.{digits}g}"


def _table(title: str | None, headers: list[str]) -> Table:
    table = Table(title=title, box=DIALS_BOX, title_justify="left", show_edge=True, pad_edge=True, safe_box=True)
    for h in headers:
        table.add_column(h, justify="left", no_wrap=True)
    return table


def observation_summary(result: RefinementResult) -> Table:
    """Five-number summaries of the initial residuals (mm, mm, deg) and weights (1/mm^2, 1/mm^2,
    1/deg^2) of the working set."""
    resid = np.asarray(result.initial_residuals if result.initial_residuals is not None else np.zeros((0, 3)))
    weights = np.asarray(result.weights if result.weights is not None else np.zeros((0, 3)))
    table = _table("Summary statistics for observations matched to predictions:", ["", "Min", "Q1", "Med", "Q3", "Max"])
    rows = [
        ("Xc - Xo (mm)", resid[:, 0]),
        ("Yc - Yo (mm)", resid[:, 1]),
        ("Phic - Phio (deg)", np.degrees(resid[:, 2])),
        ("X weights", weights[:, 0]),
        ("Y weights", weights[:, 1]),
        ("Phi weights", weights[:, 2] * np.radians(1.0) ** 2),  # 1/deg^2, as DIALS prints them
    ]
    for label, values in rows:
        if len(values) == 0:
            table.add_row(label, *(["-"] * 5))
            continue
        five = np.percentile(values, [0, 25, 50, 75, 100])
        table.add_row(label, *(_g(v, 4) for v in five))
    return table


def refinement_steps(result: RefinementResult) -> Table:
    """One row per step: RMSDs in mm, mm and degrees."""
    table = _table("Refinement steps", ["Step\n", "Nref\n", "RMSD_X\n(mm)", "RMSD_Y\n(mm)", "RMSD_Phi\n(deg)"])
    for step in result.steps:
        table.add_row(
            str(step.iteration), str(step.n_ref), _g(step.rmsd_x_mm, 5), _g(step.rmsd_y_mm, 5), _g(step.rmsd_phi_deg, 5)
        )
    return table


def rmsds_by_experiment(result: RefinementResult) -> Table:
    """Final RMSDs per experiment in pixels and images."""
    table = _table("RMSDs by experiment", ["Exp\n", "Nref\n", "RMSD_X\n(px)", "RMSD_Y\n(px)", "RMSD_Z\n(images)"])
    for row in result.rmsds_by_experiment:
        table.add_row(
            str(row.experiment), str(row.n_ref), _g(row.rmsd_x_px, 5), _g(row.rmsd_y_px, 5), _g(row.rmsd_z_images, 5)
        )
    return table


def summary(result: RefinementResult) -> Group:
    """The three tables in DIALS order with the termination message after the steps."""
    return Group(observation_summary(result), refinement_steps(result), Text(result.termination), rmsds_by_experiment(result))


__all__ = ["DIALS_BOX", "observation_summary", "refinement_steps", "rmsds_by_experiment", "summary"]
