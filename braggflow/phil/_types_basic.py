"""PHIL types, part 1: the converter base class, helpers and the text/bool types."""

from __future__ import annotations

import os
from typing import Any

from braggflow.errors import ParameterError

from ._numexpr import NumericError, evaluate
from ._words import AUTO, NOT_SPECIAL, Word, is_name, special_value

_TRUE = frozenset(("true", "yes", "on", "1"))
_FALSE = frozenset(("false", "no", "off", "0"))


def _path(master: Any) -> str:
    return master.full_path() if master is not None else "value"


def _where(words: list[Word]) -> str:
    return words[0].where() if words else ""


def _fmt_int(v: Any) -> str:
    return "%d" % v


def _fmt_float(v: Any) -> str:
    return "%.10g" % v


def parse_bool(words: list[Word], name: str) -> bool:
    text = " ".join(w.value for w in words)
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ParameterError(
        f'One True or False value expected, {name}="{text}" found{_where(words)}'
    )


def number_from_text(
    text: str, shown: str, path: str, where: str, integer: bool, raw: bool = False
) -> Any:
    """Evaluate one numeric expression with libtbx's error messages."""
    if text.strip().lower() in ("true", "false"):
        raise ParameterError(f'Error interpreting {path}="{shown}" as a numeric expression{where}')
    try:
        value = evaluate(text)
    except NumericError as exc:
        raise ParameterError(
            f'Error interpreting {path}="{shown}" as a numeric expression: {exc}{where}'
        ) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "an integer" if integer else "a floating-point"
        raise ParameterError(f'Error interpreting {path}="{shown}" as {kind} expression{where}')
    if raw:
        return value
    if integer:
        if isinstance(value, float):
            if not value.is_integer():
                raise ParameterError(
                    f'Error interpreting {path}="{shown}" as an integer expression{where}'
                )
            value = int(value)
    else:
        value = float(value)
    return value


def _drop_comment(words: list[Word]) -> list[Word]:
    for i, w in enumerate(words):
        if w.quote_token is None and w.value.startswith("#"):
            return words[:i]
    return words


class _Type:
    phil_type = ""

    def __str__(self) -> str:
        return self.phil_type

    def __repr__(self) -> str:
        return f"<phil type {self}>"

    def from_words(self, words: list[Word], master: Any) -> Any:
        v = special_value(words)
        if v is not NOT_SPECIAL:
            return self._special(v, words, master)
        return self._from_words(words, master)

    def _special(self, value: Any, words: list[Word], master: Any) -> Any:
        return value

    def as_words(self, value: Any, master: Any) -> list[Word]:
        if value is None:
            return [Word("None")]
        if value is AUTO:
            return [Word("Auto")]
        return self._as_words(value, master)

    def _from_words(self, words: list[Word], master: Any) -> Any:
        raise NotImplementedError

    def _as_words(self, value: Any, master: Any) -> list[Word]:
        raise NotImplementedError


class StrType(_Type):
    phil_type = "str"

    def _from_words(self, words: list[Word], master: Any) -> Any:
        return " ".join(w.value for w in words)

    def _as_words(self, value: Any, master: Any) -> list[Word]:
        return [Word(str(value), '"')]


class PathType(StrType):
    phil_type = "path"

    def _from_words(self, words: list[Word], master: Any) -> Any:
        return os.path.expanduser(super()._from_words(words, master))


class KeyType(StrType):
    phil_type = "key"


class QstrType(_Type):
    phil_type = "qstr"

    def _from_words(self, words: list[Word], master: Any) -> Any:
        return " ".join(str(w) for w in words)

    def _as_words(self, value: Any, master: Any) -> list[Word]:
        from ._lexer import split_words

        return split_words(str(value))


class StringsType(_Type):
    phil_type = "strings"

    def _from_words(self, words: list[Word], master: Any) -> Any:
        return [w.value for w in words]

    def _as_words(self, value: Any, master: Any) -> list[Word]:
        if isinstance(value, str):
            value = [value]
        return [Word(s) if is_name(s) else Word(s, '"') for s in map(str, value)]


class WordsType(_Type):
    phil_type = "words"

    def _from_words(self, words: list[Word], master: Any) -> Any:
        return list(words)

    def _as_words(self, value: Any, master: Any) -> list[Word]:
        if isinstance(value, (str, Word)):
            value = [value]
        return [w if isinstance(w, Word) else Word(str(w)) for w in value]


class BoolType(_Type):
    phil_type = "bool"

    def _from_words(self, words: list[Word], master: Any) -> Any:
        return parse_bool(words, _path(master))

    def _as_words(self, value: Any, master: Any) -> list[Word]:
        if isinstance(value, str):
            value = parse_bool([Word(value)], _path(master))
        return [Word(str(bool(value)))]
