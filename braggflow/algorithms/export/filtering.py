"""Reflection filtering and corrections before export (algorithms.md 8.1).

Follows DIALS 3.12 `dials.util.filter_reflections.filter_reflection_table` step by step, and
counts every removal so the program can print the tutorial's log lines:

1. id >= 0 ("Read N predicted reflections");
2. rows integrated by every requested method (scaled: not bad_for_scaling, g > 0);
3. variance <= 0 for any exported intensity removed ("Removing N [profile] reflections
   with negative variance");
4. optional ice rings and d_min (d from the best cell);
5. corrections: conv = lp/qe (qe <= 0 removed); prf I*conv; sum I*conv/partiality
   (partiality <= 0 removed); scale I/g, var/g^2;
6. partials combined, FRACTIONCALC = partiality, partiality < threshold removed
   ("Removing N incomplete reflections");
7. I/sigma < min_isigi removed per intensity kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from braggflow.errors import InputDataError, ParameterError
from braggflow.model.reflections import Flags, ReflectionTable

from .partials import combine_partials

__all__ = ["FilterOptions", "FilterReport", "choose_intensities", "filter_for_export"]

# user names (PHIL) -> reflection-table names, in DIALS' processing order
_KIND = {"sum": "sum", "profile": "prf", "scale": "scale"}
_ORDER = ("sum", "prf", "scale")
_FLAG = {"sum": Flags.integrated_sum, "prf": Flags.integrated_prf}


@dataclass(frozen=True)
class FilterOptions:
    partiality_threshold: float = 0.4
    combine_partials: bool = True
    min_isigi: float | None = -5.0
    filter_ice_rings: bool = False
    d_min: float | None = None


@dataclass
class FilterReport:
    """What each step removed (DIALS' log lines are made from these numbers)."""

    kinds: tuple[str, ...] = ()
    n_read: int = 0
    n_selected: int = 0
    negative_variance: dict[str, int] = field(default_factory=dict)
    n_bad_scale: int = 0
    n_ice: int = 0
    n_d_min: int = 0
    n_bad_qe: int = 0
    n_zero_partiality: int = 0
    n_combined: int = 0
    n_incomplete: int = 0
    low_isigi: dict[str, int] = field(default_factory=dict)
    n_final: int = 0
    notes: list[str] = field(default_factory=list)


def choose_intensities(table: ReflectionTable, requested: tuple[str, ...]) -> tuple[str, ...]:
    """Table kinds ("sum", "prf", "scale") to export; "auto": scale if scaled, else sum+prf."""
    if not requested or "auto" in requested:
        if "intensity.scale.value" in table and "intensity.scale.variance" in table:
            return ("scale",)
        kinds = tuple(k for k in ("sum", "prf") if f"intensity.{k}.value" in table)
        if not kinds:
            raise InputDataError("reflections", "no intensity columns; export needs integrated (or scaled) reflections")
        return kinds
    unknown = [r for r in requested if r not in _KIND]
    if unknown:
        raise ParameterError(f"intensity = {'+'.join(requested)}: choose from auto, profile, sum, scale")
    kinds = tuple(k for k in _ORDER if k in {_KIND[r] for r in requested})
    if kinds == ("prf", "scale"):
        raise ParameterError("intensity = profile+scale is not supported; use scale, profile+sum or profile+sum+scale")
    for kind in kinds:
        needed = {f"intensity.{kind}.value", f"intensity.{kind}.variance"} | ({"inverse_scale_factor"} if kind == "scale" else set())
        missing = sorted(needed - set(table.keys()))
        if missing:
            raise InputDataError("reflections", f"cannot export intensity '{kind}': missing column(s) {', '.join(missing)}")
    return kinds


def _require_rows(table: ReflectionTable, step: str) -> ReflectionTable:
    if len(table) == 0:
        raise InputDataError("reflections", f"no reflections left after {step}; check the input or relax the filters")
    return table


def _select_integrated(table: ReflectionTable, kinds: tuple[str, ...], report: FilterReport) -> ReflectionTable:
    keep = np.ones(len(table), dtype=bool)
    for kind in ("sum", "prf"):
        if kind in kinds:
            keep &= table.get_flags(_FLAG[kind])
    table = _require_rows(table.select(keep), "selecting integrated reflections")
    report.n_selected = len(table)
    if "scale" in kinds:
        table = _require_rows(table.select(~table.get_flags(Flags.bad_for_scaling, all=False)), "removing scaling outliers")
        report.n_selected = len(table)
        bad = table["inverse_scale_factor"] <= 0
        report.n_bad_scale = int(bad.sum())
        table = _require_rows(table.select(~bad), "removing zero scale factors")
    return table


def _without_missing_profiles(table: ReflectionTable, kinds: tuple[str, ...], report: FilterReport) -> tuple[str, ...]:
    """DIALS falls back to the other kinds when nothing was profile fitted."""
    if "prf" not in kinds or table.get_flags(Flags.integrated_prf).any():
        return kinds
    remaining = tuple(k for k in kinds if k != "prf")
    if not remaining:
        raise InputDataError("reflections", "no profile-fitted reflections (flag integrated_prf); use intensity=sum")
    report.notes.append(f"No profile-integrated reflections found; exporting intensity = {'+'.join(remaining)}")
    report.kinds = remaining
    return remaining


def _drop_bad_variances(table: ReflectionTable, kinds: tuple[str, ...], report: FilterReport) -> ReflectionTable:
    for kind in kinds:
        bad = table[f"intensity.{kind}.variance"] <= 0
        if kind in _FLAG:
            bad &= table.get_flags(_FLAG[kind])
        report.negative_variance[kind] = int(bad.sum())
        table = _require_rows(table.select(~bad), f"removing {kind} reflections with negative variance")
    return table


def _lp_qe(table: ReflectionTable, report: FilterReport) -> tuple[ReflectionTable, np.ndarray]:
    qe_name = "qe" if "qe" in table else ("dqe" if "dqe" in table else None)
    if qe_name is not None:
        good = table[qe_name] > 0
        report.n_bad_qe += int((~good).sum())
        table = _require_rows(table.select(good), "removing reflections with qe <= 0")
    conversion = np.ones(len(table))
    if qe_name is not None:
        conversion = conversion / table[qe_name]
    if "lp" in table:
        conversion = conversion * table["lp"]
    return table, conversion


def _drop_zero_partiality(table: ReflectionTable, conversion: np.ndarray | None, report: FilterReport):  # type: ignore[no-untyped-def]
    if "partiality" not in table:
        return table, conversion
    good = table["partiality"] > 0
    report.n_zero_partiality += int((~good).sum())
    table = _require_rows(table.select(good), "removing reflections with zero partiality")
    return table, None if conversion is None else conversion[good]


def _scale(table: ReflectionTable, kind: str, factor: np.ndarray) -> None:
    table[f"intensity.{kind}.value"] = table[f"intensity.{kind}.value"] * factor
    table[f"intensity.{kind}.variance"] = table[f"intensity.{kind}.variance"] * factor * factor


def _apply_corrections(table: ReflectionTable, kinds: tuple[str, ...], report: FilterReport) -> ReflectionTable:
    table = table.copy()
    if kinds == ("prf",):
        table, _ = _drop_zero_partiality(table, None, report)
        table, conversion = _lp_qe(table, report)
        _scale(table, "prf", conversion)
    elif "sum" in kinds or "prf" in kinds:
        table, conversion = _lp_qe(table, report)
        table, conversion = _drop_zero_partiality(table, conversion, report)
        if "prf" in kinds:
            _scale(table, "prf", conversion)
        partiality = table["partiality"] if "partiality" in table else 1.0
        _scale(table, "sum", conversion / partiality)
    if "scale" in kinds:
        table, _ = _drop_zero_partiality(table, None, report)
        _scale(table, "scale", 1.0 / table["inverse_scale_factor"])
    return table


def _partials(table: ReflectionTable, kinds: tuple[str, ...], options: FilterOptions, report: FilterReport) -> ReflectionTable:
    if "partiality" not in table:
        table = table.copy()
        table["fractioncalc"] = np.ones(len(table))
        return table
    if options.combine_partials:
        table, report.n_combined = combine_partials(table, kinds)
    table = table.copy()
    table["fractioncalc"] = table["partiality"].copy()
    low = table["partiality"] < options.partiality_threshold
    report.n_incomplete = int(low.sum())
    return _require_rows(table.select(~low), f"removing reflections with partiality < {options.partiality_threshold}")


def _drop_low_isigi(table: ReflectionTable, kinds: tuple[str, ...], min_isigi: float, report: FilterReport) -> ReflectionTable:
    for kind in kinds:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = table[f"intensity.{kind}.value"] / np.sqrt(table[f"intensity.{kind}.variance"])
        low = ratio < min_isigi
        report.low_isigi[kind] = int(low.sum())
        table = _require_rows(table.select(~low), f"removing {kind} reflections with I/sigma < {min_isigi}")
    return table


def filter_for_export(
    table: ReflectionTable, kinds: tuple[str, ...], options: FilterOptions, d: np.ndarray | None = None
) -> tuple[ReflectionTable, FilterReport]:
    """The filtered, corrected table and the counts of each step.

    d : (n,) resolution of every row (Angstrom) from the best cell; used for d_min.
    """
    report = FilterReport(kinds=kinds)
    if len(table) == 0:
        raise InputDataError("reflections", "the reflection table is empty")
    table = table.copy()
    if d is not None:
        table["d"] = d
    table = _require_rows(table.select(table["id"] >= 0), "removing reflections without an experiment (id < 0)")
    report.n_read = len(table)
    kinds = _without_missing_profiles(table, kinds, report)
    table = _select_integrated(table, kinds, report)
    for kind in ("sum", "prf", "scale"):
        if kind not in kinds and f"intensity.{kind}.value" in table:
            del table[f"intensity.{kind}.value"]
            if f"intensity.{kind}.variance" in table:
                del table[f"intensity.{kind}.variance"]
    table = _drop_bad_variances(table, kinds, report)
    if options.filter_ice_rings:
        ice = table.get_flags(Flags.in_powder_ring)
        report.n_ice = int(ice.sum())
        table = _require_rows(table.select(~ice), "removing reflections in ice rings")
    if options.d_min:
        low = table["d"] <= options.d_min
        report.n_d_min = int(low.sum())
        table = _require_rows(table.select(~low), f"removing reflections with d <= {options.d_min}")
    table = _apply_corrections(table, kinds, report)
    table = _partials(table, kinds, options, report)
    if options.min_isigi:
        table = _drop_low_isigi(table, kinds, options.min_isigi, report)
    report.n_final = len(table)
    return table, report
