"""Unmerged mmCIF for deposition (format=mmcif), written by gemmi's mtz2cif from the same
columns as the MTZ export: `_diffrn_refln` rows with indices, I, sigma(I), scan angle and
image number, plus cell, symmetry and wavelength."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from . import _io
from .result import MtzExportResult

__all__ = ["mmcif_text", "write_mmcif"]


def mmcif_text(result: MtzExportResult) -> str:
    """The mmCIF document for an export result (see module doc)."""
    return _io.mmcif_text(result)


def write_mmcif(result: MtzExportResult, path: str | os.PathLike[str]) -> None:
    """Write the mmCIF atomically (temporary file + rename)."""
    text = mmcif_text(result)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
