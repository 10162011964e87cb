"""Background models (algorithms.md 7.5) as kernel options.

- glm: robust Poisson (Huber, c = 1.345) constant per shoebox (constant3d) or per frame
  (constant2d), `_kernels.glm_constant`.
- simple: constant3d / constant2d / linear2d / linear3d least-squares planes after outlier
  rejection (null, nsigma, truncated, normal, plane, tukey), `_kernels.robust_keep`.
- Auto: glm when every panel has gain 1 and a PAD sensor, else simple.
The pixels used are marked BackgroundUsed; fewer than min_pixels usable background pixels
fail the reflection (failed_during_background_modelling).
"""

from __future__ import annotations

import numpy as np

from braggflow.errors import ParameterError
from braggflow.model import Detector

__all__ = ["resolve_algorithm", "background_options", "SIMPLE_MODELS", "OUTLIERS"]

SIMPLE_MODELS = {"constant3d": 0, "constant2d": 1, "linear2d": 2, "linear3d": 3}
OUTLIERS = {"null": 0, "nsigma": 1, "truncated": 2, "tukey": 3, "normal": 4, "plane": 5}


def resolve_algorithm(algorithm: str, detector: Detector) -> str:
    if algorithm != "auto":
        return algorithm
    pad = all(p.gain == 1.0 and "PAD" in p.type.upper() for p in detector)
    return "glm" if pad else "simple"


def background_options(bg, detector: Detector) -> np.ndarray:  # type: ignore[no-untyped-def]
    """(6,) float array: algorithm, model, outlier, lower, upper, min_pixels (see integrate_group)."""
    algo = resolve_algorithm(bg.algorithm, detector)
    if algo == "null":
        raise ParameterError("integration.background.algorithm = null: integration needs a background model; use glm or simple")
    if algo == "glm":
        model = {"constant3d": 0, "constant2d": 1}.get(bg.glm.model.algorithm)
        if model is None:
            raise ParameterError(f"integration.background.glm.model.algorithm = {bg.glm.model.algorithm}: not implemented; "
                                 "use constant3d or constant2d")
        return np.array([0.0, float(model), 0.0, 0.0, 0.0, float(bg.glm.min_pixels)])
    s = bg.simple
    out = s.outlier
    lower, upper = {"nsigma": (out.nsigma.lower, out.nsigma.upper), "truncated": (out.truncated.lower, out.truncated.upper),
                    "tukey": (out.tukey.lower, out.tukey.upper)}.get(out.algorithm, (3.0, 3.0))
    return np.array([1.0, float(SIMPLE_MODELS[s.model.algorithm]), float(OUTLIERS[out.algorithm]), lower, upper,
                     float(s.min_pixels)])
