"""PHIL value types (spec §3.4-3.6): words <-> Python values, and ``.type`` parsing."""

from __future__ import annotations

import ast
import os
import re
from typing import Any

from braggflow.errors import ParameterError, PhilSyntaxError

from ._numexpr import NumericError, evaluate
from ._words import AUTO, NOT_SPECIAL, Word, is_name, special_value, where_str, words_text

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
        result: list[Any] = []
        for item in items:
            low = item.lower()
            if low == "none":
                if not self.allow_none_elements:
                    raise ParameterError(f"{path} element cannot be None{where}")
                result.append(None)
            elif low == "auto":
                if not self.allow_auto_elements:
                    raise ParameterError(f"{path} element cannot be Auto{where}")
                result.append(AUTO)
            else:
                value = number_from_text(item, item, path, where, False, raw=True)
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
        self._check_size(len(result), path, where)
        return result

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


class ChoiceType(_Type):
    def __init__(self, multi: bool = False) -> None:
        self.multi = multi

    @property
    def phil_type(self) -> str:  # type: ignore[override]
        return "choice(multi=True)" if self.multi else "choice"

    @staticmethod
    def _options(master: Any) -> list[tuple[str, Word]]:
        out = []
        for w in master.words:
            v = w.value
            out.append((v[1:] if v.startswith("*") else v, w))
        return out

    def _error_possible(self, master: Any, value: str, where: str) -> ParameterError:
        lines = [f"Not a possible choice for {_path(master)}: {value}{where}"]
        lines.append("  Possible choices are:")
        lines.extend("    " + str(w) for w in master.words)
        return ParameterError("\n".join(lines))

    def fetch(self, source_words: list[Word], master: Any) -> list[Word]:
        """Resolve a user value against the master's options (spec §3.6)."""
        special = special_value(source_words)
        if special is AUTO:
            w0 = source_words[0]
            return [Word("Auto", None, w0.line_number, w0.source_info)]
        where = _where(source_words)
        if special is None:
            if master.optional is not False:
                return self._starred(master, set(), source_words)
            raise self._error_possible(master, source_words[0].value, where)
        plus = None
        if not any(w.quote_token is not None or w.value.startswith("*") for w in source_words):
            joined = "".join(w.value for w in source_words)
            if "+" in joined:
                pieces = joined.split("+")
                if all(pieces[1:]):
                    plus = [p for p in pieces if p]
        if plus is not None:
            selected = plus
        elif len(source_words) == 1:
            v = source_words[0].value
            selected = [v[1:] if v.startswith("*") else v]
        else:
            selected = [w.value[1:] for w in source_words if w.value.startswith("*")]
        options = {name.lower(): name for name, _ in self._options(master)}
        chosen = set()
        for s in selected:
            key = s.lower()
            if key not in options:
                raise self._error_possible(master, s, where)
            chosen.add(options[key])
        return self._starred(master, chosen, source_words)

    def _starred(self, master: Any, chosen: set[str], source_words: list[Word]) -> list[Word]:
        ref = source_words[0] if source_words else None
        line = ref.line_number if ref is not None else None
        si = ref.source_info if ref is not None else None
        return [
            Word(("*" + name) if name in chosen else name, w.quote_token, line, si)
            for name, w in self._options(master)
        ]

    def _special(self, value: Any, words: list[Word], master: Any) -> Any:
        if value is None and self.multi:
            return []
        return value

    def _from_words(self, words: list[Word], master: Any) -> Any:
        selected = [w.value[1:] for w in words if w.value.startswith("*")]
        path = _path(master)
        where = _where(words)
        if self.multi:
            if not selected and master is not None and master.optional is False:
                raise ParameterError(
                    f"Unspecified choice for {path}: at least one choice must be selected{where}"
                )
            return selected
        if len(selected) > 1:
            raise ParameterError(
                f"Multiple choices for {path}; only one choice can be selected{where}"
            )
        if not selected:
            if master is not None and master.optional is False:
                raise ParameterError(
                    f"Unspecified choice for {path}: exactly one choice must be selected{where}"
                )
            return None
        return selected[0]

    def as_words(self, value: Any, master: Any) -> list[Word]:
        if value is AUTO:
            return [Word("Auto")]
        options = self._options(master)
        names = [n for n, _ in options]
        if value is None:
            chosen: set[str] = set()
        elif self.multi:
            items = [value] if isinstance(value, str) else list(value)
            bad = [v for v in items if v not in names]
            if bad:
                raise ParameterError(f"Invalid choice(multi=True): {_path(master)}={items!r}")
            chosen = set(items)
        else:
            if value not in names:
                raise ParameterError(f"Invalid choice: {_path(master)}={value}")
            chosen = {value}
        return [
            Word(("*" + n) if n in chosen else n, w.quote_token) for n, w in options
        ]


class SpaceGroupType(_Type):
    phil_type = "space_group"

    def _from_words(self, words: list[Word], master: Any) -> Any:
        text = " ".join(w.value for w in words)
        return space_group_from_text(text, _path(master), _where(words))

    def _as_words(self, value: Any, master: Any) -> list[Word]:
        import gemmi

        if not isinstance(value, gemmi.SpaceGroup):
            value = space_group_from_text(str(value), _path(master), "")
        return [Word(space_group_symbol(value), '"')]


def space_group_from_text(text: str, path: str, where: str) -> Any:
    import gemmi

    t = text.strip()
    try:
        sg = gemmi.SpaceGroup(t)
    except (ValueError, RuntimeError):
        raise ParameterError(
            f'{path}="{text}" is not a space group symbol or number{where}'
        ) from None
    if ":" not in t and sg.xhm().endswith(":1"):
        # cctbx's default setting for groups with two origin choices is the second one
        try:
            sg = gemmi.SpaceGroup(sg.xhm()[:-2] + ":2")
        except (ValueError, RuntimeError):
            pass
    return sg


def space_group_symbol(sg: Any) -> str:
    """cctbx lookup-symbol style: ``R 3 :H``, ``P 4/n :2``."""
    return sg.xhm().replace(":", " :")


class UnitCellType(_Type):
    phil_type = "unit_cell"

    def _from_words(self, words: list[Word], master: Any) -> Any:
        text = " ".join(w.value for w in words)
        return unit_cell_from_text(text, _path(master), _where(words))

    def _as_words(self, value: Any, master: Any) -> list[Word]:
        params = getattr(value, "parameters", value)
        if isinstance(params, str):
            params = unit_cell_from_text(params, _path(master), "").parameters
        return [Word(_fmt_float(float(p))) for p in params]


def unit_cell_from_text(text: str, path: str, where: str) -> Any:
    import gemmi

    items = text.replace(",", " ").split()
    if not 1 <= len(items) <= 6:
        raise ParameterError(
            f'{path}="{text}" is not a unit cell: give 1 to 6 numbers a b c alpha beta gamma{where}'
        )
    try:
        values = [float(i) for i in items]
    except ValueError:
        raise ParameterError(f'{path}="{text}" is not a unit cell: not a number{where}') from None
    defaults = [1.0, 1.0, 1.0, 90.0, 90.0, 90.0]
    values += defaults[len(values):]
    if any(v <= 0 for v in values[:3]):
        raise ParameterError(f'{path}="{text}": unit cell parameter is zero or negative{where}')
    if any(not 0 < v < 180 for v in values[3:]):
        raise ParameterError(f'{path}="{text}": unit cell angle must be between 0 and 180{where}')
    return gemmi.UnitCell(*values)


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


__all__ = ["make_type", "parse_bool", "STRINGS", "type_names", "where_str"]
