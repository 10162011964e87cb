"""Build a stage's frozen params dataclass from the extracted PHIL (no hand-written from_phil).

Fields map to PHIL names one to one: a nested dataclass is a nested scope, `tuple[X, ...]`
a `.multiple` (or list-valued) definition, and PHIL `Auto` becomes None (stages document
which fields are Auto and resolve them before running).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

import gemmi

from braggflow import phil
from braggflow.errors import ParameterError

T = TypeVar("T")


def _is_auto(value: Any) -> bool:
    return value is phil.Auto or (type(value).__name__ in ("AutoType", "_AutoType") and str(value) == "Auto")


def _convert(value: Any, hint: Any, path: str) -> Any:
    if value is None or _is_auto(value):
        return None
    if isinstance(value, gemmi.UnitCell) and hint is not gemmi.UnitCell:
        value = tuple(value.parameters)
    if isinstance(value, gemmi.SpaceGroup) and hint is str:
        return value.xhm()
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        real = [a for a in args if a is not type(None)]
        return _convert(value, real[0], path) if len(real) == 1 else value
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return from_extract(hint, value, path)
    if origin is tuple:
        items = value if isinstance(value, (list, tuple)) else [value]
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], path) for v in items if v is not None)
        return tuple(_convert(v, a, path) for v, a in zip(items, args))
    return value


def from_extract(cls: type[T], extracted: Any, path: str = "") -> T:
    """Instance of dataclass `cls` from an extracted PHIL scope object.

    A PHIL definition that the dataclass does not know is ignored; a dataclass field
    missing from the scope keeps its default.
    """
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not hasattr(extracted, f.name):
            continue
        where = f"{path}.{f.name}" if path else f.name
        try:
            kwargs[f.name] = _convert(getattr(extracted, f.name), hints[f.name], where)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"{where}: {exc}") from None
    return cls(**kwargs)


def extract_params(cls: type[T], params: Any) -> T:
    """`cls` built from the scope named by its PHIL_PATH class attribute (e.g. 'spotfinder')."""
    node = params
    path = getattr(cls, "PHIL_PATH", "")
    for name in filter(None, path.split(".")):
        node = getattr(node, name)
    return from_extract(cls, node, path)


__all__ = ["extract_params", "from_extract"]
