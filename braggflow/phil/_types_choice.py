"""PHIL types, part 3: choice and choice(multi=True) (spec §3.6)."""

from __future__ import annotations

from typing import Any

from braggflow.errors import ParameterError

from ._types_basic import _Type, _path, _where
from ._words import AUTO, Word, special_value


class ChoiceType(_Type):
    def __init__(self, multi: bool = False) -> None:
        self.multi = multi

    @property
    def phil_type(self) -> str:  # type: ignore[override]
        return "choice(multi=True)" if self.multi else "choice"

    @staticmethod
    def _options(master: Any) -> list[tuple[str, Word]]:
        out = []
        for w in master.words:
            v = w.value
            out.append((v[1:] if v.startswith("*") else v, w))
        return out

    def _error_possible(self, master: Any, value: str, where: str) -> ParameterError:
        lines = [f"Not a possible choice for {_path(master)}: {value}{where}"]
        lines.append("  Possible choices are:")
        lines.extend("    " + str(w) for w in master.words)
        return ParameterError("\n".join(lines))

    def fetch(self, source_words: list[Word], master: Any) -> list[Word]:
        """Resolve a user value against the master's options (spec §3.6)."""
        special = special_value(source_words)
        if special is AUTO:
            w0 = source_words[0]
            return [Word("Auto", None, w0.line_number, w0.source_info)]
        where = _where(source_words)
        if special is None:
            if master.optional is not False:
                return self._starred(master, set(), source_words)
            raise self._error_possible(master, source_words[0].value, where)
        plus = None
        if not any(w.quote_token is not None or w.value.startswith("*") for w in source_words):
            joined = " ".join(w.value for w in source_words)
            if "+" in joined:
                pieces = joined.split("+")
                if all(p.strip() for p in pieces[1:]):
                    plus = [item for p in pieces for item in p.split()]
        if plus is not None:
            selected = plus
        elif len(source_words) == 1:
            v = source_words[0].value
            selected = [v[1:] if v.startswith("*") else v]
        else:
            selected = [w.value[1:] for w in source_words if w.value.startswith("*")]
        options = {name.lower(): name for name, _ in self._options(master)}
        chosen = set()
        for s in selected:
            key = s.lower()
            if key not in options:
                raise self._error_possible(master, s, where)
            chosen.add(options[key])
        return self._starred(master, chosen, source_words)

    def _starred(self, master: Any, chosen: set[str], source_words: list[Word]) -> list[Word]:
        # the resolved words keep the master words' locations, as libtbx does
        return [
            Word(("*" + name) if name in chosen else name, w.quote_token, w.line_number, w.source_info)
            for name, w in self._options(master)
        ]

    def _special(self, value: Any, words: list[Word], master: Any) -> Any:
        if value is None and self.multi:
            return []
        return value

    def _from_words(self, words: list[Word], master: Any) -> Any:
        selected = [w.value[1:] for w in words if w.value.startswith("*")]
        path = _path(master)
        where = _where(words)
        if self.multi:
            if not selected and master is not None and master.optional is False:
                raise ParameterError(
                    f"Unspecified choice for {path}: at least one choice must be selected{where}"
                )
            return selected
        if len(selected) > 1:
            raise ParameterError(
                f"Multiple choices for {path}; only one choice can be selected{where}"
            )
        if not selected:
            if master is not None and master.optional is False:
                raise ParameterError(
                    f"Unspecified choice for {path}: exactly one choice must be selected{where}"
                )
            return None
        return selected[0]

    def as_words(self, value: Any, master: Any) -> list[Word]:
        if value is AUTO:
            return [Word("Auto")]
        options = self._options(master)
        names = [n for n, _ in options]
        if value is None:
            chosen: set[str] = set()
        elif self.multi:
            items = [value] if isinstance(value, str) else list(value)
            bad = [v for v in items if v not in names]
            if bad:
                raise ParameterError(f"Invalid choice(multi=True): {_path(master)}={items!r}")
            chosen = set(items)
        else:
            if value not in names:
                raise ParameterError(f"Invalid choice: {_path(master)}={value}")
            chosen = {value}
        return [
            Word(("*" + n) if n in chosen else n, w.quote_token) for n, w in options
        ]
