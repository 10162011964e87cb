"""Extract (PHIL -> Python objects) and format (Python -> PHIL), spec §4.2 and §4.4."""

from __future__ import annotations

from typing import Any


class ScopeExtract:
    """Attribute-access namespace for one extracted scope (libtbx ``scope_extract``)."""

    __slots__ = ("__phil_name__", "__phil_parent__", "__phil_call__", "__dict__")

    def __init__(self, name: str = "", parent: "ScopeExtract | None" = None, call: Any = None):
        object.__setattr__(self, "__phil_name__", name)
        object.__setattr__(self, "__phil_parent__", parent)
        object.__setattr__(self, "__phil_call__", call)

    def __phil_path__(self, object_name: str | None = None) -> str:
        names = [] if object_name is None else [object_name]
        node: ScopeExtract | None = self
        while node is not None and node.__phil_name__:
            names.append(node.__phil_name__)
            node = node.__phil_parent__
        return ".".join(reversed(names))

    def __inject__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self.__dict__:
            raise AttributeError(
                f'Assignment to non-existing attribute "{self.__phil_path__(name)}"\n'
                "  Please correct the attribute name, or to create\n"
                "  a new attribute use: obj.__inject__(name, value)"
            )
        object.__setattr__(self, name, value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ScopeExtract):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"ScopeExtract({inner})"


def extract_scope(scope: Any, parent: ScopeExtract | None = None) -> ScopeExtract:
    result = ScopeExtract(scope.name, parent, getattr(scope, "call", None))
    d = result.__dict__
    multiple: set[str] = set()
    for obj in scope.objects:
        name = obj.name
        if obj.multiple:
            multiple.add(name)
        if obj.is_disabled:
            d.setdefault(name, None)
            continue
        if name in multiple:
            values = d.get(name)
            if not isinstance(values, list):
                values = d[name] = []
            if obj.is_template != 0:
                continue
            value = obj.extract(result)
            if value is None and obj.is_definition and obj.optional is True:
                continue
            values.append(value)
            continue
        value = obj.extract(result)
        existing = d.get(name)
        if obj.is_scope and isinstance(existing, ScopeExtract):
            _merge(existing, value)
        else:
            d[name] = value
    return result


def _merge(into: ScopeExtract, other: ScopeExtract) -> None:
    """Join two same-named scopes member by member (recursively for nested scopes)."""
    d = into.__dict__
    for name, value in other.__dict__.items():
        existing = d.get(name)
        if isinstance(existing, ScopeExtract) and isinstance(value, ScopeExtract):
            _merge(existing, value)
        elif isinstance(existing, list) and isinstance(value, list):
            existing.extend(value)
        else:
            d[name] = value


def format_scope(master: Any, python_object: Any) -> Any:
    objects: list[Any] = []
    done_multiple: set[str] = set()
    for obj in master.objects:
        name = obj.name
        if obj.is_disabled:
            continue
        has = python_object is not None and hasattr(python_object, name)
        if name in done_multiple:
            continue
        if obj.multiple:
            done_multiple.add(name)
            values = getattr(python_object, name) if has else None
            if not values:
                t = obj.copy()
                t.is_template = 1
                objects.append(t)
            else:
                for v in values:
                    objects.append(obj.format(v))
            continue
        objects.append(obj.format(getattr(python_object, name)) if has else obj.copy())
    result = master.customized_copy(objects=objects)
    result.is_template = 0
    return result
