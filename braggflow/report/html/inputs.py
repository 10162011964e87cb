"""Sorting the report's inputs: which table feeds which section, and which experiments go with
a table (by identifier, else by whether its spots fit the detector and scan)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from braggflow.model import ExperimentList
from braggflow.model.reflections import Flags, ReflectionTable

__all__ = ["ReportInputs", "table_stage", "normalise_inputs", "describe", "STAGES"]

STAGES = ("strong", "indexed", "integrated", "scaled")


def table_stage(table: ReflectionTable) -> str:
    """'scaled', 'integrated', 'indexed' or 'strong' from the columns present."""
    if "inverse_scale_factor" in table or "intensity.scale.value" in table:
        return "scaled"
    if any(c in table for c in ("intensity.prf.value", "background.mean", "profile.correlation", "partiality")):
        return "integrated"
    if "flags" in table and table.get_flags(Flags.integrated, all=False).any():
        return "integrated"
    if "miller_index" in table:
        return "indexed"
    return "strong"


def _named(items, prefix: str, kind: type) -> list[tuple[str, object]]:  # type: ignore[no-untyped-def]
    if items is None:
        return []
    if isinstance(items, kind):
        return [(f"{prefix} 1", items)]
    if isinstance(items, Mapping):
        return [(str(k), v) for k, v in items.items()]
    out = []
    for i, item in enumerate(items):
        out.append((str(item[0]), item[1]) if isinstance(item, tuple) else (f"{prefix} {i + 1}", item))
    return out


@dataclass
class ReportInputs:
    """Named experiment lists and reflection tables, in the order given."""

    experiments: list[tuple[str, ExperimentList]] = field(default_factory=list)
    reflections: list[tuple[str, ReflectionTable]] = field(default_factory=list)

    def tables(self, stage: str) -> list[tuple[str, ReflectionTable]]:
        return [(n, t) for n, t in self.reflections if table_stage(t) == stage]

    def main_experiments(self) -> tuple[str, ExperimentList] | None:
        """The most processed list (last one with a crystal, else the last one)."""
        with_crystal = [(n, e) for n, e in self.experiments if any(x.crystal is not None for x in e)]
        pool = with_crystal or self.experiments
        return pool[-1] if pool else None

    def experiments_for(self, table: ReflectionTable) -> tuple[str | None, ExperimentList | None, str]:
        """(file name, experiments, remark) for a table; remark is '' when all is well, else a
        sentence (experiments is None when the table does not fit any experiment list)."""
        wanted = set(table.experiment_identifiers.values()) - {""}
        if wanted:
            for name, elist in reversed(self.experiments):
                if wanted <= set(elist.identifiers()):
                    return name, _ordered(elist, table), ""
        main = self.main_experiments()
        if main is None:
            return None, None, "no experiment list was given"
        name, elist = main
        if not _fits(table, elist):
            return None, None, (f"its spots do not fit the detector and scan of {name} "
                                "(files from different experiments?)")
        if wanted:
            return name, elist, (f"its experiment identifiers are not in the experiment files given; the geometry of {name} "
                                 "is used because the spots fit its detector and scan")
        return name, elist, ""


def _ordered(elist: ExperimentList, table: ReflectionTable) -> ExperimentList:
    """Experiments re-ordered so that index = the table's id column."""
    by_id = {e.identifier: e for e in elist}
    ids = table.experiment_identifiers
    if not ids:
        return elist
    n = max(ids) + 1
    out = ExperimentList(by_id[ids[i]] if i in ids else elist[min(i, len(elist) - 1)] for i in range(n))
    return out


def _fits(table: ReflectionTable, elist: ExperimentList) -> bool:
    """Do the table's pixel positions lie on the detector and within the scan of its experiment?"""
    column = next((c for c in ("xyzobs.px.value", "xyzcal.px") if c in table), None)
    if column is None or not len(table) or not len(elist):
        return True
    xyz = np.asarray(table[column])
    ids = np.asarray(table["id"]) if "id" in table else np.zeros(len(table), dtype=np.int32)
    panels = np.asarray(table["panel"]).astype(np.int64) if "panel" in table else np.zeros(len(table), dtype=np.int64)
    if ids.max() >= len(elist):
        return False
    for i, e in enumerate(elist):
        rows = (ids == i) | ((ids < 0) & (i == 0))
        if not rows.any() or e.detector is None:
            continue
        if panels[rows].max() >= len(e.detector.panels):
            return False
        size = np.array([e.detector.panels[p].image_size for p in panels[rows]], dtype=np.float64)
        xy = xyz[rows, :2]
        if np.any((xy < -1) | (xy > size + 1)):
            return False
        if "s1" in table and e.beam is not None and not _s1_agrees(np.asarray(table["s1"])[rows], xy, panels[rows], e):
            return False
        if e.scan is not None and not e.scan.is_still:
            z0, z1 = e.scan.array_range
            z = xyz[rows, 2]
            if np.any((z < z0 - 1) | (z > z1 + 1)):
                return False
    return True


def _s1_agrees(s1: np.ndarray, xy_px: np.ndarray, panels: np.ndarray, experiment) -> bool:  # type: ignore[no-untyped-def]
    """Does the table's s1 have the beam's wavelength and point at the spot's pixel (within 1 %
    and 2 degrees, median over the rows)?"""
    k = np.linalg.norm(s1, axis=1)
    ok = np.isfinite(k) & (k > 0)
    if not ok.any():
        return True
    if abs(np.median(k[ok]) * experiment.beam.wavelength - 1.0) > 0.01:
        return False
    cosines = []
    for p in np.unique(panels[ok]):
        rows = ok & (panels == p)
        panel = experiment.detector.panels[int(p)]
        lab = panel.get_lab_coord(panel.pixel_to_millimeter(xy_px[rows]))
        cosines.append(np.sum(lab * s1[rows], axis=1) / (np.linalg.norm(lab, axis=1) * k[rows]))
    return bool(np.median(np.concatenate(cosines)) > np.cos(np.radians(2.0)))


def normalise_inputs(experiments, reflections) -> ReportInputs:  # type: ignore[no-untyped-def]
    """Accept an ExperimentList / ReflectionTable, a sequence of them, of (name, object) pairs,
    or a name -> object mapping."""
    return ReportInputs(
        experiments=_named(experiments, "experiments", ExperimentList),  # type: ignore[arg-type]
        reflections=_named(reflections, "reflections", ReflectionTable),  # type: ignore[arg-type]
    )


def describe(inputs: ReportInputs) -> list[tuple[str, str]]:
    rows = []
    for name, elist in inputs.experiments:
        parts = [f"{len(elist)} experiment(s)"]
        if any(e.crystal is not None for e in elist):
            parts.append("with crystal")
        if any(e.profile is not None for e in elist):
            parts.append("with profile model")
        rows.append((name, ", ".join(parts)))
    for name, table in inputs.reflections:
        rows.append((name, f"{len(table)} reflections, {table.ncols} columns ({table_stage(table)})"))
    return rows

