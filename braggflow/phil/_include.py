"""``include file PATH`` and ``include scope dotted.path [phil.path]`` (spec §2)."""

from __future__ import annotations

import importlib
import os
from typing import Any

from braggflow.errors import PhilError

_IN_PROGRESS: list[str] = []


def process_includes(scope: Any, file_name: str | None = None, _stack: list[str] | None = None) -> None:
    """Replace every active ``include`` statement below ``scope`` by what it includes."""
    stack = _stack if _stack is not None else ([os.path.abspath(file_name)] if file_name else [])
    new_objects: list[Any] = []
    changed = False
    for obj in scope.objects:
        if obj.is_definition and obj.name == "include" and not obj.is_disabled:
            new_objects.extend(_expand(obj, file_name, stack))
            changed = True
        else:
            if obj.is_scope:
                process_includes(obj, file_name, stack)
            new_objects.append(obj)
    if changed:
        scope.objects = []
        for o in new_objects:
            o.primary_parent_scope = scope
            scope.objects.append(o)


def _expand(obj: Any, file_name: str | None, stack: list[str]) -> list[Any]:
    from ._variables import resolve_words

    words = resolve_words(obj, obj.words, None, environment=True)
    where = obj.where_str()
    if len(words) < 2:
        raise PhilError(f'"include" must be followed by at least two arguments{where}')
    kind = words[0].value
    if kind == "file":
        if len(words) != 2:
            raise PhilError(f'"include file" must be followed exactly one argument{where}')
        return _include_file(words[1].value, file_name, stack, where)
    if kind == "scope":
        if len(words) > 3:
            raise PhilError(f'"include scope" must be followed by one or two arguments{where}')
        phil_path = words[2].value if len(words) == 3 else None
        return _include_scope(words[1].value, phil_path, where)
    raise PhilError(f"Unknown include type: {kind}{where}")


def _include_file(path: str, file_name: str | None, stack: list[str], where: str) -> list[Any]:
    from . import parse

    path = os.path.expanduser(path)
    if not os.path.isabs(path) and file_name:
        path = os.path.join(os.path.dirname(os.path.abspath(file_name)), path)
    full = os.path.abspath(path)
    if full in stack:
        raise PhilError("Include dependency cycle: " + ", ".join([*stack, full]))
    if not os.path.isfile(full):
        raise PhilError(f'include file: cannot read "{path}"{where}')
    sub = parse(file_name=path, process_includes=False)
    process_includes(sub, path, [*stack, full])
    return list(sub.objects)


def _include_scope(dotted: str, phil_path: str | None, where: str) -> list[Any]:
    from . import Scope, include_scope_packages, parse

    if not any(dotted == p or dotted.startswith(p + ".") for p in include_scope_packages):
        allowed = ", ".join(include_scope_packages)
        raise PhilError(
            f'include scope: "{dotted}" is not allowed{where}; only modules under {allowed}'
            " can be included"
        )
    if dotted in _IN_PROGRESS:
        raise PhilError("Include dependency cycle: " + ", ".join([*_IN_PROGRESS, dotted]))
    module_name, _, attr = dotted.rpartition(".")
    _IN_PROGRESS.append(dotted)
    try:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise PhilError(f"include scope: no module {module_name}{where} ({exc})") from None
        try:
            value = getattr(module, attr)
        except AttributeError:
            raise PhilError(
                f"include scope: {module_name} has no attribute {attr}{where}"
            ) from None
        if callable(value) and not isinstance(value, Scope):
            value = value()
        if isinstance(value, str):
            value = parse(value, source_name=f"include scope {dotted}")
        if not isinstance(value, Scope):
            raise PhilError(f"include scope: {dotted} is not a PHIL scope or string{where}")
    finally:
        _IN_PROGRESS.pop()
    value = value.copy()
    if phil_path is None:
        return list(value.objects)
    found = [o.copy() for o in value.get(phil_path).objects]
    if not found:
        raise PhilError(
            f'include scope: path "{phil_path}" not found in phil scope object "{dotted}"{where}'
        )
    return found
