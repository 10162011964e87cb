"""Per-experiment state shared by the integration passes (private to the subpackage)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from braggflow.algorithms.integration.params import IntegrateParams
from braggflow.model import Experiment
from braggflow.model.reflections import ReflectionTable

Progress = Callable[[str, int], Callable[[int], None]] | None


@dataclass
class IntegrationContext:
    """One experiment being integrated: models, predictions and the run's bookkeeping.

    cols: prediction columns (predict_for_integration); refl_arrays: per-prediction arrays the
    kernels need (panel, e1, e2, phi_c, zeta, xyzcal_px); s1e: effective beam vectors; geom:
    pa (PanelArrays), iset, zfirst, nproc. pred_rows / in_rows: predictions matched to input
    reference spots; ref_rows: those usable as references (|zeta| >= min_zeta); spot_row:
    input row per prediction (-1 if none).
    """

    index: int
    expt: Experiment
    params: IntegrateParams
    table: ReflectionTable
    cols: dict[str, np.ndarray]
    refl_arrays: dict[str, np.ndarray]
    s1e: np.ndarray
    geom: dict[str, Any]
    n_sigma: float
    pred_rows: np.ndarray
    in_rows: np.ndarray
    ref_rows: np.ndarray
    spot_row: np.ndarray
    progress: Progress = None
    warnings: list[str] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)
    memory: dict[str, float] = field(default_factory=dict)

    def add_memory(self, prefix: str, peak_bytes: float, frames: int) -> None:
        """Record a pass's peak shoebox memory (MB, max over experiments) and frames read."""
        key = f"{prefix}_peak_shoebox_MB"
        self.memory[key] = max(self.memory.get(key, 0.0), peak_bytes / 1e6)
        self.memory[f"{prefix}_frames_read"] = self.memory.get(f"{prefix}_frames_read", 0) + frames
