"""The global parameter vector of an experiment list and its mapping onto the models.

Models shared between experiments (same object) are parameterised once. The full vector
holds every parameter (fixed ones included); `free` selects the refined ones.

Scan-varying crystals (algorithms.md 5.6): each orientation / unit-cell parameter becomes a
set of smoother sample values (names `..._sample<i>`, laid out parameter-major: parameter j,
sample s at column j * n_values + s). The state at frame t is built from the smoothed values
p_j(t) = sum_s w_s(t) p_js, so d state / d p_js = d state / d p_j * w_s(t).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from braggflow.algorithms.refinement.params import ParameterisationParams
from braggflow.algorithms.refinement.parameterisation.beam import BeamParameterisation
from braggflow.algorithms.refinement.parameterisation.crystal import (
    CrystalOrientationParameterisation,
    CrystalUnitCellParameterisation,
)
from braggflow.algorithms.refinement.parameterisation.detector import DetectorParameterisation, panel_groups
from braggflow.algorithms.refinement.parameterisation.smoother import GaussianSmoother, n_intervals
from braggflow.errors import InputDataError, ParameterError
from braggflow.phil import AUTO
from braggflow.model import ExperimentList


@dataclass(frozen=True)
class ExperimentDerivatives:
    """Model derivatives for one experiment and the global (full-vector) columns they fill.

    ds0 : (kb, 3); dA : (kc, 3, 3); dd : (kd, n_panels, 3, 3).
    """

    ds0: np.ndarray
    dA: np.ndarray
    dd: np.ndarray
    beam_cols: np.ndarray
    crystal_cols: np.ndarray
    detector_cols: np.ndarray

    @property
    def columns(self) -> np.ndarray:
        return np.concatenate([self.beam_cols, self.crystal_cols, self.detector_cols]).astype(np.int64)


def _unique_index(items: list) -> tuple[list, list[int]]:
    uniq: list = []
    index: list[int] = []
    for item in items:
        for k, u in enumerate(uniq):
            if u is item:
                index.append(k)
                break
        else:
            uniq.append(item)
            index.append(len(uniq) - 1)
    return uniq, index


def _fix_by_list(names: tuple[str, ...], fix_list: tuple[str, ...] | None) -> np.ndarray:
    fixed = np.zeros(len(names), dtype=bool)
    for item in fix_list or ():
        if str(item).isdigit():
            if int(item) < len(names):
                fixed[int(item)] = True
            continue
        for k, name in enumerate(names):
            if str(item) in name:
                fixed[k] = True
    return fixed


def _smoother_for(scan, model_params, overall_width: float | None) -> GaussianSmoother:
    sm = model_params.smoother
    width = overall_width if overall_width is not None else sm.interval_width_degrees
    if width is AUTO or width is None:
        width = 36.0  # DIALS' centroid analysis (interval width Auto) is not implemented
    lo, hi = scan.oscillation_range_deg
    return GaussianSmoother(scan.array_range, n_intervals(hi - lo, width, sm.absolute_num_intervals))


class PredictionParameterisation:
    """All model parameterisations of an experiment list (static, or scan-varying crystals)."""

    def __init__(
        self, experiments: ExperimentList, params: ParameterisationParams | None = None, scan_varying: bool | None = None
    ) -> None:
        params = params or ParameterisationParams()
        if scan_varying is None:
            scan_varying = params.scan_varying is True
        self.experiments = experiments
        self.smoothers: dict[tuple[str, int], GaussianSmoother] = {}
        self.beams, self._beam_of = _unique_index([e.beam for e in experiments])
        self.detectors, self._det_of = _unique_index([e.detector for e in experiments])
        self.crystals, self._cry_of = _unique_index([e.crystal for e in experiments])
        names: list[str] = []
        values: list[np.ndarray] = []
        fixed: list[np.ndarray] = []
        self._slices: dict[tuple[str, int], np.ndarray] = {}

        def add(kind: str, k: int, label: str, local_names, initial, fix_mask) -> None:
            start = sum(len(v) for v in values)
            nv = self.smoothers[(kind, k)].n_values if (kind, k) in self.smoothers else 1
            initial, fix_mask = np.repeat(initial, nv), np.repeat(fix_mask, nv)
            self._slices[(kind, k)] = np.arange(start, start + len(initial))
            if nv > 1:
                names.extend(f"{label}{k + 1}{n}_sample{i}" for n in local_names for i in range(nv))
            else:
                names.extend(f"{label}{k + 1}{n}" for n in local_names)
            values.append(np.asarray(initial, dtype=np.float64))
            fixed.append(np.asarray(fix_mask, dtype=bool))

        self.beam_params = []
        for k, beam in enumerate(self.beams):
            gonio = next((e.goniometer for e, b in zip(experiments, self._beam_of) if b == k), None)
            bp = BeamParameterisation(beam, gonio)
            self.beam_params.append(bp)
            fix = set(params.beam.fix or ())
            mask = np.array(["all" in fix or "in_spindle_plane" in fix, "all" in fix or "out_spindle_plane" in fix,
                             "all" in fix or "wavelength" in fix])
            add("beam", k, "Beam", bp.names, bp.initial, mask | _fix_by_list(bp.names, params.beam.fix_list))

        self.orientation_params, self.cell_params = [], []
        cfix = params.crystal.fix
        for k, crystal in enumerate(self.crystals):
            op = CrystalOrientationParameterisation(crystal.U)
            cp = CrystalUnitCellParameterisation(crystal.B, crystal.space_group)
            self.orientation_params.append(op)
            self.cell_params.append(cp)
            sv_o = scan_varying and not params.crystal.orientation.force_static
            sv_c = scan_varying and not params.crystal.unit_cell.force_static
            if sv_o or sv_c:
                scans = [e.scan for e, c in zip(experiments, self._cry_of) if c == k]
                goniometers = [e.goniometer for e, c in zip(experiments, self._cry_of) if c == k]
                if any(sc is None or sc.is_still or g is None for sc, g in zip(scans, goniometers)):
                    raise InputDataError(
                        f"crystal {k + 1}", "has no rotation scan and goniometer; scan-varying refinement needs a "
                        "rotation sweep (set refinement.parameterisation.scan_varying=False)"
                    )
                if any(sc is not scans[0] and (sc.image_range != scans[0].image_range
                       or sc.oscillation_start_deg != scans[0].oscillation_start_deg) for sc in scans):
                    raise InputDataError(
                        f"crystal {k + 1}", "is shared by experiments with different scans; a scan-varying crystal "
                        "must belong to one scan (give each sweep its own crystal model)"
                    )
                if sv_o:
                    self.smoothers[("orientation", k)] = _smoother_for(scans[0], params.crystal.orientation, params.interval_width_degrees)
                if sv_c:
                    self.smoothers[("cell", k)] = _smoother_for(scans[0], params.crystal.unit_cell, params.interval_width_degrees)
            omask = np.full(3, cfix in ("all", "orientation")) | _fix_by_list(op.names, params.crystal.orientation.fix_list)
            cmask = np.full(len(cp.names), cfix in ("all", "cell")) | _fix_by_list(cp.names, params.crystal.unit_cell.fix_list)
            add("orientation", k, "Crystal", op.names, op.initial, omask)
            add("cell", k, "Crystal", cp.names, cp.initial, cmask)

        self.detector_params = []
        dp_ = params.detector
        for k, det in enumerate(self.detectors):
            if dp_.panels == "single" and len(det) > 1:
                raise ParameterError(
                    f"refinement.parameterisation.detector.panels=single: detector {k + 1} has "
                    f"{len(det)} panels; use panels=automatic"
                )
            level = dp_.hierarchy_level if dp_.panels == "hierarchical" else 0
            dpar = DetectorParameterisation(det, panel_groups(det, level))
            self.detector_params.append(dpar)
            dfix = dp_.fix
            mask = np.array([
                dfix == "all" or (dfix in ("position", "distance") and n.endswith("Dist"))
                or (dfix == "position" and "Shift" in n) or (dfix == "orientation" and "Tau" in n)
                for n in dpar.names
            ])
            add("detector", k, "Detector", dpar.names, dpar.initial, mask | _fix_by_list(dpar.names, dp_.fix_list))

        self.names = tuple(names)
        self.initial = np.concatenate(values) if values else np.zeros(0)
        self.free = ~np.concatenate(fixed) if fixed else np.zeros(0, dtype=bool)

    # -- vectors -------------------------------------------------------------------------
    @property
    def free_names(self) -> tuple[str, ...]:
        return tuple(n for n, f in zip(self.names, self.free) if f)

    def full_from_free(self, p_free: np.ndarray) -> np.ndarray:
        full = self.initial.copy()
        full[self.free] = p_free
        return full

    def fix(self, names_to_fix: list[str]) -> None:
        """Fix parameters by full name (auto-reduction)."""
        for name in names_to_fix:
            self.free[self.names.index(name)] = False

    def model_columns(self) -> dict[tuple[str, int], np.ndarray]:
        return dict(self._slices)

    def experiment_models(self, i: int) -> tuple[int, int, int]:
        """(beam, crystal, detector) model indices of experiment i."""
        return self._beam_of[i], self._cry_of[i], self._det_of[i]

    # -- scan-varying helpers --------------------------------------------------------------
    @property
    def is_scan_varying(self) -> bool:
        return bool(self.smoothers)

    def experiment_is_scan_varying(self, i: int) -> bool:
        c = self._cry_of[i]
        return ("orientation", c) in self.smoothers or ("cell", c) in self.smoothers

    def _values_at(self, kind: str, k: int, full: np.ndarray, t: float | None) -> tuple[np.ndarray, np.ndarray | None]:
        """Parameter values of a model at frame t and the smoother weights (None if static)."""
        cols = self._slices[(kind, k)]
        sm = self.smoothers.get((kind, k))
        if sm is None:
            return full[cols], None
        if t is None:
            raise ValueError(f"{kind} {k} is scan-varying: a frame is needed")
        w = sm.weights(float(t))
        return full[cols].reshape(-1, sm.n_values) @ w, w

    def crystal_UB(self, full: np.ndarray, k: int, t: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(U, B) of crystal model k at frame t (t ignored for static crystals)."""
        vo, _ = self._values_at("orientation", k, full, t)
        vc, _ = self._values_at("cell", k, full, t)
        return self.orientation_params[k].U(vo), self.cell_params[k].B(vc)

    def scan_point_frames(self, k: int) -> np.ndarray:
        """Integer frames t0..t1 (frame boundaries) of the scan of scan-varying crystal k."""
        sm = self.smoothers.get(("orientation", k)) or self.smoothers[("cell", k)]
        t0 = int(round(sm.t0))
        t1 = int(round(sm.t0 + sm.spacing * sm.num_intervals))
        return np.arange(t0, t1 + 1)

    def A_at_scan_points(self, full: np.ndarray, k: int) -> np.ndarray:
        out = []
        for t in self.scan_point_frames(k):
            U, B = self.crystal_UB(full, k, float(t))
            out.append(U @ B)
        return np.array(out)

    # -- models --------------------------------------------------------------------------
    def compose(self, full: np.ndarray) -> ExperimentList:
        """Experiment list with every parameterised model rebuilt from `full`.

        A scan-varying crystal gets A_at_scan_points at every frame boundary of its scan and,
        as its static A, the state at the centre of the scan (its B_covariance is kept).
        """
        beams = [bp.compose(full[self._slices[("beam", k)]]) for k, bp in enumerate(self.beam_params)]
        dets = [dp.compose(full[self._slices[("detector", k)]]) for k, dp in enumerate(self.detector_params)]
        crystals = []
        for k, crystal in enumerate(self.crystals):
            if ("orientation", k) in self.smoothers or ("cell", k) in self.smoothers:
                frames = self.scan_point_frames(k)
                U, B = self.crystal_UB(full, k, 0.5 * (frames[0] + frames[-1]))
                crystals.append(crystal.replace(A=U @ B, A_at_scan_points=self.A_at_scan_points(full, k)))
                continue
            U, B = self.crystal_UB(full, k)
            crystals.append(crystal.replace(A=U @ B, A_at_scan_points=None, B_covariance=None))
        out = ExperimentList()
        for i, e in enumerate(self.experiments):
            b, c, d = self.experiment_models(i)
            out.append(e.replace(beam=beams[b], detector=dets[d], crystal=crystals[c]))
        return out

    def derivatives(self, full: np.ndarray, i: int, t: float | None = None) -> ExperimentDerivatives:
        """Derivatives of s0, A and the panel d matrices of experiment i at `full` (and, for a
        scan-varying crystal, at frame t: only smoother samples with non-zero weight appear)."""
        b, c, d = self.experiment_models(i)
        bcols = self._slices[("beam", b)]
        ocols, ccols = self._slices[("orientation", c)], self._slices[("cell", c)]
        dcols = self._slices[("detector", d)]
        ds0 = self.beam_params[b].ds0_dp(full[bcols])
        op, cp = self.orientation_params[c], self.cell_params[c]
        vo, wo = self._values_at("orientation", c, full, t)
        vc, wc = self._values_at("cell", c, full, t)
        U, B = op.U(vo), cp.B(vc)
        dA_o, dA_c = op.dU_dp(vo) @ B, U @ cp.dB_dp(vc)
        dA_parts, cols = [], []
        for dA, w, allcols in ((dA_o, wo, ocols), (dA_c, wc, ccols)):
            if w is None:
                dA_parts.append(dA)
                cols.append(allcols)
                continue
            nz = np.nonzero(w)[0]
            grid = allcols.reshape(len(dA), -1)
            dA_parts.append((dA[:, None] * w[nz][None, :, None, None]).reshape(-1, 3, 3))
            cols.append(grid[:, nz].reshape(-1))
        dd = self.detector_params[d].dd_dp(full[dcols])
        return ExperimentDerivatives(ds0, np.concatenate(dA_parts), dd, bcols, np.concatenate(cols), dcols)


__all__ = ["ExperimentDerivatives", "PredictionParameterisation"]
