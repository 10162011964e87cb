"""An in-memory image reader with the interface `find_spots` expects (tests, simulations)."""

from __future__ import annotations

import numpy as np


class ArrayReader:
    """Frames held in memory: `frames` is a sequence of per-panel tuples of (ny, nx) arrays.

    `valid` pixels are those with value >= 0 (like Pilatus gaps at -1) unless masks are given.
    """

    def __init__(self, frames, *, first_image: int = 1, masks=None) -> None:
        self.frames = [tuple(np.asarray(p) for p in f) for f in frames]
        self.masks = None if masks is None else [tuple(m) for m in masks]
        self.image_range = (first_image, first_image + len(self.frames) - 1)

    def __len__(self) -> int:
        return len(self.frames)

    def read(self, index: int):
        data = self.frames[index]
        if self.masks is not None:
            return data, self.masks[index]
        return data, tuple(p >= 0 for p in data)


__all__ = ["ArrayReader"]
