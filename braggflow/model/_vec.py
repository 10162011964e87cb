"""Small vector helpers shared by the models (pure numpy)."""

from __future__ import annotations

import numpy as np


def as_vec3(value: object) -> np.ndarray:
    """Return a float64 (3,) copy of a 3-vector."""
    arr = np.array(value, dtype=np.float64).reshape(3)
    return arr


def as_mat3(value: object) -> np.ndarray:
    """Return a float64 (3, 3) copy of a 3x3 matrix given flat (row-major) or nested."""
    return np.array(value, dtype=np.float64).reshape(3, 3)


def unit(v: np.ndarray) -> np.ndarray:
    """Unit vector(s) along the last axis."""
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def rotation_matrix(axis: np.ndarray, angle_rad: float | np.ndarray) -> np.ndarray:
    """Right-handed rotation(s) by angle about a unit axis (Rodrigues); (3,3) or (n,3,3)."""
    k = unit(axis)
    angle = np.asarray(angle_rad, dtype=np.float64)
    c, s = np.cos(angle)[..., None, None], np.sin(angle)[..., None, None]
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return c * np.eye(3) + s * kx + (1.0 - c) * np.outer(k, k)


__all__ = ["as_vec3", "as_mat3", "unit", "rotation_matrix"]
