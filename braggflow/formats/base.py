"""Format classes: the registry, content sniffing and the shared interface.

A format class is never instantiated: every method is a classmethod taking the file path,
so a format is identified by its name alone (cheap to store in an ImageSetRef and to send
to worker processes).

    fmt = find_format("th_8_2_0001.cbf")          # the most specific class that understands it
    beam, detector, goniometer, scan = fmt.experiment_models("th_8_2_0001.cbf")
    panels = fmt.read("th_8_2_0001.cbf", 0)       # tuple of per-panel 2-D arrays [slow, fast]

Detection works like dxtbx: the root classes are asked first, and a class that understands
the file hands it to the first of its registered subclasses that also understands it.
"""

from __future__ import annotations

import os
from typing import ClassVar, NamedTuple

import numpy as np

from braggflow.errors import InputDataError
from braggflow.model import Beam, Detector, Goniometer, Scan


class ImageModels(NamedTuple):
    """The models one image file describes (scan covers this file's image(s))."""

    beam: Beam
    detector: Detector
    goniometer: Goniometer | None
    scan: Scan | None


class Format:
    """Base of every image format class (interface only)."""

    #: abstract classes recognise a family of files but cannot build models themselves
    abstract: ClassVar[bool] = True
    #: True for container formats holding many frames in one file (HDF5)
    multi_frame: ClassVar[bool] = False

    @classmethod
    def name(cls) -> str:
        return cls.__name__

    @classmethod
    def understand(cls, path: str) -> bool:
        """True if this class can read `path` (content sniffing, never the file name)."""
        raise NotImplementedError

    @classmethod
    def experiment_models(cls, path: str) -> ImageModels:
        """Beam, detector, goniometer and scan described by the file's header."""
        raise NotImplementedError

    @classmethod
    def read_raw_array(cls, path: str, frame: int = 0) -> np.ndarray:
        """The whole raw image array of `frame` (0-based within the file), [slow, fast]."""
        raise NotImplementedError

    @classmethod
    def read(cls, path: str, frame: int = 0, detector: Detector | None = None) -> tuple[np.ndarray, ...]:
        """Per-panel pixel arrays of `frame`, cut from the raw array by each panel's
        raw_image_offset and image_size (the file's own detector if none is given)."""
        raw = cls.read_raw_array(path, frame)
        if detector is None:
            detector = cls.experiment_models(path).detector
        return split_panels(raw, detector, path)

    @classmethod
    def num_frames(cls, path: str) -> int:
        return 1

    @classmethod
    def pixel_mask(cls, path: str, detector: Detector) -> tuple[np.ndarray | None, ...]:
        """Per-panel bool arrays, True where the file flags a pixel as bad (None: nothing)."""
        return tuple(None for _ in detector.panels)


def split_panels(raw: np.ndarray, detector: Detector, path: str = "") -> tuple[np.ndarray, ...]:
    """Cut a raw [slow, fast] array into the detector's panels (views, no copy)."""
    if len(detector) == 1 and detector[0].raw_image_offset == (0, 0) and raw.shape == detector[0].image_shape:
        return (raw,)
    out = []
    for panel in detector.panels:
        x0, y0 = panel.raw_image_offset
        nf, ns = panel.image_size
        if y0 + ns > raw.shape[0] or x0 + nf > raw.shape[1]:
            raise InputDataError(
                path, f"image is {raw.shape[1]} x {raw.shape[0]} px but panel '{panel.name}' needs "
                f"{x0 + nf} x {y0 + ns}; the detector model does not belong to this file"
            )
        out.append(raw[y0 : y0 + ns, x0 : x0 + nf])
    return tuple(out)


# --- registry ----------------------------------------------------------------------------
_REGISTRY: dict[str, type[Format]] = {}


def register(cls: type[Format]) -> type[Format]:
    """Class decorator: make a format class known to find_format/get_format."""
    _REGISTRY[cls.__name__] = cls
    return cls


def _load_builtin_formats() -> None:
    # importing the modules runs their @register decorators
    from braggflow.formats import cbf, nexus, smv  # noqa: F401


def registered_formats() -> dict[str, type[Format]]:
    _load_builtin_formats()
    return dict(_REGISTRY)


def get_format(name: str) -> type[Format]:
    """The registered format class called `name` (as stored in ImageSetRef.format_name)."""
    formats = registered_formats()
    if name not in formats:
        raise InputDataError(name, f"unknown image format class (known: {', '.join(sorted(formats))})")
    return formats[name]


def _registered_parent(cls: type[Format], formats: dict[str, type[Format]]) -> type[Format] | None:
    for base in cls.__mro__[1:]:
        if base.__name__ in formats and formats[base.__name__] is base:
            return base
    return None


def _children(parent: type[Format] | None, formats: dict[str, type[Format]]) -> list[type[Format]]:
    return [c for c in formats.values() if _registered_parent(c, formats) is parent]


def _safe_understand(cls: type[Format], path: str) -> bool:
    try:
        return bool(cls.understand(path))
    except InputDataError:
        raise
    except Exception:  # noqa: BLE001 - a sniffing failure only means "not this format"
        return False


def _descend(cls: type[Format], path: str, formats: dict[str, type[Format]]) -> type[Format]:
    for child in _children(cls, formats):
        if _safe_understand(child, path):
            return _descend(child, path, formats)
    return cls


def find_format(path: str | os.PathLike) -> type[Format]:
    """The most specific registered format class that understands `path`.

    Raises InputDataError if the file is missing, unreadable, or no class understands it.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputDataError(path, "no such file")
    if os.path.isdir(path):
        raise InputDataError(path, "is a directory, not an image file")
    formats = registered_formats()
    for root in _children(None, formats):
        if _safe_understand(root, path):
            found = _descend(root, path, formats)
            if found.abstract:
                break
            return found
    raise InputDataError(
        path, "unknown image format (braggflow reads Pilatus/Eiger CBF, full imgCIF, ADSC/TimePix SMV "
        "and NXmx HDF5, optionally .gz/.bz2 compressed)"
    )


__all__ = [
    "Format",
    "ImageModels",
    "find_format",
    "get_format",
    "register",
    "registered_formats",
    "split_panels",
]
