"""Rich renderables for braggflow.integrate: the tutorial's two summary tables, the profile
model and the timing/memory lines."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from braggflow.algorithms.integration.statistics import IntegrationSummary

__all__ = ["resolution_table", "overall_table", "profile_model_text", "summary"]

_COLUMNS = ("d min", "d max", "# full", "# part", "# over", "# ice", "# sum", "# prf", "<Ibg>",
            "<I/sigI>\n(sum)", "<I/sigI>\n(prf)", "<CC prf>")


def resolution_table(s: IntegrationSummary) -> Table:
    table = Table(title="Summary of integration results binned by resolution", box=box.SIMPLE_HEAD)
    for name in _COLUMNS:
        table.add_column(name, justify="right")
    for b in s.bins:
        table.add_row(f"{b.d_min:.2f}", f"{b.d_max:.2f}", str(b.n_full), str(b.n_partial), str(b.n_overloaded),
                      str(b.n_ice), str(b.n_summed), str(b.n_fitted), f"{b.mean_background:.2f}",
                      f"{b.mean_i_over_sigma_sum:.2f}", f"{b.mean_i_over_sigma_prf:.2f}", f"{b.mean_cc_prf:.2f}")
    return table


def overall_table(s: IntegrationSummary) -> Table:
    o = s.overall
    table = Table(title="Summary of integration results for the whole dataset", box=box.SIMPLE_HEAD, show_header=False)
    table.add_column("item")
    table.add_column("value", justify="right")
    rows = (
        ("Number fully recorded", str(o.n_full)),
        ("Number partially recorded", str(o.n_partial)),
        ("Number with invalid background pixels", str(s.n_invalid_background)),
        ("Number with invalid foreground pixels", str(s.n_invalid_foreground)),
        ("Number with overloaded pixels", str(o.n_overloaded)),
        ("Number in powder rings", str(o.n_ice)),
        ("Number processed with summation", str(o.n_summed)),
        ("Number processed with profile fitting", str(o.n_fitted)),
        ("Number failed in background modelling", str(s.n_failed_background)),
        ("Number failed in summation", str(s.n_failed_summation)),
        ("Number failed in profile fitting", str(s.n_failed_fitting)),
        ("<Ibg>", f"{o.mean_background:.2f}"),
        ("<I/sigI> (summation)", f"{o.mean_i_over_sigma_sum:.2f}"),
        ("<I/sigI> (profile fitting)", f"{o.mean_i_over_sigma_prf:.2f}"),
        ("<CC prf>", f"{o.mean_cc_prf:.2f}"),
    )
    for k, v in rows:
        table.add_row(k, v)
    return table


def profile_model_text(sigma_b_deg: float, sigma_m_deg: float, n_refl: int, source: str) -> Text:
    return Text(f"Profile model ({source}, {n_refl} reference reflections): sigma_b = {sigma_b_deg:.4f} deg, "
                f"sigma_m = {sigma_m_deg:.4f} deg")


def summary(s: IntegrationSummary) -> Group:
    return Group(resolution_table(s), overall_table(s))
