"""Command-line ``path=value`` arguments with unique-suffix matching (spec §5.2)."""

from __future__ import annotations

import os
import re
import sys
from typing import Any, Callable, Iterable

from braggflow.errors import ParameterError, PhilError

from ._tree import Scope

PHIL_FILE_SUFFIXES = (".phil", ".param", ".params", ".eff", ".def")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
SOURCE = "command line argument"


def _score(p: str, t: str, home: str | None) -> int:
    if p == t:
        return 8
    if home:
        hp = home + "." + p
        if t == hp:
            return 7
        if t.endswith("." + hp):
            return 6
        if t.endswith(hp):
            return 5
    if t.endswith("." + p):
        return 4
    if t.endswith(p):
        return 3
    if home and (home + "." + p) in t:
        return 2
    if p in t:
        return 1
    return 0


class ArgumentInterpreter:
    """Turns ``path=value`` command-line arguments into user phils for ``master.fetch``."""

    def __init__(
        self,
        master: Scope,
        home_scope: str | None = None,
        assume_when_ambiguous: bool = True,
        out: Any = None,
    ) -> None:
        self.master = master
        self.home_scope = home_scope
        self.assume_when_ambiguous = assume_when_ambiguous
        self.out = out
        self.targets: list[tuple[str, int]] = []
        self.aliases: dict[str, str] = {}
        self._collect(master, "", 0)

    def _collect(self, scope: Scope, base: str, level: int) -> None:
        seen: set[str] = set()
        for obj in scope.active_objects():
            path = f"{base}.{obj.name}" if base else obj.name
            lvl = obj.expert_level if obj.expert_level is not None else level
            if obj.is_definition:
                if path not in seen:
                    seen.add(path)
                    self.targets.append((path, lvl))
                    if obj.alias:
                        alias_path = f"{base}.{obj.alias}" if base else obj.alias
                        self.aliases[alias_path] = path
                        self.targets.append((alias_path, lvl))
            elif path not in seen or not obj.multiple:
                seen.add(path)
                self._collect(obj, path, lvl)

    # -- public ------------------------------------------------------------------------------
    def process(self, arg: str | None = None, args: Iterable[str] | None = None,
                custom_processor: Callable[[str], bool] | None = None) -> Any:
        if args is not None:
            return self.process_args(list(args), custom_processor)
        assert arg is not None
        if _is_phil_file(arg):
            from . import parse

            return parse(file_name=arg)
        return self.process_arg(arg)

    def process_args(
        self, args: list[str], custom_processor: Callable[[str], bool] | None = None
    ) -> list[Scope]:
        """User phils for every argument (files and ``path=value``), in argv order."""
        from . import parse

        result: list[Scope] = []
        unhandled: list[str] = []
        for arg in args:
            if _is_phil_file(arg):
                result.append(parse(file_name=arg))
            elif "=" in arg and not _URL.match(arg):
                result.append(self.process_arg(arg))
            elif custom_processor is not None and custom_processor(arg):
                continue
            else:
                unhandled.append(arg)
        if unhandled:
            raise ParameterError(
                "Unable to handle the following arguments:\n"
                + "\n".join("  " + a for a in unhandled)
            )
        return result

    def process_arg(self, arg: str) -> Scope:
        from . import parse

        try:
            user = parse(arg, source_name=SOURCE, process_includes=False)
        except PhilError as exc:
            raise ParameterError(
                "Error interpreting command line argument as parameter definition:\n"
                f'  "{arg}"\n  RuntimeError: {exc}'
            ) from None
        defs = user.all_definitions()
        if not defs:
            raise ParameterError(f'Command line parameter definition has no effect: "{arg}"')
        result = Scope("")
        for loc in defs:
            d = loc.object.copy()
            d.name = self.resolve(loc.path, d)
            d.merge_names = False
            result.adopt(d)
        return result

    def resolve(self, path: str, definition: Any = None) -> str:
        """The full master path for the (partial) ``path`` typed by the user."""
        shown = _def_text(path, definition)
        scored = [(_score(path, t, self.home_scope), t, lvl) for t, lvl in self.targets]
        best = max((s for s, _, _ in scored), default=0)
        if best == 0:
            from ._suggest import did_you_mean

            msg = f"Unknown command line parameter definition: {shown}"
            hint = did_you_mean(self.master, path)
            raise ParameterError(msg + ("\n" + hint if hint else ""))
        tied = []
        for s, t, lvl in scored:
            real = self.aliases.get(t, t)
            if s == best and all(real != x for _, x, _ in tied):
                tied.append((s, real, lvl))
        if len(tied) == 1:
            return tied[0][1]
        text = (
            f"Ambiguous parameter definition: {shown}\nBest matches:\n"
            + "\n".join("  " + t for _, t, _ in tied)
        )
        broken = [(s - lvl / 100.0, t) for s, t, lvl in tied]
        top = max(b for b, _ in broken)
        winners = [t for b, t in broken if b == top]
        if len(winners) == 1 and self.assume_when_ambiguous:
            out = self.out or sys.stdout
            out.write(f"Warning: {text}\nAssuming {winners[0]} was intended.\n")
            return winners[0]
        raise ParameterError(text)


def _def_text(path: str, definition: Any) -> str:
    if definition is None:
        return path
    return f"{path.rsplit('.', 1)[-1]} = {definition.value_text()}"


def _is_phil_file(arg: str) -> bool:
    return (
        arg.endswith(PHIL_FILE_SUFFIXES) and os.path.isfile(arg) and os.path.getsize(arg) > 0
    )
