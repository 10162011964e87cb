"""Printing a PHIL tree byte-identically to libtbx.phil (spec §4.5)."""

from __future__ import annotations

from typing import Any, TextIO

from ._attrs import DEFINITION_ATTRIBUTES, SCOPE_ATTRIBUTES, STRING_ATTRIBUTES
from ._words import Word, is_name

DEFAULT_PRINT_WIDTH = 79


def show(
    obj: Any,
    out: TextIO,
    prefix: str = "",
    expert_level: int | None = None,
    attributes_level: int = 0,
    print_width: int | None = None,
    merged_names: tuple[str, ...] = (),
) -> None:
    width = DEFAULT_PRINT_WIDTH if print_width is None else print_width
    if obj.is_definition:
        _show_definition(obj, out, prefix, expert_level, attributes_level, width, merged_names)
    else:
        _show_scope(obj, out, prefix, expert_level, attributes_level, width, merged_names)


def _hidden(obj: Any, expert_level: int | None, attributes_level: int) -> bool:
    if obj.is_template < 0 and attributes_level < 2:
        return True
    level = obj.expert_level
    return (
        expert_level is not None
        and expert_level >= 0
        and level is not None
        and level > expert_level
    )


def _show_definition(
    d: Any,
    out: TextIO,
    prefix: str,
    expert_level: int | None,
    attributes_level: int,
    width: int,
    merged: tuple[str, ...],
) -> None:
    if _hidden(d, expert_level, attributes_level):
        return
    if d.deprecated:
        if attributes_level < 3:
            return
        out.write(prefix + "# WARNING: deprecated parameter\n")
    line = prefix + ("!" if d.is_disabled else "") + ".".join((*merged, d.name))
    if d.name != "include":
        line += " ="
    indent_len = len(line)
    indent = " " * indent_len
    for w in d.words:
        s = str(w)
        line_plus = line + " " + s
        if len(line_plus) > width - 2 and len(line) > indent_len:
            out.write(line + " \\\n")
            line = indent + " " + s
        else:
            line = line_plus
    out.write(line + "\n")
    if attributes_level > 0:
        _show_attributes(d, DEFINITION_ATTRIBUTES, out, prefix, attributes_level, width)


def _attribute_lines(
    obj: Any, names: tuple[str, ...], prefix: str, attributes_level: int, width: int
) -> list[str]:
    lines: list[str] = []
    for name in names:
        value = getattr(obj, name)
        if attributes_level == 1:
            if name not in ("help", "alias") or value is None:
                continue
        elif attributes_level == 2:
            if value is None:
                continue
        else:
            if name == "deprecated" and not value:
                continue
            if name == "alias" and value is None:
                continue
        head = prefix + "  ." + name + " = "
        if value is None:
            lines.append(head + "None")
        elif name in STRING_ATTRIBUTES:
            lines.extend(_string_attribute(head, len(prefix) + 3 + len(name) + 3, value, width))
        else:
            lines.append(head + str(value))
    return lines


def _show_attributes(
    obj: Any, names: tuple[str, ...], out: TextIO, prefix: str, attributes_level: int, width: int
) -> None:
    for line in _attribute_lines(obj, names, prefix, attributes_level, width):
        out.write(line + "\n")


def _string_attribute(head: str, indent: int, value: str, width: int) -> list[str]:
    if is_name(value):
        return [head + value]
    chunk_width = width - 2 - indent
    chunks: list[str] = []
    current: str | None = None
    for piece in value.split(" "):
        if current is None:
            current = piece
        elif len(current) + 1 + len(piece) > chunk_width:
            chunks.append(current)
            current = piece
        else:
            current = current + " " + piece
    chunks.append(current or "")
    lines = [head + str(Word(chunks[0], '"'))]
    pad = " " * indent
    lines.extend(pad + str(Word(c, '"')) for c in chunks[1:])
    return lines


def _show_scope(
    s: Any,
    out: TextIO,
    prefix: str,
    expert_level: int | None,
    attributes_level: int,
    width: int,
    merged: tuple[str, ...],
) -> None:
    if _hidden(s, expert_level, attributes_level):
        return
    if not s.name:
        for obj in s.objects:
            show(obj, out, prefix, expert_level, attributes_level, width, merged)
        return
    if s.objects and s.objects[0].merge_names and not s.is_disabled:
        names = (*merged, s.name)
        for obj in s.objects:
            show(obj, out, prefix, expert_level, attributes_level, width, names)
        return
    head = prefix + ("!" if s.is_disabled else "") + ".".join((*merged, s.name))
    attrs = (
        _attribute_lines(s, SCOPE_ATTRIBUTES[:-1], prefix, attributes_level, width)
        if attributes_level > 0
        else []
    )
    if attrs:
        out.write(head + "\n")
        for line in attrs:
            out.write(line + "\n")
        out.write(prefix + "{\n")
    else:
        out.write(head + " {\n")
    inner = prefix + "  "
    for obj in s.objects:
        show(obj, out, inner, expert_level, attributes_level, width, ())
    out.write(prefix + "}\n")
