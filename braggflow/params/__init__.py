"""braggflow's PHIL master files: ``braggflow/params/<name>.phil`` (package data).

``braggflow.params.<name>`` is the parsed :class:`braggflow.phil.Scope` of ``<name>.phil``
(loaded lazily, on first access), so a master can say ``include scope braggflow.params.spotfinder``.
``load_master(program)`` parses ``<program>.phil`` afresh with all includes processed.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from braggflow.errors import PhilError

PARAMS_DIR = Path(__file__).resolve().parent

__all__ = ["PARAMS_DIR", "available", "load_master", "phil_path"]


def phil_path(name: str) -> Path:
    """The file ``<name>.phil`` in this package (it may not exist)."""
    return PARAMS_DIR / f"{name}.phil"


def available() -> list[str]:
    """Names of the .phil files shipped in this package."""
    return sorted(p.stem for p in PARAMS_DIR.glob("*.phil"))


def load_master(program: str) -> Any:
    """Parse ``<program>.phil`` (includes processed) into a fresh master Scope."""
    from braggflow import phil

    path = phil_path(program)
    if not path.is_file():
        known = ", ".join(available()) or "none"
        raise PhilError(
            f"{path}: no parameter master for program '{program}'; known masters: {known}"
        )
    return phil.parse(file_name=str(path), process_includes=True)


@functools.lru_cache(maxsize=None)
def _cached(name: str, mtime_ns: int) -> Any:
    return load_master(name)


def __getattr__(name: str) -> Any:
    """``braggflow.params.<name>``: the parsed Scope of ``<name>.phil`` (lazy, cached)."""
    if name.startswith("_"):
        raise AttributeError(name)
    path = phil_path(name)
    if not path.is_file():
        raise AttributeError(f"module 'braggflow.params' has no attribute '{name}' ({path} not found)")
    return _cached(name, path.stat().st_mtime_ns)


def __dir__() -> list[str]:
    return sorted([*__all__, *available()])
