"""Build a stage's frozen params dataclass from the extracted PHIL (no hand-written from_phil);
the field-by-field rules live in `braggflow.phil.to_dataclass`."""

from __future__ import annotations

from typing import Any, TypeVar

from braggflow import phil
from braggflow.errors import ParameterError

T = TypeVar("T")


def from_extract(cls: type[T], extracted: Any, path: str = "") -> T:
    """Instance of dataclass `cls` from an extracted PHIL scope (see `phil.to_dataclass`);
    a bad value is a ParameterError naming the parameter."""
    try:
        return phil.to_dataclass(cls, extracted, path)
    except ValueError as exc:
        raise ParameterError(str(exc)) from None


def extract_params(cls: type[T], params: Any) -> T:
    """`cls` built from the scope named by its PHIL_PATH class attribute (e.g. 'spotfinder')."""
    node = params
    path = getattr(cls, "PHIL_PATH", "")
    for name in filter(None, path.split(".")):
        node = getattr(node, name)
    return from_extract(cls, node, path)


__all__ = ["extract_params", "from_extract"]
