"""Extracted PHIL scope -> frozen dataclass: the one builder every stage's params use.

Fields map to PHIL names one to one:
- a nested dataclass is a nested scope (a scope extracted as None keeps the field default);
- `tuple[X, ...]` is a `.multiple` or list-valued definition (None -> ());
- `Auto` stays Auto where the hint lists AutoType, becomes "auto" where the hint is a
  Literal that lists "auto", else None (stages resolve Auto before running);
- gemmi cells become 6-tuples and gemmi space groups their extended H-M symbol where the
  hint asks for plain values.
A PHIL definition the dataclass does not know is ignored; a field missing from the scope
keeps its default.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

from ._words import AutoType

T = TypeVar("T")


def is_auto(value: Any) -> bool:
    """The PHIL Auto value (a choice word "auto" is an ordinary string and stays one)."""
    return isinstance(value, AutoType)


def _is_dataclass_type(hint: Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def _convert(value: Any, hint: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if is_auto(value):
        if AutoType in args:
            return value
        return "auto" if origin is typing.Literal and "auto" in args else None
    if value is None:
        return () if origin is tuple else None
    if origin is typing.Literal and isinstance(value, str) and value not in args and value.lower() in args:
        return value.lower()  # a choice word: `*auto` extracts as "Auto"
    if origin in (typing.Union, types.UnionType):
        real = [a for a in args if a is not type(None)]
        return _convert(value, real[0], path) if len(real) == 1 else value
    if _is_dataclass_type(hint):
        return to_dataclass(hint, value, path)
    if type(value).__name__ == "UnitCell" and hasattr(value, "parameters") and hint is not type(value):
        value = tuple(value.parameters)
    if type(value).__name__ == "SpaceGroup" and hint is str:
        return value.xhm()
    if origin is tuple:
        items = value if isinstance(value, (list, tuple)) else [value]
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], path) for v in items if v is not None)
        return tuple(_convert(v, a, path) for v, a in zip(items, args))
    return value


def to_dataclass(cls: type[T], extracted: Any, path: str = "") -> T:
    """Instance of dataclass `cls` from an extracted PHIL scope object (`path` names the
    scope in error messages). Raises ValueError naming the parameter on a bad value."""
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if extracted is None or not hasattr(extracted, f.name):
            continue
        where = f"{path}.{f.name}" if path else f.name
        value = getattr(extracted, f.name)
        if value is None and _is_dataclass_type(hints[f.name]):
            continue
        try:
            kwargs[f.name] = _convert(value, hints[f.name], where)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from None
    return cls(**kwargs)
