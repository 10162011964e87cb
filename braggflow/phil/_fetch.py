"""fetch / fetch_diff: merge user phils into the master (spec §4.1, §4.3, §4.6)."""

from __future__ import annotations

import warnings
from typing import Any

from braggflow.errors import ParameterError, PhilError

from ._tree import ObjectLocator, Scope


class PhilDeprecationWarning(UserWarning):
    """A deprecated parameter was set to a non-default value."""


class _Ctx:
    __slots__ = ("diff", "used", "skip_incompatible")

    def __init__(self, diff: bool, used: set[int], skip_incompatible: bool) -> None:
        self.diff = diff
        self.used = used
        self.skip_incompatible = skip_incompatible

    def no_diff(self) -> "_Ctx":
        return _Ctx(False, self.used, self.skip_incompatible)


def fetch(
    master: Scope,
    source: Any = None,
    sources: list[Any] | None = None,
    track_unused_definitions: bool = False,
    diff: bool = False,
    skip_incompatible_objects: bool = False,
    strict: bool = True,
) -> Any:
    """The working phil: master structure, user values (last wins), see spec §4.1.

    With ``track_unused_definitions=True`` returns ``(working, unused)`` where ``unused`` is
    a list of :class:`ObjectLocator`. Otherwise, when ``strict`` (the default), definitions
    that match nothing raise :class:`ParameterError` with a "Did you mean" hint.
    """
    srcs: list[Any] = []
    if source is not None:
        srcs.append(source)
    if sources:
        srcs.extend(sources)
    top: list[Any] = []
    for s in srcs:
        if s.is_scope and not s.name:
            top.extend(s.objects)
        else:
            top.append(s)
    ctx = _Ctx(diff, set(), skip_incompatible_objects)
    result = _fetch_scope(master, top, ctx)
    if result is None:
        result = master.customized_copy(objects=[])
    unused = _unused(srcs, ctx.used)
    if track_unused_definitions:
        return result, unused
    if strict and unused:
        raise ParameterError(unused_message(master, unused))
    return result


def unused_message(master: Scope, unused: list[ObjectLocator]) -> str:
    from ._suggest import did_you_mean

    lines = ["The following definitions were not recognised"]
    for loc in unused:
        obj = loc.object
        lines.append(f"  {loc.path} = {obj.value_text()}{obj.where_str()}")
        hint = did_you_mean(master, loc.path)
        if hint:
            lines.append("    " + hint)
    return "\n".join(lines)


def _unused(srcs: list[Any], used: set[int]) -> list[ObjectLocator]:
    out: list[ObjectLocator] = []

    def walk(obj: Any, parent: Any) -> None:
        if obj.is_disabled:
            return
        if obj.is_definition:
            if id(obj) not in used and obj.name != "include":
                out.append(ObjectLocator(parent, obj.full_path(), obj))
        else:
            for o in obj.objects:
                walk(o, obj)

    for s in srcs:
        walk(s, None)
    return out


def _mark_used(obj: Any, used: set[int]) -> None:
    used.add(id(obj))
    if obj.is_scope:
        for o in obj.objects:
            _mark_used(o, used)


def _incompatible(mobj: Any, sobj: Any, ctx: _Ctx) -> bool:
    if mobj.is_scope == sobj.is_scope:
        return False
    if ctx.skip_incompatible:
        return True

    def desc(o: Any) -> str:
        kind = "scope" if o.is_scope else "definition"
        return f'{kind} "{o.full_path()}"{o.where_str()}'

    raise ParameterError(f"Incompatible parameter objects: {desc(mobj)} vs. {desc(sobj)}")


def _check_duplicates(mscope: Scope) -> None:
    first: dict[str, Any] = {}
    dups: list[Any] = []
    for obj in mscope.objects:
        if obj.is_disabled or not obj.is_definition:
            continue
        f = first.get(obj.name)
        if f is None:
            first[obj.name] = obj
        elif not f.multiple:
            if f not in dups:
                dups.append(f)
            dups.append(obj)
    if dups:
        lines = ["Duplicate definitions in master (first not marked with .multiple=True):"]
        lines.extend(f"  {d.full_path()}{d.where_str()}" for d in dups)
        raise PhilError("\n".join(lines))


def _key(obj: Any) -> str:
    """The extract-then-format text used to compare values."""
    if obj.is_definition:
        return obj.extract_format().value_text()
    return obj.extract_format().as_str(attributes_level=0)


def _fetch_scope(mscope: Scope, src_children: list[Any], ctx: _Ctx) -> Scope | None:
    _check_duplicates(mscope)
    by_name: dict[str, list[Any]] = {}
    for c in src_children:
        if not c.is_disabled:
            by_name.setdefault(c.name, []).append(c)
    out: list[Any] = []
    done_multiple: set[str] = set()
    objs = mscope.objects
    for i, mobj in enumerate(objs):
        matches = by_name.get(mobj.name, ())
        if mobj.is_definition and mobj.alias:
            matches = _with_alias(mobj, src_children)
        if mobj.is_disabled:
            for m in matches:
                _mark_used(m, ctx.used)
            continue
        if mobj.name in done_multiple:
            continue
        matches = [m for m in matches if not _incompatible(mobj, m, ctx)]
        if mobj.multiple:
            done_multiple.add(mobj.name)
            later = [o for o in objs[i + 1 :] if o.name == mobj.name and not o.is_disabled]
            out.extend(_fetch_multiple(mobj, later, matches, ctx))
            continue
        if mobj.is_definition:
            fetched = _fetch_definition(mobj, matches, ctx)
            if fetched is not None:
                out.append(fetched)
        else:
            used = ctx.used
            for m in matches:
                used.add(id(m))
            children = [c for m in matches for c in m.objects]
            sub = _fetch_scope(mobj, children, ctx)
            if sub is not None:
                out.append(sub)
    if ctx.diff and not out:
        return None
    return mscope.customized_copy(objects=out)


def _fetch_definition(mobj: Any, matches: list[Any], ctx: _Ctx) -> Any:
    if not matches:
        if ctx.diff or mobj.deprecated:
            return None
        return mobj.copy()
    for m in matches:
        ctx.used.add(id(m))
    # every source value is resolved (choices checked, variables substituted), last one wins
    for m in matches[:-1]:
        mobj.fetch_value(m, ctx.diff, ctx.used)
    fetched = mobj.fetch_value(matches[-1], ctx.diff, ctx.used)
    if ctx.diff or mobj.deprecated:
        if _key(fetched) == _key(mobj):
            return None
        if mobj.deprecated and not ctx.diff:
            warnings.warn(
                f"{mobj.full_path()} is deprecated - not recommended for use.",
                PhilDeprecationWarning,
                stacklevel=4,
            )
    return fetched


def _fetch_instance(template: Any, candidate: Any, ctx: _Ctx) -> Any:
    if template.is_definition:
        ctx.used.add(id(candidate))
        return template.fetch_value(candidate, ctx.diff, ctx.used)
    ctx.used.add(id(candidate))
    return _fetch_scope(template, list(candidate.objects), ctx.no_diff())


def _default_instance(template: Any, ctx: _Ctx) -> Any:
    if template.is_definition:
        return template.copy()
    return _fetch_scope(template, [], ctx.no_diff())


def _fetch_multiple(template: Any, later: list[Any], matches: list[Any], ctx: _Ctx) -> list[Any]:
    default = _default_instance(template, ctx)
    if not later and all(m.is_template != 0 for m in matches):
        for m in matches:
            _mark_used(m, ctx.used)  # nothing to compare: do not even convert the default
        if template.optional is False:
            return [] if ctx.diff else [default]
        if ctx.diff:
            return []
        default.is_template = 1
        return [default]
    default_key = _key(default)
    master_keys = {default_key}
    candidates: list[Any] = []
    for lm in later:
        inst = _fetch_instance(template, lm, ctx)
        if ctx.diff:
            master_keys.add(_key(inst))
        else:
            candidates.append(inst)
    for m in matches:
        _mark_used(m, ctx.used)
        if m.is_template == 0:  # a template in a source (format of []) means "no instance"
            candidates.append(_fetch_instance(template, m, ctx))
    kept: list[tuple[str, Any]] = []
    for inst in candidates:
        k = _key(inst)
        if k == default_key or (ctx.diff and k in master_keys):
            continue
        kept = [(kk, o) for kk, o in kept if kk != k]
        kept.append((k, inst))
    result = [o for _, o in kept]
    if ctx.diff and template.is_scope:
        # an instance differing from the default shows only its differing members
        result = [_fetch_scope(template, list(o.objects), ctx) or o for o in result]
    if template.optional is False:
        if not ctx.diff:
            result.insert(0, default)
    elif not ctx.diff:
        default.is_template = -1 if result else 1
        result.insert(0, default)
    return result


def _with_alias(mobj: Any, src_children: list[Any]) -> list[Any]:
    """Source objects addressing ``mobj`` by its name or by its ``.alias`` (a sibling path)."""
    head, *rest = mobj.alias.split(".")
    out: list[Any] = []
    for c in src_children:
        if c.is_disabled:
            continue
        if c.name == mobj.name:
            out.append(c)
        elif c.name == head:
            out.extend(_descend(c, rest))
    return out


def _descend(obj: Any, rest: list[str]) -> list[Any]:
    if not rest:
        return [obj] if obj.is_definition else []
    if not obj.is_scope:
        return []
    found: list[Any] = []
    for c in obj.objects:
        if not c.is_disabled and c.name == rest[0]:
            found.extend(_descend(c, rest[1:]))
    return found
