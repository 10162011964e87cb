"""Minimisers: Gauss-Newton, Levenberg-Marquardt and L-BFGS (scipy), algorithms.md 5.5.

Each records the RMSDs at every accepted step (step 0 is the starting point) and stops with
one of DIALS' termination messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.optimize

from braggflow.algorithms.refinement.target import Evaluation

RMSD_TARGET = "RMSD target achieved"
RMSD_PLATEAU = "RMSD no longer decreasing"
STEP_TOO_SMALL = "Step too small"
MAX_ITERATIONS = "Reached maximum number of iterations"
OBJECTIVE_INCREASED = "Refinement failure: objective increased"
NO_FREEDOM = "Not enough degrees of freedom to refine"

DEFAULT_MAX_ITERATIONS = {"GaussNewton": 20, "LevMar": 100, "SparseLevMar": 100, "SimpleLBFGS": 100, "LBFGScurvs": 100}


@dataclass
class History:
    """RMSDs (3,) and number of reflections at each step."""

    rmsds: list[np.ndarray] = field(default_factory=list)
    rmsds_px: list[np.ndarray] = field(default_factory=list)
    nref: list[int] = field(default_factory=list)

    def record(self, ev: Evaluation) -> None:
        self.rmsds.append(np.array(ev.rmsds))
        self.rmsds_px.append(np.array(ev.rmsds_px))
        self.nref.append(int(ev.ok.sum()))


@dataclass(frozen=True)
class MinimiserResult:
    p: np.ndarray
    history: History
    message: str
    normal_matrix: np.ndarray | None  # J^T W J at the solution (free parameters)
    evaluation: Evaluation


def termination(history: History, cutoffs: np.ndarray) -> str | None:
    """DIALS' RMSD tests: all RMSDs below cutoffs, or relative changes all < 1e-4."""
    current = history.rmsds[-1]
    if np.all(current < cutoffs):
        return RMSD_TARGET
    if len(history.rmsds) >= 2:
        previous = history.rmsds[-2]
        with np.errstate(divide="ignore", invalid="ignore"):
            change = np.where(previous > 0, np.abs((current - previous) / previous), 0.0)
        if np.all(change < 1e-4):
            return RMSD_PLATEAU
    return None


Evaluate = Callable[[np.ndarray, bool], Evaluation]


def gauss_newton(evaluate: Evaluate, p0: np.ndarray, cutoffs: np.ndarray, max_iterations: int) -> MinimiserResult:
    p = np.array(p0, dtype=np.float64)
    history = History()
    ev = evaluate(p, True)
    history.record(ev)
    message = termination(history, cutoffs)
    iteration = 0
    while message is None:
        if iteration >= max_iterations:
            message = MAX_ITERATIONS
            break
        iteration += 1
        jtj, g = ev.jacobian.T @ ev.jacobian, ev.jacobian.T @ ev.weighted_residuals
        delta = _solve(jtj, -g)
        if np.linalg.norm(delta) < 1e-14 * max(1.0, np.linalg.norm(p)):
            message = STEP_TOO_SMALL
            break
        trial = evaluate(p + delta, True)
        if trial.objective > ev.objective * (1 + 1e-12):
            message = OBJECTIVE_INCREASED
            break
        p, ev = p + delta, trial
        history.record(ev)
        message = termination(history, cutoffs)
    return MinimiserResult(p, history, message, ev.jacobian.T @ ev.jacobian, ev)


def levenberg_marquardt(evaluate: Evaluate, p0: np.ndarray, cutoffs: np.ndarray, max_iterations: int) -> MinimiserResult:
    p = np.array(p0, dtype=np.float64)
    history = History()
    ev = evaluate(p, True)
    history.record(ev)
    jtj, g = ev.jacobian.T @ ev.jacobian, ev.jacobian.T @ ev.weighted_residuals
    mu = 1e-3 * float(np.max(np.diag(jtj))) if jtj.size else 0.0
    nu = 2.0
    message = termination(history, cutoffs) or MAX_ITERATIONS
    for _ in range(0 if message != MAX_ITERATIONS else max_iterations):
        accepted = False
        while not accepted:
            delta = _solve(jtj + mu * np.eye(len(p)), -g)
            if np.linalg.norm(delta) < 1e-14 * max(1.0, np.linalg.norm(p)):
                return MinimiserResult(p, history, STEP_TOO_SMALL, jtj, ev)
            trial = evaluate(p + delta, True)
            predicted = 0.5 * float(delta @ (mu * delta - g))
            rho = (ev.objective - trial.objective) / predicted if predicted > 0 else -1.0
            if rho > 0:
                p, ev = p + delta, trial
                mu *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
                nu = 2.0
                accepted = True
            else:
                mu *= nu
                nu *= 2.0
                if nu >= 8192:
                    return MinimiserResult(p, history, STEP_TOO_SMALL, jtj, ev)
        jtj, g = ev.jacobian.T @ ev.jacobian, ev.jacobian.T @ ev.weighted_residuals
        history.record(ev)
        stop = termination(history, cutoffs)
        if stop:
            message = stop
            break
    return MinimiserResult(p, history, message, jtj, ev)


class _Stop(Exception):
    pass


def lbfgs(
    evaluate: Evaluate, p0: np.ndarray, cutoffs: np.ndarray, max_iterations: int, *, curvatures: bool = False
) -> MinimiserResult:
    """scipy L-BFGS-B on the target; `curvatures` preconditions with diag(J^T W J) at the start."""
    p0 = np.array(p0, dtype=np.float64)
    ev0 = evaluate(p0, True)
    scale = np.ones_like(p0)
    if curvatures:
        diag = np.sum(ev0.jacobian**2, axis=0)
        scale = 1.0 / np.sqrt(np.where(diag > 0, diag, 1.0))
    history = History()
    history.record(ev0)
    cache: dict[bytes, Evaluation] = {}
    state = {"message": MAX_ITERATIONS, "last": ev0, "p": p0}

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        ev = evaluate(p0 + x * scale, True)
        cache[x.tobytes()] = ev
        return ev.objective, (ev.jacobian.T @ ev.weighted_residuals) * scale

    def callback(intermediate_result) -> None:  # type: ignore[no-untyped-def]
        x = intermediate_result.x
        ev = cache.get(x.tobytes()) or evaluate(p0 + x * scale, True)
        history.record(ev)
        state["last"], state["p"] = ev, p0 + x * scale
        stop = termination(history, cutoffs)
        if stop:
            state["message"] = stop
            raise StopIteration

    res = scipy.optimize.minimize(
        fun, np.zeros_like(p0), jac=True, method="L-BFGS-B", callback=callback,
        options={"maxiter": max_iterations, "ftol": 1e-14, "gtol": 1e-12},
    )
    if state["message"] == MAX_ITERATIONS and res.nit < max_iterations:
        state["message"] = RMSD_PLATEAU
    ev = state["last"]
    return MinimiserResult(state["p"], history, state["message"], ev.jacobian.T @ ev.jacobian, ev)


def minimise(engine: str, evaluate: Evaluate, p0: np.ndarray, cutoffs: np.ndarray, max_iterations: int | None) -> MinimiserResult:
    """Run the named DIALS engine (SparseLevMar runs the dense LevMar)."""
    n_iter = max_iterations or DEFAULT_MAX_ITERATIONS[engine]
    if engine == "GaussNewton":
        return gauss_newton(evaluate, p0, cutoffs, n_iter)
    if engine in ("LevMar", "SparseLevMar"):
        return levenberg_marquardt(evaluate, p0, cutoffs, n_iter)
    return lbfgs(evaluate, p0, cutoffs, n_iter, curvatures=engine == "LBFGScurvs")


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(a, b, rcond=None)[0]


__all__ = [
    "History",
    "MAX_ITERATIONS",
    "MinimiserResult",
    "NO_FREEDOM",
    "OBJECTIVE_INCREASED",
    "RMSD_PLATEAU",
    "RMSD_TARGET",
    "STEP_TOO_SMALL",
    "gauss_newton",
    "lbfgs",
    "levenberg_marquardt",
    "minimise",
    "termination",
]
