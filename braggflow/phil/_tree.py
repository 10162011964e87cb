"""The PHIL object tree: :class:`Definition` and :class:`Scope` (spec §3.1)."""

from __future__ import annotations

import io
from typing import Any, Iterator

from ._attrs import DEFINITION_ATTRIBUTES, SCOPE_ATTRIBUTES
from ._paths import ObjectLocator, collect_definitions, find_path
from ._words import Word, where_str

class _Object:
    """Behaviour shared by definitions and scopes."""

    is_definition = False
    is_scope = False
    name: str
    primary_parent_scope: "Scope | None"
    source_info: str | None
    line_number: int | None

    def full_path(self) -> str:
        names = [self.name]
        p = self.primary_parent_scope
        while p is not None and p.name:
            names.append(p.name)
            p = p.primary_parent_scope
        return ".".join(reversed(names))

    def where_str(self) -> str:
        return where_str(self.source_info, self.line_number)

    def as_str(
        self,
        prefix: str = "",
        expert_level: int | None = None,
        attributes_level: int = 0,
        print_width: int | None = None,
    ) -> str:
        from ._show import show

        out = io.StringIO()
        show(
            self,
            out,
            prefix=prefix,
            expert_level=expert_level,
            attributes_level=attributes_level,
            print_width=print_width,
        )
        return out.getvalue()

    def show(
        self,
        out: Any = None,
        prefix: str = "",
        expert_level: int | None = None,
        attributes_level: int = 0,
        print_width: int | None = None,
    ) -> "_Object":
        import sys

        text = self.as_str(prefix, expert_level, attributes_level, print_width)
        (out or sys.stdout).write(text)
        return self

    def __str__(self) -> str:
        return self.as_str()


class Definition(_Object):
    """``name = words`` plus definition attributes (``.type``, ``.help``, ...)."""

    is_definition = True
    __slots__ = (
        "name",
        "words",
        "is_disabled",
        "merge_names",
        "is_template",
        "primary_parent_scope",
        "source_info",
        "line_number",
        *DEFINITION_ATTRIBUTES,
    )

    def __init__(
        self,
        name: str,
        words: list[Word],
        *,
        is_disabled: bool = False,
        source_info: str | None = None,
        line_number: int | None = None,
        **attrs: Any,
    ) -> None:
        self.name = name
        self.words = words
        self.is_disabled = is_disabled
        self.merge_names = False
        self.is_template = 0
        self.primary_parent_scope = None
        self.source_info = source_info
        self.line_number = line_number
        for a in DEFINITION_ATTRIBUTES:
            setattr(self, a, attrs.pop(a, None))
        if attrs:
            raise TypeError(f"unknown definition attributes: {sorted(attrs)}")

    def copy(self) -> "Definition":
        new = Definition.__new__(Definition)
        for s in Definition.__slots__:
            setattr(new, s, getattr(self, s))
        # until adopted, a copy keeps its original parent so full_path() (used in messages)
        # stays right
        new.primary_parent_scope = self.primary_parent_scope
        return new

    def customized_copy(self, words: list[Word] | None = None) -> "Definition":
        new = self.copy()
        if words is not None:
            new.words = words
        return new

    # -- values ------------------------------------------------------------------------------
    def _converter(self) -> Any:
        from ._types import STRINGS

        return self.type if self.type is not None else STRINGS

    def extract(self, parent: Any = None) -> Any:
        if self.is_disabled:
            return None
        return self._converter().from_words(self.words, self)

    def format(self, python_object: Any) -> "Definition":
        new = self.customized_copy(words=self._converter().as_words(python_object, self))
        new.is_template = 0
        return new

    def extract_format(self) -> "Definition":
        return self.format(self.extract())

    def value_text(self) -> str:
        """The value words as printed (used to compare candidates)."""
        return " ".join(str(w) for w in self.words)

    def fetch_value(
        self, source: "Definition", diff: bool = False, used: set[int] | None = None
    ) -> "Definition":
        """This (master) definition with the words of ``source`` (variables resolved)."""
        from ._variables import resolve_words

        words = source.words
        if not diff:
            words = resolve_words(source, words, self, used)
        else:  # variables stay unexpanded in a diff, quoted as libtbx prints them
            words = [
                Word(w.value, '"', w.line_number, w.source_info)
                if w.quote_token is None and "$" in w.value
                else w
                for w in words
            ]
        fetch = getattr(self._converter(), "fetch", None)
        if fetch is not None:
            words = fetch(words, self)
        return self.customized_copy(words=words)

    def __repr__(self) -> str:
        return f"<Definition {self.full_path()} = {self.value_text()}>"


class Scope(_Object):
    """A named block of definitions and scopes; the root scope has name ``""``."""

    is_scope = True
    __slots__ = (
        "name",
        "objects",
        "is_disabled",
        "merge_names",
        "is_template",
        "primary_parent_scope",
        "source_info",
        "line_number",
        *SCOPE_ATTRIBUTES,
    )

    def __init__(
        self,
        name: str = "",
        objects: list[_Object] | None = None,
        *,
        is_disabled: bool = False,
        source_info: str | None = None,
        line_number: int | None = None,
        **attrs: Any,
    ) -> None:
        self.name = name
        self.objects: list[Any] = []
        self.is_disabled = is_disabled
        self.merge_names = False
        self.is_template = 0
        self.primary_parent_scope = None
        self.source_info = source_info
        self.line_number = line_number
        for a in SCOPE_ATTRIBUTES:
            setattr(self, a, attrs.pop(a, None))
        if attrs:
            raise TypeError(f"unknown scope attributes: {sorted(attrs)}")
        for obj in objects or ():
            self.adopt(obj)

    # -- structure ---------------------------------------------------------------------------
    def adopt(self, obj: Any) -> None:
        """Append ``obj``; a dotted name creates nested scopes (``a.b.c = 1``)."""
        parts = obj.name.split(".")
        if len(parts) > 1:
            obj.name = parts[-1]
            obj.merge_names = True
            inner = obj
            for i in range(len(parts) - 2, -1, -1):
                s = Scope(
                    parts[i], source_info=obj.source_info, line_number=obj.line_number
                )
                s.objects.append(inner)
                inner.primary_parent_scope = s
                s.merge_names = i > 0
                inner = s
            obj = inner
        obj.primary_parent_scope = self
        self.objects.append(obj)

    def adopt_scope(self, other: "Scope") -> None:
        for obj in other.objects:
            self.adopt(obj)

    def active_objects(self) -> Iterator[Any]:
        for obj in self.objects:
            if not obj.is_disabled:
                yield obj

    def copy(self) -> "Scope":
        """Deep copy of the tree (words are shared; they are never mutated)."""
        new = Scope.__new__(Scope)
        for s in Scope.__slots__:
            setattr(new, s, getattr(self, s))
        # until adopted, a copy keeps its original parent so full_path() (used in messages)
        # stays right
        new.primary_parent_scope = self.primary_parent_scope
        new.objects = []
        for obj in self.objects:
            c = obj.copy()
            c.primary_parent_scope = new
            new.objects.append(c)
        return new

    def customized_copy(self, objects: list[Any] | None = None) -> "Scope":
        new = Scope.__new__(Scope)
        for s in Scope.__slots__:
            setattr(new, s, getattr(self, s))
        # until adopted, a copy keeps its original parent so full_path() (used in messages)
        # stays right
        new.primary_parent_scope = self.primary_parent_scope
        new.objects = []
        for obj in objects if objects is not None else []:
            obj.primary_parent_scope = new
            new.objects.append(obj)
        return new

    def clone(self) -> "Scope":
        return self.copy()

    def all_definitions(self, suppress_multiple: bool = False) -> list["ObjectLocator"]:
        """Every active definition below this scope with its full path (like libtbx)."""
        result: list[ObjectLocator] = []
        base = self.full_path() if self.name else ""
        collect_definitions(self, base, suppress_multiple, result, set())
        return result

    def get(self, path: str, with_substitution: bool = True) -> "Scope":
        """A root scope holding the active objects at ``path`` (libtbx ``scope.get``)."""
        found: list[Any] = []
        find_path(self, path.split("."), found)
        result = Scope("")
        result.objects = list(found)
        return result

    def find(self, path: str) -> Any:
        """The last active object at ``path`` (dotted, relative to this scope), or None."""
        found: list[Any] = []
        find_path(self, path.split("."), found)
        return found[-1] if found else None

    def get_without_substitution(self, path: str) -> "Scope":
        return self.get(path, with_substitution=False)

    # -- operations implemented in other modules ---------------------------------------------
    def fetch(
        self,
        source: "Scope | None" = None,
        sources: list["Scope"] | None = None,
        track_unused_definitions: bool = False,
        diff: bool = False,
        skip_incompatible_objects: bool = False,
        strict: bool = True,
    ) -> Any:
        """The working phil: this master with the values of ``source``/``sources`` (later win).

        Unknown source definitions raise ParameterError (``strict=False``: ignored, as in
        libtbx); ``track_unused_definitions=True`` returns ``(working, unused)`` instead.
        """
        from ._fetch import fetch

        return fetch(
            self,
            source=source,
            sources=sources,
            track_unused_definitions=track_unused_definitions,
            diff=diff,
            skip_incompatible_objects=skip_incompatible_objects,
            strict=strict,
        )

    def fetch_diff(
        self,
        source: "Scope | None" = None,
        sources: list["Scope"] | None = None,
        track_unused_definitions: bool = False,
        skip_incompatible_objects: bool = False,
        strict: bool = True,
    ) -> Any:
        """Only the definitions of the sources whose value differs from this master."""
        from ._fetch import fetch

        return fetch(
            self,
            source=source,
            sources=sources,
            track_unused_definitions=track_unused_definitions,
            diff=True,
            skip_incompatible_objects=skip_incompatible_objects,
            strict=strict,
        )

    def extract(self, parent: Any = None) -> Any:
        """Python objects: a ScopeExtract namespace (``.multiple`` gives lists)."""
        from ._extract import extract_scope

        return extract_scope(self, parent)

    def format(self, python_object: Any) -> "Scope":
        """This master with the values of ``python_object`` (an extract) written back."""
        from ._extract import format_scope

        return format_scope(self, python_object)

    def extract_format(self) -> "Scope":
        return self.format(self.extract())

    def command_line_argument_interpreter(
        self,
        home_scope: str | None = None,
        argument_description: str | None = None,
        assume_when_ambiguous: bool = True,
        out: Any = None,
    ) -> Any:
        """An :class:`ArgumentInterpreter` for ``path=value`` arguments against this master."""
        from ._cli import ArgumentInterpreter

        return ArgumentInterpreter(
            self, home_scope=home_scope, assume_when_ambiguous=assume_when_ambiguous, out=out
        )

    def process_includes(self, file_name: str | None = None) -> "Scope":
        from ._include import process_includes

        process_includes(self, file_name=file_name)
        return self

    def __repr__(self) -> str:
        return f"<Scope {self.full_path() or '(root)'} with {len(self.objects)} objects>"


__all__ = ["Definition", "ObjectLocator", "Scope", "DEFINITION_ATTRIBUTES", "SCOPE_ATTRIBUTES"]
