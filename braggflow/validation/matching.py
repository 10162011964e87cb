"""Match processed reflections to truth.refl rows by Miller index (in the truth setting)
and rotation position (the nearest predicted frame, so both passes of a reflection in a
long sweep stay apart)."""

from __future__ import annotations

import numpy as np


def _packed(hkl: np.ndarray) -> np.ndarray:
    h = np.asarray(hkl, dtype=np.int64) + 1024
    return (h[:, 0] << 22) | (h[:, 1] << 11) | h[:, 2]


def reindex(hkl: np.ndarray, M: np.ndarray) -> np.ndarray:
    """h_true = M h_obs for every row; (n, 3) int."""
    return np.rint(np.asarray(hkl, dtype=np.float64) @ np.asarray(M, dtype=np.float64).T).astype(np.int64)


def match_reflections(
    hkl_obs: np.ndarray, z_obs: np.ndarray, hkl_true: np.ndarray, z_true: np.ndarray, *, max_dz: float = 3.0
) -> np.ndarray:
    """For each observed row the truth row with the same index and the nearest z (frames),
    or -1 when there is none within max_dz. hkl_obs must already be in the truth setting."""
    key_t = _packed(hkl_true)
    order = np.argsort(key_t, kind="stable")
    sorted_keys = key_t[order]
    key_o = _packed(hkl_obs)
    lo = np.searchsorted(sorted_keys, key_o, side="left")
    hi = np.searchsorted(sorted_keys, key_o, side="right")
    z_true = np.asarray(z_true, dtype=np.float64)
    out = np.full(len(key_o), -1, dtype=np.int64)
    best = np.full(len(key_o), np.inf)
    width = int((hi - lo).max()) if len(key_o) else 0
    for k in range(width):  # a Miller index occurs once or twice in practice
        has = lo + k < hi
        rows = order[np.minimum(lo + k, len(order) - 1)]
        dz = np.where(has, np.abs(z_true[rows] - z_obs), np.inf)
        better = dz < best
        best[better] = dz[better]
        out[better] = rows[better]
    out[best > max_dz] = -1
    return out
