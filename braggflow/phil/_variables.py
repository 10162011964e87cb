"""``$name`` / ``$(name)`` substitution in user words during fetch (spec §4.7)."""

from __future__ import annotations

import os
from typing import Any

from braggflow.errors import ParameterError, PhilSyntaxError

from ._types import PathType
from ._words import Word, is_identifier

_MAX_DEPTH = 50


def _pieces(w: Word) -> list[tuple[bool, str]]:
    """Split a word into (is_variable, text) pieces; ``\\$`` is a literal dollar."""
    v = w.value
    out: list[tuple[bool, str]] = []
    buf: list[str] = []
    i, n = 0, len(v)
    while i < n:
        c = v[i]
        if c == "\\" and i + 1 < n and v[i + 1] == "$":
            buf.append("$")
            i += 2
            continue
        if c != "$":
            buf.append(c)
            i += 1
            continue
        if buf:
            out.append((False, "".join(buf)))
            buf = []
        if i + 1 < n and v[i + 1] == "(":
            j = v.find(")", i + 2)
            if j < 0:
                raise PhilSyntaxError(f'Syntax error: missing ")": "{v}"{w.where()}')
            name = v[i + 2 : j]
            if not is_identifier(name):
                raise PhilSyntaxError(
                    f'Syntax error: improper variable name "{v[i:j + 1]}"{w.where()}'
                )
            out.append((True, name))
            i = j + 1
            continue
        j = i + 1
        while j < n and (v[j].isalnum() or v[j] == "_"):
            j += 1
        name = v[i + 1 : j]
        if not is_identifier(name):
            raise PhilSyntaxError(
                f'Syntax error: $ must be followed by an identifier: "{v}"{w.where()}'
            )
        out.append((True, name))
        i = j
    if buf:
        out.append((False, "".join(buf)))
    return out


def resolve_words(
    source: Any,
    words: list[Word],
    master: Any,
    used: set[int] | None = None,
    depth: int = 0,
    environment: bool | None = None,
) -> list[Word]:
    """``words`` of the source definition with every variable replaced.

    The process environment is consulted only for ``path`` values (``environment=None``
    decides from the master's type) or when ``environment`` is True.
    """
    if environment is None:
        environment = master is not None and isinstance(master.type, PathType)
    if not any("$" in w.value for w in words):
        return words
    if depth > _MAX_DEPTH:
        raise ParameterError(f"{source.full_path()}: variable substitution too deep (a cycle?)")
    out: list[Word] = []
    for w in words:
        if "$" not in w.value or (w.quote_token is not None and w.quote_token[0] == "'"):
            out.append(w)
            continue
        pieces = _pieces(w)
        if not any(is_var for is_var, _ in pieces):
            out.append(w)
            continue
        if w.quote_token is None and len(pieces) == 1:
            out.extend(_lookup(source, pieces[0][1], environment, w, used, depth))
            continue
        text = "".join(
            " ".join(x.value for x in _lookup(source, t, environment, w, used, depth))
            if is_var
            else t
            for is_var, t in pieces
        )
        out.append(Word(text, '"', w.line_number, w.source_info))
    return out


def _lookup(
    source: Any, name: str, environment: bool, w: Word, used: set[int] | None, depth: int
) -> list[Word]:
    node = source
    scope = source.primary_parent_scope
    while scope is not None:
        objs = scope.objects
        idx = next((k for k, o in enumerate(objs) if o is node), len(objs))
        for obj in reversed(objs[:idx]):
            if obj.name != name or obj.is_disabled:
                continue
            if obj.is_scope:
                raise ParameterError(f"Not a definition: ${name}{w.where()}")
            if used is not None:
                used.update(id(o) for o in objs if o.name == name)
            return resolve_words(obj, obj.words, None, used, depth + 1, environment)
        node = scope
        scope = scope.primary_parent_scope
    if environment and name in os.environ:
        return [Word(os.environ[name], None, w.line_number, w.source_info)]
    raise ParameterError(f"Undefined variable: ${name}{w.where()}")
