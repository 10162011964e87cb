"""Least-squares target: L = 1/2 sum(w_X r_X^2 + w_Y r_Y^2 + w_phi r_phi^2) (algorithms.md 5.1).

Residuals r = calc - obs in mm, mm, rad; weights w = 1 / xyzobs.mm.variance. The model is
evaluated for a fixed working set of reflections given as flat arrays per experiment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from braggflow.algorithms.refinement.parameterisation import PredictionParameterisation
from braggflow.algorithms.refinement.prediction import predict_observed


@dataclass(frozen=True)
class Observations:
    """The working set: one row per reflection; `exp` is the experiment index."""

    exp: np.ndarray  # (n,) int
    miller_index: np.ndarray  # (n, 3)
    panel: np.ndarray  # (n,) int
    entering: np.ndarray | None  # (n,) bool
    xyzobs_mm: np.ndarray  # (n, 3)
    weights: np.ndarray  # (n, 3)
    px_scale: np.ndarray  # (n, 3) residual (mm, mm, rad) -> (px, px, images) divisors
    frame: np.ndarray | None = None  # (n,) frame t of the model state (scan-varying experiments)

    def __len__(self) -> int:
        return len(self.exp)

    def select(self, mask: np.ndarray) -> "Observations":
        return Observations(
            self.exp[mask], self.miller_index[mask], self.panel[mask],
            None if self.entering is None else self.entering[mask], self.xyzobs_mm[mask], self.weights[mask],
            self.px_scale[mask], None if self.frame is None else self.frame[mask],
        )

    def with_frame(self, frame: np.ndarray | None) -> "Observations":
        return Observations(
            self.exp, self.miller_index, self.panel, self.entering, self.xyzobs_mm, self.weights, self.px_scale, frame
        )


@dataclass(frozen=True)
class Evaluation:
    """Residuals (n, 3), objective L, unweighted RMSDs (3,) and, if asked, the weighted
    Jacobian (3n, k free) and weighted residual vector (3n,) with rows [X..., Y..., phi...]."""

    residuals: np.ndarray
    objective: float
    rmsds: np.ndarray
    rmsds_px: np.ndarray
    ok: np.ndarray
    jacobian: np.ndarray | None
    weighted_residuals: np.ndarray


def rmsds(residuals: np.ndarray) -> np.ndarray:
    """RMSD of each column of (n, 3) residuals."""
    if len(residuals) == 0:
        return np.zeros(3)
    return np.sqrt(np.mean(residuals**2, axis=0))


def _groups(pp: PredictionParameterisation, obs: Observations) -> list[tuple[int, float | None, np.ndarray]]:
    """(experiment, frame or None, rows) groups sharing one model state."""
    out = []
    for i in np.unique(obs.exp):
        rows = np.nonzero(obs.exp == i)[0]
        if not pp.experiment_is_scan_varying(int(i)):
            out.append((int(i), None, rows))
            continue
        if obs.frame is None:
            raise ValueError("scan-varying prediction needs Observations.frame")
        frames = obs.frame[rows]
        for t in np.unique(frames):
            out.append((int(i), float(t), rows[frames == t]))
    return out


def predict_all(
    pp: PredictionParameterisation, full: np.ndarray, obs: Observations, *, jacobian: bool = False,
    free_index: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """calc (n, 3), s1 (n, 3), ok (n,) and, if asked, the unweighted Jacobian (n, 3, n_free)
    of the observations with the models of `full` (scan-varying crystals at each row's frame)."""
    experiments = pp.compose(full)
    n = len(obs)
    calc, s1, ok = np.zeros((n, 3)), np.zeros((n, 3)), np.zeros(n, dtype=bool)
    if free_index is None:
        free_index = np.cumsum(pp.free) - 1
        free_index[~pp.free] = -1
    n_free = int(pp.free.sum())
    jac = np.zeros((n, 3, n_free)) if jacobian else None
    for i, t, rows in _groups(pp, obs):
        exp = experiments[i]
        if t is not None:
            U, B = pp.crystal_UB(full, pp.experiment_models(i)[1], t)
            exp = exp.replace(crystal=exp.crystal.replace(A=U @ B, A_at_scan_points=None))
        derivs = pp.derivatives(full, i, t) if jacobian else None
        pred = predict_observed(
            exp, obs.miller_index[rows], obs.panel[rows], obs.xyzobs_mm[rows, 2],
            None if obs.entering is None else obs.entering[rows], derivs,
        )
        calc[rows], s1[rows], ok[rows] = pred.xyzcal_mm, pred.s1, pred.ok
        if jacobian:
            target_cols = free_index[pred.columns]
            keep = target_cols >= 0
            tc = target_cols[keep]
            jac[rows[:, None], 0, tc[None, :]] = pred.dX[:, keep]
            jac[rows[:, None], 1, tc[None, :]] = pred.dY[:, keep]
            jac[rows[:, None], 2, tc[None, :]] = pred.dphi[:, keep]
    return calc, s1, ok, jac


class Target:
    """Evaluates the least-squares target of a working set for a parameter vector."""

    def __init__(self, parameterisation: PredictionParameterisation, obs: Observations) -> None:
        self.pp = parameterisation
        self.obs = obs
        self._sqrt_w = np.sqrt(obs.weights)

    def jacobian_unweighted(self, p_free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, 3, n_free) gradients of (X, Y, phi) and ok (n,) at p_free."""
        _, _, ok, jac = predict_all(self.pp, self.pp.full_from_free(p_free), self.obs, jacobian=True)
        return jac, ok

    def evaluate(self, p_free: np.ndarray, jacobian: bool = True) -> Evaluation:
        full = self.pp.full_from_free(p_free)
        obs = self.obs
        n = len(obs)
        calc, _, ok, jac_full = predict_all(self.pp, full, obs, jacobian=jacobian)
        resid = np.where(ok[:, None], calc - obs.xyzobs_mm, 0.0)
        wres = (resid * self._sqrt_w).T.reshape(-1)
        jac = None
        if jacobian:
            jw = jac_full * self._sqrt_w[:, :, None]
            jac = jw.transpose(1, 0, 2).reshape(3 * n, -1)
        return Evaluation(
            resid, 0.5 * float(wres @ wres), rmsds(resid[ok]), rmsds(resid[ok] / obs.px_scale[ok]), ok, jac, wres
        )


__all__ = ["Evaluation", "Observations", "Target", "predict_all", "rmsds"]
