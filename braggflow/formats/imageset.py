"""ImageSequence: lazy, picklable access to the images of one experiment.

    seq = open_imageset(experiment)
    len(seq), seq.image_range            # (first, last) image numbers
    data, valid = seq.read(0)            # index 0 = first image of the sequence
    # data: tuple of per-panel int32 (float32 for float files) arrays [slow, fast]
    # valid: tuple of per-panel bool arrays = trusted range AND panel mask rectangles
    #        (module gaps) AND the file's pixel mask (NeXus)

The object holds only paths, frame numbers, the format name and the detector; files are
opened on each read (inside whichever process calls it), so it can be sent to joblib
workers. The static part of the mask is cached per process and dropped when pickled.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field

import numpy as np

from braggflow.errors import InputDataError
from braggflow.formats.base import Format, find_format, get_format
from braggflow.formats.template import expand_template
from braggflow.model import Detector, Experiment


def rectangle_mask(panel_shape: tuple[int, int], rectangles: tuple[tuple[int, int, int, int], ...]) -> np.ndarray:
    """Bool [slow, fast] array, False inside the half-open rectangles (x0, y0, x1, y1)."""
    valid = np.ones(panel_shape, dtype=bool)
    for x0, y0, x1, y1 in rectangles:
        valid[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = False
    return valid


def trusted_mask(data: np.ndarray, trusted_range: tuple[float, float]) -> np.ndarray:
    """Inclusive trusted range; a lower bound of -1 (DIALS 3.12's exclusive form) means 0."""
    low, high = trusted_range
    if low == -1.0:
        low = 0.0
    return (data >= low) & (data <= high)


@functools.lru_cache(maxsize=512)
def _detect(path: str) -> str:
    return find_format(path).name()


@dataclass
class ImageSequence:
    """The images of one experiment (sweep or still); see the module docstring."""

    format_name: str
    paths: tuple[str, ...]
    frames: tuple[int, ...]
    image_range: tuple[int, int]
    detector: Detector
    _static: tuple[np.ndarray, ...] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.paths)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_static"] = None
        return state

    @property
    def format(self) -> type[Format]:
        return get_format(self.format_name)

    def image_number(self, index: int) -> int:
        """1-based image number (as in file names and scans) of sequence position `index`."""
        return self.image_range[0] + self._check(index)

    def _check(self, index: int) -> int:
        if not -len(self) <= index < len(self):
            raise IndexError(f"image index {index} outside 0..{len(self) - 1}")
        return index % len(self)

    def read_raw(self, index: int) -> tuple[np.ndarray, ...]:
        """Per-panel pixel arrays of image `index` (0-based), no masking."""
        i = self._check(index)
        path = self.paths[i]
        if not os.path.exists(path):
            raise InputDataError(path, "image file is missing")
        return self.format.read(path, self.frames[i], self.detector)

    def static_mask(self) -> tuple[np.ndarray, ...]:
        """Per-panel bool arrays: panel mask rectangles AND the file's pixel mask."""
        if self._static is None:
            bad = self.format.pixel_mask(self.paths[0], self.detector)
            masks = []
            for panel, flagged in zip(self.detector.panels, bad):
                valid = rectangle_mask(panel.image_shape, panel.mask)
                if flagged is not None:
                    valid &= ~flagged
                masks.append(valid)
            self._static = tuple(masks)
        return self._static

    def trusted_ranges(self) -> tuple[tuple[float, float], ...]:
        """Per-panel inclusive (low, high) trusted range, as `trusted_mask` applies it."""
        return tuple(
            (0.0 if p.trusted_range[0] == -1.0 else float(p.trusted_range[0]), float(p.trusted_range[1]))
            for p in self.detector.panels
        )

    def read_checked(self, index: int) -> tuple[np.ndarray, ...]:
        """`read_raw` plus a check that every panel array has the panel's shape.

        With `static_mask()` and `trusted_ranges()` this is what `read` combines; callers
        that can test the trusted range on the fly (the spot finder) skip building the mask.
        """
        data = self.read_raw(index)
        for panel, d in zip(self.detector.panels, data):
            if d.shape != panel.image_shape:
                raise InputDataError(self.paths[self._check(index)], f"panel '{panel.name}' is {d.shape[::-1]} px, expected {panel.image_size}")
        return data

    def read(self, index: int) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        """(per-panel data, per-panel valid mask) of image `index` (0-based)."""
        data = self.read_checked(index)
        static = self.static_mask()
        valid = []
        for panel, d, s in zip(self.detector.panels, data, static):
            valid.append(trusted_mask(d, panel.trusted_range) & s)
        return data, tuple(valid)

    def __repr__(self) -> str:
        return f"<ImageSequence {self.format_name} images {self.image_range[0]}-{self.image_range[1]} ({len(self)})>"


def open_imageset(experiment: Experiment) -> ImageSequence:
    """The ImageSequence of an experiment (needs its imageset and detector)."""
    ref = experiment.imageset
    if ref is None or experiment.detector is None:
        raise InputDataError("experiment", "has no imageset or detector; import the images first")
    scan = experiment.scan
    if ref.template and ref.single_file_indices is not None:  # one multi-frame file (HDF5)
        frames = tuple(int(i) for i in ref.single_file_indices)
        paths = (ref.template,) * len(frames)
        first = scan.image_range[0] if scan is not None else frames[0] + 1
    elif ref.template:
        if scan is None:
            raise InputDataError(ref.template, "an image template needs a scan (image range)")
        first, last = scan.image_range
        paths = tuple(expand_template(ref.template, n) for n in range(first, last + 1))
        frames = (0,) * len(paths)
    elif ref.paths:
        paths, frames = tuple(ref.paths), (0,) * len(ref.paths)
        first = scan.image_range[0] if scan is not None else 1
    else:
        raise InputDataError("imageset", "has neither a template nor image paths")
    name = ref.format_name or _detect(paths[0])
    return ImageSequence(name, paths, frames, (first, first + len(paths) - 1), experiment.detector)


__all__ = ["ImageSequence", "open_imageset", "rectangle_mask", "trusted_mask"]
