"""Candidate real-space vectors: grouping and integer-multiple removal (algorithms.md 4.3 step 6).

Shared by the fft3d, fft1d and real-space grid searches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CandidateVectors:
    """Real-space vectors (k, 3) in A, best first, with their weights (peak volume/score)."""

    vectors: np.ndarray
    weights: np.ndarray

    def __len__(self) -> int:
        return len(self.vectors)


def _angle_deg(u: np.ndarray, v: np.ndarray) -> float:
    c = float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v)))
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


def is_approximate_integer_multiple(u: np.ndarray, v: np.ndarray, relative_length_tolerance: float = 0.2,
                                    angular_tolerance: float = 5.0) -> bool:
    """True if the longer vector is (anti)parallel to the shorter one within angular_tolerance
    degrees and their length ratio is within relative_length_tolerance of an integer."""
    lu, lv = np.linalg.norm(u), np.linalg.norm(v)
    if lu > lv:
        u, v, lu, lv = v, u, lv, lu
    angle = _angle_deg(u, v)
    if angle < angular_tolerance or abs(180.0 - angle) < angular_tolerance:
        n = lv / lu
        return abs(round(n) - n) < relative_length_tolerance
    return False


def group_vectors(vectors: np.ndarray, weights: np.ndarray, relative_length_tolerance: float = 0.1,
                  angular_tolerance: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """Group similar vectors (antiparallel ones flipped in); returns (means, max weights)."""
    groups: list[list[np.ndarray]] = []
    gw: list[float] = []
    means: list[np.ndarray] = []
    for v, w in zip(vectors, weights):
        lv = np.linalg.norm(v)
        for g, m in enumerate(means):
            lm = np.linalg.norm(m)
            if abs(lm - lv) / max(lm, lv) >= relative_length_tolerance:
                continue
            angle = _angle_deg(m, v)
            if angle < angular_tolerance or abs(180.0 - angle) < angular_tolerance:
                groups[g].append(v if angle < 90 else -v)
                means[g] = np.mean(groups[g], axis=0)
                gw[g] = max(gw[g], float(w))
                break
        else:
            groups.append([np.asarray(v, dtype=np.float64)])
            means.append(np.asarray(v, dtype=np.float64))
            gw.append(float(w))
    if not means:
        return np.zeros((0, 3)), np.zeros(0)
    return np.array(means), np.array(gw)


def select_candidate_vectors(vectors: np.ndarray, weights: np.ndarray, *, min_cell: float,
                             max_cell: float) -> CandidateVectors:
    """Length filter min_cell < |v| < 2 max_cell, grouping, integer-multiple removal, sort by
    weight (descending)."""
    vectors = np.asarray(vectors, dtype=np.float64).reshape(-1, 3)
    norms = np.linalg.norm(vectors, axis=1)
    order = np.argsort(norms, kind="stable")
    vectors, weights, norms = vectors[order], np.asarray(weights)[order], norms[order]
    sel = (norms > min_cell) & (norms < 2.0 * max_cell)
    means, gw = group_vectors(vectors[sel], weights[sel])
    if len(means) == 0:
        return CandidateVectors(np.zeros((0, 3)), np.zeros(0))
    order = np.argsort(np.linalg.norm(means, axis=1), kind="stable")
    uniq: list[np.ndarray] = []
    uw: list[float] = []
    for i in order:
        v, w = means[i], gw[i]
        if any(uw[j] > w and is_approximate_integer_multiple(u, v) for j, u in enumerate(uniq)):
            continue
        uniq.append(v)
        uw.append(w)
    perm = np.argsort(-np.array(uw), kind="stable")
    return CandidateVectors(np.array(uniq)[perm], np.array(uw)[perm])


__all__ = ["CandidateVectors", "group_vectors", "is_approximate_integer_multiple", "select_candidate_vectors"]
