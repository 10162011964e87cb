"""Rotation-method reflection prediction (static and scan-varying models)."""

from braggflow.algorithms.prediction.rotation import (
    Predictions,
    generate_indices,
    predict_reflections,
    rotation_angles,
)

__all__ = ["Predictions", "generate_indices", "predict_reflections", "rotation_angles"]
