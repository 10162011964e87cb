"""Refinement in every Bravais setting (DIALS refined_settings_from_refined_triclinic,
algorithms.md 6 steps 4-7): `refine_bravais_settings(experiments, reflections, params)`.

For each setting: change the basis of A, symmetrise the cell to the lattice (metric averaged
over the holohedry), give the crystal the lowest-symmetry space group of the lattice (so the
refinement constrains the cell), re-index, and refine twice (the P1 `used_in_refinement`
reflections without outlier rejection, then all indexed reflections with tukey).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from braggflow.algorithms.bravais.recommend import is_recommended, min_max_cc, symop_correlations
from braggflow.algorithms.bravais.settings import LatticeSetting, find_lattice_settings
from braggflow.algorithms.bravais.types import lowest_space_group
from braggflow.algorithms.refinement import RefinementParams, refine
from braggflow.algorithms.bravais.constrain import closest_constrained_crystal
from braggflow.algorithms.reindex import reindex_reflections
from braggflow.errors import InputDataError, StageFailed
from braggflow.model import ExperimentList
from braggflow.model.reflections import Flags, ReflectionTable


@dataclass(frozen=True)
class BravaisParams:
    """Top-level parameters of refine_bravais_settings (names as in DIALS)."""

    PHIL_PATH: ClassVar[str] = ""
    lepage_max_delta: float = 5.0
    best_monoclinic_beta: bool = True
    cc_n_bins: int | None = None
    crystal_id: int | None = None
    nproc: int | None = None


@dataclass(frozen=True, eq=False)
class RefinedSetting:
    """One row of the Bravais table."""

    setting_number: int
    setting: LatticeSetting
    experiments: ExperimentList  # refined in the setting (unrefined if refinement failed)
    rmsd: float | None  # sqrt(rmsd_x^2 + rmsd_y^2), mm
    nspots: int | None
    correlation_coefficients: tuple[float, ...] = ()
    cc_nrefs: tuple[int, ...] = ()
    min_cc: float | None = None
    max_cc: float | None = None
    recommended: bool = False
    failure: str | None = None

    @property
    def crystal(self):  # type: ignore[no-untyped-def]
        return self.experiments[0].crystal

    @property
    def unit_cell(self) -> tuple[float, ...]:
        return tuple(self.crystal.unit_cell.parameters)

    @property
    def volume(self) -> float:
        return float(self.crystal.unit_cell.volume)


@dataclass(frozen=True)
class BravaisResult:
    settings: list[RefinedSetting] = field(default_factory=list)  # highest symmetry first
    n_reflections: int = 0


def _with_outliers(params: RefinementParams, algorithm: str, iqr_scale: float = 1.0) -> RefinementParams:
    out = params.reflections.outlier
    tukey = dataclasses.replace(out.tukey, iqr_multiplier=out.tukey.iqr_multiplier * iqr_scale)
    outlier = dataclasses.replace(out, algorithm=algorithm, tukey=tukey)
    return dataclasses.replace(params, reflections=dataclasses.replace(params.reflections, outlier=outlier))


def constrained_experiments(experiments: ExperimentList, setting: LatticeSetting) -> ExperimentList:
    """Experiments with the crystal in the setting, symmetrised, in its lowest space group."""
    crystal = experiments[0].crystal.change_basis(setting.P).replace(space_group=lowest_space_group(setting.bravais))
    crystal = closest_constrained_crystal(crystal)
    return ExperimentList(e.replace(crystal=crystal) if e.crystal is not None else e for e in experiments)


def refine_setting(
    experiments: ExperimentList, reflections: ReflectionTable, setting: LatticeSetting, params: RefinementParams
) -> tuple[ExperimentList, float, int]:
    """Two-stage static refinement in `setting`; returns (experiments, rmsd_mm, n_spots)."""
    start = constrained_experiments(experiments, setting)
    table, _ = reindex_reflections(reflections, setting.P, strict=False)
    algorithm = params.reflections.outlier.algorithm
    if algorithm in (None, "auto"):
        algorithm = "tukey"  # DIALS' choice here for rotation data
    used = table.get_flags(Flags.used_in_refinement) if "flags" in table else np.zeros(len(table), dtype=bool)
    if used.any():
        first = refine(start, table.select(used), _with_outliers(params, "null"))
    else:
        first = refine(start, table, _with_outliers(params, "tukey", 2.0))
    final = refine(first.experiments, table, _with_outliers(params, algorithm))
    r = final.rmsds_by_experiment[0]
    return final.experiments, float(np.hypot(r.rmsd_x_mm, r.rmsd_y_mm)), int(sum(e.n_ref for e in final.rmsds_by_experiment))


def _correlations(reflections: ReflectionTable, setting: LatticeSetting, experiments: ExperimentList) -> tuple:
    if "intensity.sum.value" not in reflections or "intensity.sum.variance" not in reflections:
        return (), (), None, None
    var = np.asarray(reflections["intensity.sum.variance"])
    good = var > 0
    table, _ = reindex_reflections(reflections.select(good), setting.P, strict=False)
    ios = np.asarray(table["intensity.sum.value"]) / np.sqrt(np.asarray(table["intensity.sum.variance"]))
    ccs, nrefs = symop_correlations(np.asarray(table["miller_index"]), ios, experiments[0].crystal.space_group)
    lo, hi = min_max_cc(ccs, nrefs)
    return tuple(ccs), tuple(nrefs), lo, hi


def check_inputs(experiments: ExperimentList, reflections: ReflectionTable) -> None:
    crystals = {id(e.crystal) for e in experiments if e.crystal is not None}
    if not crystals:
        raise InputDataError("experiments", "have no crystal model; run index first")
    if len(crystals) > 1:
        raise InputDataError("experiments", "hold more than one crystal; only one crystal can be processed at a time: set crystal_id")
    if experiments[0].crystal.space_group.centring_type() != "P":
        raise InputDataError(
            "experiments", f"crystal is in the centred space group {experiments[0].crystal.space_group.xhm()}; "
            "reindex it to a primitive (P1) setting first"
        )
    hkl = np.asarray(reflections["miller_index"]) if "miller_index" in reflections else np.zeros((0, 3))
    ids = np.asarray(reflections["id"]) if "id" in reflections else np.zeros(0)
    if not np.any(np.any(hkl != 0, axis=1) & (ids >= 0)):
        raise InputDataError("reflections", "contain no indexed reflections; give the indexed.refl written by index")


def refine_bravais_settings(
    experiments: ExperimentList,
    reflections: ReflectionTable,
    params: BravaisParams | None = None,
    refinement: RefinementParams | None = None,
    progress: Callable[[int], None] | None = None,
) -> BravaisResult:
    """Search the Bravais settings of the (single) P1 crystal and refine each of them."""
    params = params or BravaisParams()
    refinement = refinement or RefinementParams()
    check_inputs(experiments, reflections)
    settings = find_lattice_settings(
        experiments[0].crystal.unit_cell, params.lepage_max_delta, params.best_monoclinic_beta
    )
    rows = []
    for i, setting in enumerate(settings):
        number = len(settings) - i
        try:
            refined, rmsd, nspots = refine_setting(experiments, reflections, setting, refinement)
            failure = None
        except StageFailed as exc:
            refined, rmsd, nspots, failure = constrained_experiments(experiments, setting), None, None, str(exc)
        ccs, nrefs, lo, hi = _correlations(reflections, setting, refined)
        rows.append(RefinedSetting(number, setting, refined, rmsd, nspots, ccs, nrefs, lo, hi, failure=failure))
        if progress is not None:
            progress(1)
    rmsd_p1 = rows[-1].rmsd
    rows = [
        dataclasses.replace(r, recommended=is_recommended(r.setting.max_angular_difference, r.rmsd, r.min_cc, rmsd_p1))
        for r in rows
    ]
    return BravaisResult(rows, len(reflections))


def summary_dict(result: BravaisResult) -> dict[str, dict]:
    """bravais_summary.json content (DIALS RefinedSettingsList.as_dict)."""
    out = {}
    for r in result.settings:
        out[str(r.setting_number)] = {
            "max_angular_difference": r.setting.max_angular_difference,
            "rmsd": r.rmsd,
            "nspots": r.nspots,
            "bravais": r.setting.bravais,
            "unit_cell": list(r.unit_cell),
            "cb_op": r.setting.cb_op,
            "max_cc": r.max_cc,
            "min_cc": r.min_cc,
            "correlation_coefficients": [None if not np.isfinite(c) else c for c in r.correlation_coefficients],
            "cc_nrefs": list(r.cc_nrefs),
            "recommended": r.recommended,
        }
    return out


__all__ = [
    "BravaisParams",
    "BravaisResult",
    "RefinedSetting",
    "check_inputs",
    "constrained_experiments",
    "refine_bravais_settings",
    "refine_setting",
    "summary_dict",
]
