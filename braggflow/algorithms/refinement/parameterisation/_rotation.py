"""Rotation matrices about fixed axes and their analytic angle derivatives."""

from __future__ import annotations

import numpy as np

MRAD = 1.0e-3  # radians per parameter unit for every rotation parameter


def _cross_matrix(k: np.ndarray) -> np.ndarray:
    return np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])


def rotation(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Right-handed rotation (3, 3) about the unit vector `axis`."""
    k = np.asarray(axis, dtype=np.float64)
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return c * np.eye(3) + s * _cross_matrix(k) + (1.0 - c) * np.outer(k, k)


def rotation_derivative(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """d rotation(axis, angle) / d angle (per radian), (3, 3)."""
    k = np.asarray(axis, dtype=np.float64)
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return -s * np.eye(3) + c * _cross_matrix(k) + s * np.outer(k, k)


def composed_rotation(axes: np.ndarray, angles_mrad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R = R(axes[0], t0) R(axes[1], t1) ... and dR/dt_i (per mrad), shapes (3,3), (k,3,3)."""
    angles = np.asarray(angles_mrad, dtype=np.float64) * MRAD
    mats = [rotation(a, t) for a, t in zip(axes, angles)]
    dmats = [rotation_derivative(a, t) * MRAD for a, t in zip(axes, angles)]
    total = np.eye(3)
    for m in mats:
        total = total @ m
    derivs = []
    for i in range(len(mats)):
        d = np.eye(3)
        for j, m in enumerate(mats):
            d = d @ (dmats[j] if j == i else m)
        derivs.append(d)
    return total, np.array(derivs).reshape(len(mats), 3, 3)


__all__ = ["MRAD", "rotation", "rotation_derivative", "composed_rotation"]
