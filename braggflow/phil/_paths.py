"""Path helpers of the tree: ``all_definitions`` entries and lookups by dotted path."""

from __future__ import annotations

from typing import Any


class ObjectLocator:
    """One entry of :meth:`Scope.all_definitions`: ``.path``, ``.object`` and ``.parent``."""

    __slots__ = ("parent", "path", "object")

    def __init__(self, parent: Any, path: str, obj: Any) -> None:
        self.parent = parent
        self.path = path
        self.object = obj

    def __repr__(self) -> str:
        return f"ObjectLocator({self.path!r})"

    def __str__(self) -> str:
        return f"{self.path}{self.object.where_str()}"


def collect_definitions(
    scope: Any, base: str, suppress_multiple: bool, out: list[ObjectLocator], seen: set[str]
) -> None:
    for obj in scope.active_objects():
        path = f"{base}.{obj.name}" if base else obj.name
        if suppress_multiple and obj.multiple:
            if path in seen:
                continue
            seen.add(path)
        if obj.is_definition:
            out.append(ObjectLocator(scope, path, obj))
        else:
            collect_definitions(obj, path, suppress_multiple, out, seen)


def find_path(scope: Any, parts: list[str], found: list[Any]) -> None:
    head, rest = parts[0], parts[1:]
    for obj in scope.active_objects():
        if obj.name != head:
            continue
        if not rest:
            found.append(obj)
        elif obj.is_scope:
            find_path(obj, rest, found)
