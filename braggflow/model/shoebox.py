"""Shoeboxes: the ragged per-reflection pixel column of a reflection table.

A DIALS ``Shoebox<>`` holds, per reflection, a panel number, a bounding box
``(x0, x1, y0, y1, z0, z1)`` (half-open, px and frames) and optionally three pixel arrays of
shape ``(nz, ny, nx) = (z1 - z0, y1 - y0, x1 - x0)``: data (float32 counts), mask (int32
``MaskCode`` bits) and background (float32). Here the whole column is one ragged store:
flat pixel buffers plus ``offsets`` (n + 1 pixel offsets), never a list of Python objects.
Row ``i`` has pixels when ``offsets[i + 1] > offsets[i]``; its pixel count is then the bbox
volume (DIALS writes "no data" for an empty array, so an empty box never carries pixels).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["MaskCode", "Shoebox", "Shoeboxes", "ragged_index"]


class MaskCode(enum.IntFlag):
    """Shoebox mask bits (dials/model/data/mask_code.h)."""

    valid = 1 << 0
    background = 1 << 1
    foreground = 1 << 2
    strong = 1 << 3
    background_used = 1 << 4
    overlapped = 1 << 5


@dataclass(frozen=True, eq=False, slots=True)
class Shoebox:
    """One row of a ``Shoeboxes`` column; the arrays are views (None when no pixels)."""

    panel: int
    bbox: tuple[int, int, int, int, int, int]
    data: np.ndarray | None  # (nz, ny, nx) float32
    mask: np.ndarray | None  # (nz, ny, nx) int32
    background: np.ndarray | None  # (nz, ny, nx) float32

    @property
    def shape(self) -> tuple[int, int, int]:
        x0, x1, y0, y1, z0, z1 = self.bbox
        return (z1 - z0, y1 - y0, x1 - x0)


def ragged_index(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(starts[i], starts[i] + lengths[i])`` for all i, as int64."""
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    first = np.cumsum(lengths) - lengths
    return np.repeat(starts - first, lengths) + np.arange(total, dtype=np.int64)


def bbox_volume(bbox: np.ndarray) -> np.ndarray:
    """Pixels in each bbox: ``(x1-x0)(y1-y0)(z1-z0)`` for a (n, 6) int array, as int64."""
    b = np.asarray(bbox, dtype=np.int64).reshape(-1, 6)
    return (b[:, 1] - b[:, 0]) * (b[:, 3] - b[:, 2]) * (b[:, 5] - b[:, 4])


class Shoeboxes:
    """Ragged shoebox column.

    panel : (n,) uint64 ; bbox : (n, 6) int32 ; offsets : (n + 1,) int64 pixel offsets
    data, background : (offsets[-1],) float32 ; mask : (offsets[-1],) int32
    """

    __slots__ = ("panel", "bbox", "offsets", "data", "mask", "background")

    def __init__(
        self,
        panel: np.ndarray,
        bbox: np.ndarray,
        offsets: np.ndarray | None = None,
        data: np.ndarray | None = None,
        mask: np.ndarray | None = None,
        background: np.ndarray | None = None,
    ) -> None:
        self.panel = _as_uint64(panel, "panel")
        self.bbox = np.ascontiguousarray(bbox, dtype=np.int32).reshape(-1, 6)
        n = len(self.bbox)
        if self.panel.shape != (n,):
            raise ValueError(f"Shoeboxes: panel has {len(self.panel)} rows, bbox {n}")
        if offsets is None:
            offsets = np.zeros(n + 1, dtype=np.int64)
        self.offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        npx = int(self.offsets[-1]) if len(self.offsets) else 0
        self.data = _flat(data, np.float32, npx)
        self.mask = _flat(mask, np.int32, npx)
        self.background = _flat(background, np.float32, npx)
        self._validate()

    def _validate(self) -> None:
        n = len(self.bbox)
        if self.offsets.shape != (n + 1,) or self.offsets[0] != 0:
            raise ValueError(f"Shoeboxes: offsets must have {n + 1} entries starting at 0")
        b = self.bbox
        if np.any(b[:, 1] < b[:, 0]) or np.any(b[:, 3] < b[:, 2]) or np.any(b[:, 5] < b[:, 4]):
            raise ValueError("Shoeboxes: every bbox needs x1 >= x0, y1 >= y0 and z1 >= z0")
        sizes = np.diff(self.offsets)
        if np.any((sizes != 0) & (sizes != bbox_volume(b))):
            raise ValueError("Shoeboxes: a row's pixel count must be 0 or its bbox volume")
        for name in ("data", "mask", "background"):
            if len(getattr(self, name)) != self.offsets[-1]:
                raise ValueError(f"Shoeboxes: {name} must hold offsets[-1] pixels")

    # -- construction -----------------------------------------------------------------
    @classmethod
    def empty(cls, panel: np.ndarray, bbox: np.ndarray) -> Shoeboxes:
        """Shoeboxes with bboxes but no pixel arrays (DIALS flag 0 for every row)."""
        return cls(panel, bbox)

    @classmethod
    def allocate(
        cls, panel: np.ndarray, bbox: np.ndarray, rows: np.ndarray | None = None
    ) -> Shoeboxes:
        """Zero-filled pixel arrays for every row (or only ``rows``: bool mask or indices)."""
        bbox = np.ascontiguousarray(bbox, dtype=np.int32).reshape(-1, 6)
        sizes = bbox_volume(bbox)
        if rows is not None:
            keep = np.zeros(len(bbox), dtype=bool)
            keep[np.asarray(rows)] = True
            sizes = np.where(keep, sizes, 0)
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        npx = int(offsets[-1])
        zeros_f = np.zeros(npx, dtype=np.float32)
        return cls(panel, bbox, offsets, zeros_f, np.zeros(npx, np.int32), zeros_f.copy())

    @classmethod
    def concatenate(cls, columns: Sequence[Shoeboxes]) -> Shoeboxes:
        """Rows of all columns, in order (copies)."""
        if not columns:
            return cls(np.zeros(0, np.uint64), np.zeros((0, 6), np.int32))
        sizes = np.concatenate([np.diff(c.offsets) for c in columns])
        return cls(
            np.concatenate([c.panel for c in columns]),
            np.concatenate([c.bbox for c in columns]),
            np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            np.concatenate([c.data for c in columns]),
            np.concatenate([c.mask for c in columns]),
            np.concatenate([c.background for c in columns]),
        )

    # -- access -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.bbox)

    @property
    def shape(self) -> tuple[int]:
        return (len(self.bbox),)

    @property
    def has_data(self) -> np.ndarray:
        """(n,) bool: rows that carry pixel arrays."""
        return np.diff(self.offsets) > 0

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.panel, self.bbox, self.offsets, self.data,
                                      self.mask, self.background))

    def __getitem__(self, i: int) -> Shoebox:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"shoebox row {i} out of range for {n} rows")
        i %= n
        bbox = tuple(int(v) for v in self.bbox[i])
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        if hi == lo:
            return Shoebox(int(self.panel[i]), bbox, None, None, None)  # type: ignore[arg-type]
        shape = (bbox[5] - bbox[4], bbox[3] - bbox[2], bbox[1] - bbox[0])
        return Shoebox(
            int(self.panel[i]),
            bbox,  # type: ignore[arg-type]
            self.data[lo:hi].reshape(shape),
            self.mask[lo:hi].reshape(shape),
            self.background[lo:hi].reshape(shape),
        )

    def select(self, selection: np.ndarray) -> Shoeboxes:
        """Rows picked by a bool mask or integer indices (copies)."""
        rows = np.arange(len(self))[np.asarray(selection)]
        sizes = np.diff(self.offsets)[rows]
        pix = ragged_index(self.offsets[:-1][rows], sizes)
        return Shoeboxes(
            self.panel[rows],
            self.bbox[rows],
            np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            self.data[pix],
            self.mask[pix],
            self.background[pix],
        )

    def copy(self) -> Shoeboxes:
        return Shoeboxes(self.panel.copy(), self.bbox.copy(), self.offsets.copy(),
                         self.data.copy(), self.mask.copy(), self.background.copy())

    def equals(self, other: object) -> bool:
        """Same rows, bboxes, panels and pixels (bit-for-bit, NaN == NaN)."""
        if not isinstance(other, Shoeboxes):
            return False
        pairs = [(self.panel, other.panel), (self.bbox, other.bbox),
                 (self.offsets, other.offsets), (self.mask, other.mask)]
        if not all(a.shape == b.shape and np.array_equal(a, b) for a, b in pairs):
            return False
        return all(
            a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))
            for a, b in ((self.data, other.data), (self.background, other.background))
        )

    def __repr__(self) -> str:
        return (f"<Shoeboxes {len(self):,} rows, {int(self.has_data.sum()):,} with pixels, "
                f"{int(self.offsets[-1]):,} pixels>")


def _as_uint64(values: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"Shoeboxes: {name} must be integers, got {arr.dtype}")
    if arr.dtype.kind == "i" and arr.size and arr.min() < 0:
        raise ValueError(f"Shoeboxes: {name} must be >= 0")
    return np.ascontiguousarray(arr, dtype=np.uint64).reshape(-1)


def _flat(values: np.ndarray | None, dtype: type, npx: int) -> np.ndarray:
    if values is None:
        return np.zeros(npx, dtype=dtype)
    return np.ascontiguousarray(values, dtype=dtype).reshape(-1)
