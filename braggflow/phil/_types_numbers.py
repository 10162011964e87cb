"""PHIL types, part 2: int, float, ints, floats (spec §3.4-3.5)."""

from __future__ import annotations

from typing import Any

from braggflow.errors import ParameterError

from ._types_basic import _Type, _drop_comment, _fmt_float, _fmt_int, _path, _where, number_from_text
from ._words import AUTO, Word


class _NumberType(_Type):
    integer = False

    def __init__(self, value_min: Any = None, value_max: Any = None, allow_none: bool = True):
        self.value_min = value_min
        self.value_max = value_max
        self.allow_none = allow_none

    def _fmt(self, v: Any) -> str:
        return _fmt_int(v) if self.integer else _fmt_float(v)

    def __str__(self) -> str:
        args = []
        if self.value_min is not None:
            args.append(f"value_min={self._fmt(self.value_min)}")
        if self.value_max is not None:
            args.append(f"value_max={self._fmt(self.value_max)}")
        if self.allow_none:
            args.append("allow_none=True")
        return self.phil_type + (f"({', '.join(args)})" if args else "")

    def _special(self, value: Any, words: list[Word], master: Any) -> Any:
        if value is None and not self.allow_none:
            raise ParameterError(f"{_path(master)} cannot be None")
        return value

    def _from_words(self, words: list[Word], master: Any) -> Any:
        words = _drop_comment(words) or words
        path = _path(master)
        text = " ".join(w.value for w in words)
        shown = " ".join(w.value for w in words)
        value = number_from_text(text, shown, path, _where(words), self.integer)
        check_range(self, value, path, _where(words))
        return value

    def _as_words(self, value: Any, master: Any) -> list[Word]:
        return [Word(self._fmt(value))]


def check_range(t: Any, value: Any, path: str, where: str) -> None:
    if t.value_min is not None and value < t.value_min:
        raise ParameterError(
            f"{path} element is less than the minimum allowed value:"
            f" {t._fmt(value)} < {t._fmt(t.value_min)}{where}"
        )
    if t.value_max is not None and value > t.value_max:
        raise ParameterError(
            f"{path} element is greater than the maximum allowed value:"
            f" {t._fmt(value)} > {t._fmt(t.value_max)}{where}"
        )


class IntType(_NumberType):
    phil_type = "int"
    integer = True


class FloatType(_NumberType):
    phil_type = "float"


class _NumbersType(_Type):
    integer = False

    def __init__(
        self,
        size: int | None = None,
        size_min: int | None = None,
        size_max: int | None = None,
        value_min: Any = None,
        value_max: Any = None,
        allow_none_elements: bool = False,
        allow_auto_elements: bool = False,
    ) -> None:
        if size is not None:
            if size_min is not None or size_max is not None:
                raise TypeError("size cannot be combined with size_min or size_max")
            size_min = size_max = size
        self.size_min = size_min
        self.size_max = size_max
        self.value_min = value_min
        self.value_max = value_max
        self.allow_none_elements = allow_none_elements
        self.allow_auto_elements = allow_auto_elements

    def _fmt(self, v: Any) -> str:
        return _fmt_int(v) if self.integer else _fmt_float(v)

    def __str__(self) -> str:
        args = []
        if self.size_min is not None and self.size_min == self.size_max:
            args.append(f"size={self.size_min}")
        else:
            if self.size_min is not None:
                args.append(f"size_min={self.size_min}")
            if self.size_max is not None:
                args.append(f"size_max={self.size_max}")
        if self.value_min is not None:
            args.append(f"value_min={self._fmt(self.value_min)}")
        if self.value_max is not None:
            args.append(f"value_max={self._fmt(self.value_max)}")
        if self.allow_none_elements:
            args.append("allow_none_elements=True")
        if self.allow_auto_elements:
            args.append("allow_auto_elements=True")
        return self.phil_type + (f"({', '.join(args)})" if args else "")

    def _from_words(self, words: list[Word], master: Any) -> Any:
        words = _drop_comment(words) or words
        path = _path(master)
        where = _where(words)
        text = joined = " ".join(w.value for w in words).strip()
        while len(text) >= 2 and (
            (text[0] == "(" and text[-1] == ")") or (text[0] == "[" and text[-1] == "]")
        ):
            text = text[1:-1].strip()
        items = text.replace(",", " ").replace(";", " ").split()
        # libtbx order: evaluate every item, then check the size, then types and ranges
        raw = [self._item(item, path, where) for item in items]
        self._check_size(len(raw), path, where)
        result: list[Any] = []
        for value in raw:
            if value is not None and value is not AUTO:
                if self.integer:
                    if isinstance(value, float):
                        if not value.is_integer():
                            raise ParameterError(
                                f'Error interpreting {path}="{joined}"'
                                f" as an integer expression{where}"
                            )
                        value = int(value)
                else:
                    value = float(value)
                check_range(self, value, path, where)
            result.append(value)
        return result

    def _item(self, item: str, path: str, where: str) -> Any:
        low = item.lower()
        if low == "none":
            if not self.allow_none_elements:
                raise ParameterError(f"{path} element cannot be None{where}")
            return None
        if low == "auto":
            if not self.allow_auto_elements:
                raise ParameterError(f"{path} element cannot be Auto{where}")
            return AUTO
        return number_from_text(item, item, path, where, False, raw=True)

    def _check_size(self, n: int, path: str, where: str) -> None:
        lo, hi = self.size_min, self.size_max
        exact = lo is not None and lo == hi
        if hi is not None and n > hi:
            tail = f"exactly {hi} required" if exact else f"{hi} allowed at most"
            raise ParameterError(f"Too many values for {path}: {n} given, {tail}{where}")
        if lo is not None and n < lo:
            tail = f"exactly {lo} required" if exact else f"at least {lo} required"
            raise ParameterError(f"Not enough values for {path}: {n} given, {tail}{where}")

    def _as_words(self, value: Any, master: Any) -> list[Word]:
        if isinstance(value, (int, float)):
            value = [value]
        out = []
        for v in value:
            if v is None:
                out.append(Word("None"))
            elif v is AUTO:
                out.append(Word("Auto"))
            else:
                out.append(Word(self._fmt(v)))
        return out


class IntsType(_NumbersType):
    phil_type = "ints"
    integer = True


class FloatsType(_NumbersType):
    phil_type = "floats"
