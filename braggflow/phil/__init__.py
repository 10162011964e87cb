"""braggflow.phil: the PHIL parameter language (a libtbx.phil work-alike).

    from braggflow import phil
    master = phil.parse(MASTER_TEXT)
    working = master.fetch(sources=[phil.parse(user_text)])
    params = working.extract()
    print(master.fetch_diff(source=master.format(params)).as_str())
"""

from __future__ import annotations

from pathlib import Path

from ._cli import ArgumentInterpreter
from ._dataclasses import to_dataclass
from ._extract import ScopeExtract
from ._fetch import PhilDeprecationWarning
from ._tree import Definition, ObjectLocator, Scope
from ._words import AUTO, Auto, AutoType, Word, is_name

__all__ = [
    "AUTO",
    "ArgumentInterpreter",
    "PhilDeprecationWarning",
    "Auto",
    "AutoType",
    "Definition",
    "ObjectLocator",
    "Scope",
    "ScopeExtract",
    "Word",
    "is_name",
    "parse",
    "read_file",
    "to_dataclass",
    "include_scope_packages",
]

#: module prefixes that ``include scope`` may import from (spec §2 [bf])
include_scope_packages: list[str] = ["braggflow.params"]


def read_file(file_name: str | Path) -> str:
    """Read a PHIL file as UTF-8, dropping bytes that do not decode (spec §1)."""
    return Path(file_name).read_bytes().decode("utf-8", errors="ignore")


def parse(
    input_string: str | None = None,
    source_name: str | None = None,
    file_name: str | Path | None = None,
    process_includes: bool = True,
) -> Scope:
    """Parse PHIL text (or the file ``file_name``) into a root :class:`Scope`.

    Syntax errors raise :class:`braggflow.errors.PhilSyntaxError` naming the source and line.
    """
    from ._include import process_includes as _process_includes
    from ._parser import parse_text

    if file_name is not None and input_string is None:
        input_string = read_file(file_name)
    source_info = source_name
    if source_info is None and file_name is not None:
        source_info = f'file "{file_name}"'
    scope = parse_text(input_string or "", source_info)
    if process_includes:
        _process_includes(scope, file_name=None if file_name is None else str(file_name))
    return scope
