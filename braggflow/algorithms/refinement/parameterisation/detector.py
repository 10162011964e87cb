"""Detector parameterisation: rigid panel groups, 6 parameters each (algorithms.md 5.3).

Per group: Dist along the initial normal n0, Shift1 and Shift2 along the initial fast/slow
directions f0, s0 (mm; together they place the group centre c = Dist n0 + Shift1 f0 +
Shift2 s0) and Tau1, Tau2, Tau3 (mrad), rotations about n0, f0, s0 through the group
centre: every panel point x moves to c + R (x - c0) with R = R(n0,Tau1) R(f0,Tau2) R(s0,Tau3).
A single panel is a group of one, rotating about the panel centre.
"""

from __future__ import annotations

import numpy as np

from braggflow.algorithms.refinement.parameterisation._rotation import composed_rotation
from braggflow.model import Detector

GROUP_NAMES = ("Dist", "Shift1", "Shift2", "Tau1", "Tau2", "Tau3")


def panel_groups(detector: Detector, hierarchy_level: int = 0) -> list[list[int]]:
    """Panel index groups at a level of the hierarchy (0: the whole detector is one group).

    Without a usable hierarchy, level >= 1 gives one group per panel.
    """
    n = len(detector)
    if hierarchy_level == 0 or n == 1:
        return [list(range(n))]
    h = detector.hierarchy
    if not isinstance(h, dict) or not h.get("children"):
        return [[i] for i in range(n)]
    nodes = [h]
    for _ in range(hierarchy_level):
        nxt = []
        for node in nodes:
            nxt.extend(node.get("children", [node]) if "panel" not in node else [node])
        nodes = nxt
    groups = [sorted(_leaves(node)) for node in nodes]
    if sorted(i for g in groups for i in g) != list(range(n)):
        return [[i] for i in range(n)]
    return groups


def _leaves(node: dict) -> list[int]:
    if "panel" in node:
        return [int(node["panel"])]
    out: list[int] = []
    for child in node.get("children", []):
        out.extend(_leaves(child))
    return out


class _Group:
    def __init__(self, detector: Detector, panels: list[int]) -> None:
        first = detector[panels[0]]
        self.panels = panels
        self.f0, self.s0 = first.fast_axis, first.slow_axis
        n0 = np.cross(self.f0, self.s0)
        self.n0 = n0 / np.linalg.norm(n0)
        centres = []
        for i in panels:
            p = detector[i]
            size = np.array(p.image_size, dtype=float) * np.array(p.pixel_size)
            centres.append(p.origin + 0.5 * size[0] * p.fast_axis + 0.5 * size[1] * p.slow_axis)
        self.c0 = np.mean(centres, axis=0)
        if np.dot(self.n0, self.c0) < 0:  # make Dist positive: normal points away from the sample
            self.n0 = -self.n0
        self.basis = np.column_stack([self.n0, self.f0, self.s0])
        self.initial_position = np.linalg.solve(self.basis, self.c0)
        self.rel = {i: (detector[i].origin - self.c0, detector[i].fast_axis, detector[i].slow_axis) for i in panels}
        self.axes = np.array([self.n0, self.f0, self.s0])

    def initial(self) -> np.ndarray:
        return np.concatenate([self.initial_position, np.zeros(3)])


class DetectorParameterisation:
    """Rigid-group parameterisation of one detector model."""

    def __init__(self, detector: Detector, groups: list[list[int]] | None = None) -> None:
        self.detector = detector
        self.groups = [_Group(detector, g) for g in (groups or [list(range(len(detector)))])]
        prefix = len(self.groups) > 1
        self.names = tuple(
            (f"Group{k + 1}" if prefix else "") + name for k in range(len(self.groups)) for name in GROUP_NAMES
        )
        self.initial = np.concatenate([g.initial() for g in self.groups])

    def _frames(self, values: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        out = {}
        for k, g in enumerate(self.groups):
            v = values[6 * k : 6 * k + 6]
            c = g.basis @ v[:3]
            rot, _ = composed_rotation(g.axes, v[3:])
            for i in g.panels:
                rel_o, f, s = g.rel[i]
                out[i] = (rot @ f, rot @ s, c + rot @ rel_o)
        return out

    def compose(self, values: np.ndarray) -> Detector:
        det = self.detector
        for i, (f, s, o) in sorted(self._frames(values).items()):
            det = det.replace_panel(i, det[i].replace(fast_axis=f, slow_axis=s, origin=o))
        return det

    def d_matrices(self, values: np.ndarray) -> np.ndarray:
        """(n_panels, 3, 3) d = [f | s | o] of every panel."""
        frames = self._frames(values)
        return np.array([np.column_stack(frames[i]) for i in range(len(self.detector))])

    def dd_dp(self, values: np.ndarray) -> np.ndarray:
        """(n_params, n_panels, 3, 3): derivative of each panel's d matrix."""
        out = np.zeros((6 * len(self.groups), len(self.detector), 3, 3))
        for k, g in enumerate(self.groups):
            v = values[6 * k : 6 * k + 6]
            _, drot = composed_rotation(g.axes, v[3:])
            for i in g.panels:
                rel_o, f, s = g.rel[i]
                for j in range(3):  # translations move the origin only
                    out[6 * k + j, i, :, 2] = g.basis[:, j]
                for j in range(3):
                    out[6 * k + 3 + j, i] = np.column_stack([drot[j] @ f, drot[j] @ s, drot[j] @ rel_o])
        return out


__all__ = ["DetectorParameterisation", "GROUP_NAMES", "panel_groups"]
