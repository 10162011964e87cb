"""PHIL value types: the registry and ``.type`` parsing (spec §3.4).

The converters live in _types_basic, _types_numbers, _types_choice and _types_crystal.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from braggflow.errors import PhilSyntaxError

from ._types_basic import (
    BoolType,
    KeyType,
    PathType,
    QstrType,
    StringsType,
    StrType,
    WordsType,
    number_from_text,
    parse_bool,
)
from ._types_choice import ChoiceType
from ._types_crystal import SpaceGroupType, UnitCellType
from ._types_numbers import FloatsType, FloatType, IntsType, IntType
from ._types_basic import _where
from ._words import Word, special_value, where_str

# -- the registry and ``.type`` parsing ------------------------------------------------------
_REGISTRY: dict[str, type] = {
    "str": StrType,
    "path": PathType,
    "key": KeyType,
    "qstr": QstrType,
    "strings": StringsType,
    "words": WordsType,
    "bool": BoolType,
    "int": IntType,
    "float": FloatType,
    "ints": IntsType,
    "floats": FloatsType,
    "choice": ChoiceType,
    "space_group": SpaceGroupType,
    "unit_cell": UnitCellType,
}
STRINGS = StringsType()
_CACHE: dict[str, Any] = {}
_TYPE_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\((.*)\))?\Z", re.S)


def make_type(words: list[Word]) -> Any:
    """Parse the words of a ``.type`` attribute into a converter (None for untyped)."""
    if special_value(words) is None:
        return None
    text = "".join(w.value for w in words)
    cached = _CACHE.get(text)
    if cached is not None:
        return cached
    where = _where(words)
    m = _TYPE_RE.match(text)
    name = m.group(1) if m else text.split("(")[0]
    cls = _REGISTRY.get(name)
    if m is None or cls is None:
        raise PhilSyntaxError(f'Unexpected definition type: "{name}"{where}')
    kwargs: dict[str, Any] = {}
    args: list[Any] = []
    if m.group(2) is not None:
        try:
            call = ast.parse(f"f({m.group(3)})", mode="eval").body
            if not isinstance(call, ast.Call):
                raise SyntaxError("invalid syntax")
            args = [ast.literal_eval(a) for a in call.args]
            for kw in call.keywords:
                if kw.arg is None:
                    raise SyntaxError("invalid syntax")
                kwargs[kw.arg] = ast.literal_eval(kw.value)
        except (SyntaxError, ValueError) as exc:
            raise PhilSyntaxError(
                f'Error constructing definition type "{text}": SyntaxError: {exc}{where}'
            ) from None
    try:
        result = cls(*args, **kwargs)
    except TypeError as exc:
        msg = str(exc).replace("__init__()", name)
        raise PhilSyntaxError(
            f'Error constructing definition type "{text}": TypeError: {msg}{where}'
        ) from None
    _CACHE[text] = result
    return result


def type_names() -> list[str]:
    return sorted(_REGISTRY)


__all__ = [
    "STRINGS",
    "ChoiceType",
    "PathType",
    "make_type",
    "number_from_text",
    "parse_bool",
    "type_names",
    "where_str",
]
