"""Words (tokens of values), locations and the Auto sentinel."""

from __future__ import annotations

import re

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class _AutoType:
    """The PHIL ``Auto`` value: a singleton that prints as ``Auto``."""

    _instance: "_AutoType | None" = None
    __slots__ = ()

    def __new__(cls) -> "_AutoType":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "Auto"

    __str__ = __repr__

    def __reduce__(self) -> str:
        return "AUTO"

    def __copy__(self) -> "_AutoType":
        return self

    def __deepcopy__(self, memo: object) -> "_AutoType":
        return self


AUTO = Auto = _AutoType()
AutoType = _AutoType


def is_name(text: str) -> bool:
    """True for ``identifier(.identifier)*``."""
    return _NAME_RE.match(text) is not None


def is_identifier(text: str) -> bool:
    return _IDENT_RE.match(text) is not None


def where_str(source_info: str | None, line_number: int | None) -> str:
    """The `` (input line N)`` / `` (file "x", line N)`` suffix of messages."""
    if line_number is None:
        if source_info is None:
            return ""
        return f" ({source_info})"
    if source_info is None:
        return f" (input line {line_number})"
    return f" ({source_info}, line {line_number})"


class Word:
    """One value word: its text, its quote token (None when bare) and its location."""

    __slots__ = ("value", "quote_token", "line_number", "source_info")

    def __init__(
        self,
        value: str,
        quote_token: str | None = None,
        line_number: int | None = None,
        source_info: str | None = None,
    ) -> None:
        self.value = value
        self.quote_token = quote_token
        self.line_number = line_number
        self.source_info = source_info

    def __str__(self) -> str:
        q = self.quote_token
        if q is None:
            return self.value
        v = self.value.replace("\\", "\\\\").replace(q[0], "\\" + q[0])
        return q + v + q

    def __repr__(self) -> str:
        return f"Word({self.value!r}, {self.quote_token!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Word):
            return NotImplemented
        return self.value == other.value and self.quote_token == other.quote_token

    def __hash__(self) -> int:
        return hash((self.value, self.quote_token))

    def where(self) -> str:
        return where_str(self.source_info, self.line_number)

    def is_bare(self, lowered: str) -> bool:
        """True when this is an unquoted word equal (ignoring case) to ``lowered``."""
        return self.quote_token is None and self.value.lower() == lowered


def special_value(words: list[Word]) -> object:
    """None / AUTO for a single bare ``none`` / ``auto`` word, else a private marker."""
    if len(words) == 1 and words[0].quote_token is None:
        low = words[0].value.lower()
        if low == "none":
            return None
        if low == "auto":
            return AUTO
    return _NOT_SPECIAL


class _NotSpecial:
    __slots__ = ()


_NOT_SPECIAL = _NotSpecial()
NOT_SPECIAL = _NOT_SPECIAL


def words_where(words: list[Word]) -> str:
    return words[0].where() if words else ""


def words_text(words: list[Word]) -> str:
    """The words printed back, as used in error messages (``n="3.5"``)."""
    return " ".join(str(w) for w in words)
