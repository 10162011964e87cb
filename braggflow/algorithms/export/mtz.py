"""Integrated (or scaled) reflections -> unmerged multi-record MTZ (DIALS `dials.export`).

    result = export_mtz(experiments, reflections, params)   # pure: filter, correct, columns
    write_mtz(result, "integrated.mtz")                      # gemmi, atomic

Columns (DIALS 3.12 order): H K L M/ISYM BATCH [IPR SIGIPR] I SIGI [SCALEUSED SIGSCALEUSED]
[BG SIGBG] FRACTIONCALC XDET YDET ROT [LP] QE. XDET/YDET and BATCH come from
`xyzobs.px.value` (as DIALS), ROT from the z of `xyzcal.px` in degrees.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping

import gemmi
import numpy as np

from braggflow import __version__
from braggflow.errors import InputDataError
from braggflow.model import ExperimentList, b_matrix
from braggflow.model.reflections import ReflectionTable

from . import _io
from .filtering import FilterOptions, choose_intensities, filter_for_export
from .geometry import batch_geometry, best_unit_cell, resolve_batch_offsets
from .params import ExportParams
from .result import BatchHeader, MtzColumn, MtzExportResult, MtzSummary

__all__ = ["default_hklout", "experiment_index_of_ids", "export_mtz", "read_mtz_summary", "write_mtz"]


def default_hklout(reflections: ReflectionTable, suffix: str = ".mtz") -> str:
    """DIALS' `auto`: scaled data -> scaled.mtz, else integrated.mtz."""
    scaled = "intensity.scale.value" in reflections and "intensity.scale.variance" in reflections
    return ("scaled" if scaled else "integrated") + suffix


def experiment_index_of_ids(experiments: ExperimentList, reflections: ReflectionTable) -> dict[int, int]:
    """Map each reflection-table id to its experiment's position (by identifier when stored)."""
    ids = np.unique(reflections["id"])
    ids = [int(i) for i in ids if i >= 0]
    known = reflections.experiment_identifiers
    if known:
        positions = {ident: k for k, ident in enumerate(experiments.identifiers())}
        mapping = {}
        for i in sorted(set(ids) | set(known)):
            if i not in known:
                raise InputDataError("reflections", f"id {i} has no experiment identifier; the .refl does not match the .expt")
            if known[i] not in positions:
                raise InputDataError("reflections", f"id {i} is experiment '{known[i]}', which is not in the experiment list; give the matching .expt")
            mapping[i] = positions[known[i]]
        return mapping
    bad = [i for i in ids if i >= len(experiments)]
    if bad:
        raise InputDataError("reflections", f"ids {bad} but only {len(experiments)} experiment(s); give the matching .expt")
    return {i: i for i in ids}


def _check_inputs(experiments: ExperimentList, reflections: ReflectionTable) -> None:
    if len(experiments) == 0:
        raise InputDataError("experiments", "no experiments; give the integrated .expt file")
    for k, e in enumerate(experiments):
        for model in ("crystal", "beam", "detector"):
            if getattr(e, model) is None:
                raise InputDataError("experiments", f"experiment {k} has no {model}; export needs indexed, integrated experiments")
    if len(reflections) == 0:
        raise InputDataError("reflections", "no reflections; give the integrated .refl file")
    for name in ("id", "miller_index", "flags"):
        if name not in reflections:
            raise InputDataError("reflections", f"no '{name}' column; export needs integrated reflections")
    if "intensity.sum.value" not in reflections and "intensity.prf.value" not in reflections:
        raise InputDataError("reflections", "no intensity data; cannot export un-integrated reflections (run integrate first)")
    groups = {e.crystal.space_group.hall.strip() for e in experiments}
    if len(groups) != 1:
        raise InputDataError("experiments", f"experiments have different space groups ({', '.join(sorted(groups))}); reindex them to one")


def match_wavelengths(experiments: ExperimentList, tolerance: float) -> dict[float, list[int]]:
    """Distinct wavelengths (within `tolerance`, Angstrom) -> experiment positions."""
    groups: dict[float, list[int]] = {}
    for k, e in enumerate(experiments):
        w = e.beam.wavelength
        match = next((key for key in groups if math.isclose(w, key, abs_tol=tolerance)), None)
        groups.setdefault(w if match is None else match, []).append(k)
    return groups


def _d_spacing(cell: gemmi.UnitCell, hkl: np.ndarray) -> np.ndarray:
    r = np.asarray(hkl, dtype=np.float64) @ b_matrix(cell).T
    with np.errstate(divide="ignore"):
        return 1.0 / np.linalg.norm(r, axis=1)


def _xyz(table: ReflectionTable, name: str, fallback: str) -> np.ndarray:
    return table[name] if name in table else table[fallback]


def _intensity_columns(table: ReflectionTable, kinds: tuple[str, ...]) -> list[MtzColumn]:
    cols: list[MtzColumn] = []

    def add(label: str, sigma: str, kind: str) -> None:
        cols.append(MtzColumn(label, "J", table[f"intensity.{kind}.value"]))
        cols.append(MtzColumn(sigma, "Q", np.sqrt(table[f"intensity.{kind}.variance"])))

    if "scale" in kinds:
        add("I", "SIGI", "scale")
        cols.append(MtzColumn("SCALEUSED", "R", table["inverse_scale_factor"]))
        var = table["inverse_scale_factor_variance"] if "inverse_scale_factor_variance" in table else np.zeros(len(table))
        cols.append(MtzColumn("SIGSCALEUSED", "R", np.sqrt(np.clip(var, 0, None))))
        return cols
    if "prf" in kinds:
        add(*(("IPR", "SIGIPR") if "sum" in kinds else ("I", "SIGI")), "prf")
    if "sum" in kinds:
        add("I", "SIGI", "sum")
    return cols


def _columns(table: ReflectionTable, kinds: tuple[str, ...], batch: np.ndarray, rot: np.ndarray) -> tuple[MtzColumn, ...]:
    n = len(table)
    hkl = table["miller_index"]
    obs = _xyz(table, "xyzobs.px.value", "xyzcal.px")
    cols = [MtzColumn(x, "H", hkl[:, i]) for i, x in enumerate("HKL")]
    cols += [MtzColumn("M/ISYM", "Y", np.zeros(n)), MtzColumn("BATCH", "B", batch)]
    cols += _intensity_columns(table, kinds)
    if "background.sum.value" in table and "background.sum.variance" in table:
        cols.append(MtzColumn("BG", "R", table["background.sum.value"]))
        cols.append(MtzColumn("SIGBG", "R", np.sqrt(np.clip(table["background.sum.variance"], 0, None))))
    cols.append(MtzColumn("FRACTIONCALC", "R", table["fractioncalc"]))
    cols += [MtzColumn("XDET", "R", obs[:, 0]), MtzColumn("YDET", "R", obs[:, 1]), MtzColumn("ROT", "R", rot)]
    if "lp" in table:
        cols.append(MtzColumn("LP", "R", table["lp"]))
    qe = table["qe"] if "qe" in table else (table["dqe"] if "dqe" in table else np.ones(n))
    cols.append(MtzColumn("QE", "R", qe))
    return tuple(cols)


def _batches(experiments: ExperimentList, positions: list[int], offsets: list[int], dataset_of: Mapping[int, tuple[int, float]], force_static: bool) -> list[BatchHeader]:
    out: list[BatchHeader] = []
    top = 0
    for k in positions:
        e = experiments[k]
        geo = batch_geometry(e, force_static)
        first = e.scan.image_range[0] if e.scan is not None else 0
        start = max(offsets[k] + first - 1, top)  # DIALS add_dials_batches
        dataset_id, wavelength = dataset_of[k]
        for i in range(len(geo.cells)):
            out.append(
                BatchHeader(
                    number=start + i + 1, dataset_id=dataset_id, wavelength=wavelength,
                    cell=tuple(geo.cells[i]), umat=geo.umat[i],
                    phi_start_deg=float(geo.phi_start_deg[i]), phi_range_deg=float(geo.phi_range_deg[i]),
                    axis=tuple(geo.axis), source=tuple(geo.source), distance_mm=geo.distance_mm,
                    image_size=geo.image_size, mosaicity_deg=float(e.crystal.mosaicity or 0.0),
                )
            )
        top = max(top, start + len(geo.cells))
    return out


def _history() -> tuple[str, ...]:
    stamp = time.strftime("%Y-%m-%d at %H:%M:%S %Z")
    return (f"From braggflow {__version__}, run on {stamp}",)


def export_mtz(experiments: ExperimentList, reflections: ReflectionTable, params: ExportParams) -> MtzExportResult:
    """Filter, correct and lay out `reflections` as MTZ columns and batch headers."""
    _check_inputs(experiments, reflections)
    mp = params.mtz
    id_to_pos = experiment_index_of_ids(experiments, reflections)
    cell = gemmi.UnitCell(*mp.best_unit_cell) if mp.best_unit_cell else best_unit_cell(experiments)
    kinds = choose_intensities(reflections, tuple(params.intensity))
    options = FilterOptions(mp.partiality_threshold, mp.combine_partials, mp.min_isigi, mp.filter_ice_rings, mp.d_min)
    table, report = filter_for_export(reflections, kinds, options, d=_d_spacing(cell, reflections["miller_index"]))
    kinds = report.kinds
    offsets = resolve_batch_offsets(experiments)
    positions = [id_to_pos[i] for i in sorted(id_to_pos)]
    wavelengths = match_wavelengths(experiments, mp.wavelength_tolerance)
    dataset_of = {k: (d + 1, w) for d, (w, members) in enumerate(wavelengths.items()) for k in members}
    ids = table["id"]
    lookup = np.zeros(max(id_to_pos) + 1, dtype=np.int64)
    lookup[list(id_to_pos)] = list(id_to_pos.values())
    pos = lookup[ids]
    z_obs = _xyz(table, "xyzobs.px.value", "xyzcal.px")[:, 2]
    batch = np.floor(z_obs).astype(np.int64) + 1 + np.asarray(offsets, dtype=np.int64)[pos]
    rot = table["xyzcal.px"][:, 2].astype(np.float64).copy()
    for k in set(pos.tolist()):
        scan = experiments[k].scan
        if scan is not None:
            rot[pos == k] = scan.angle_from_array_index(rot[pos == k])
    notes = list(report.notes)
    if any(len(e.detector.panels) != 1 for e in experiments):
        notes.append("Ignoring multiple panels in output MTZ")
    return MtzExportResult(
        title=f"From braggflow.export {__version__}",
        history=_history(),
        space_group=experiments[0].crystal.space_group,
        cell=tuple(cell.parameters),
        project_name=mp.project_name,
        crystal_name=mp.crystal_name,
        dataset_name=mp.dataset_name,
        wavelengths=tuple(wavelengths),
        columns=_columns(table, kinds, batch, rot),
        batches=tuple(_batches(experiments, positions, offsets, dataset_of, mp.force_static_model)),
        filter_report=report,
        notes=tuple(notes),
    )


def write_mtz(result: MtzExportResult, path: str | os.PathLike[str]) -> None:
    """Write `result` as an MTZ file (temporary file + rename)."""
    _io.write_mtz_file(result, path)


def read_mtz_summary(path: str | os.PathLike[str]) -> MtzSummary:
    """The tutorial's summary (iotbx show_summary fields) of an MTZ file."""
    return _io.read_summary(path)
