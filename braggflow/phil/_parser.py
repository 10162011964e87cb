"""PHIL text -> :class:`Scope` with lark (LALR + the hand-written scanner)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lark import Lark, Transformer
from lark.exceptions import UnexpectedEOF, UnexpectedInput, UnexpectedToken

from braggflow.errors import PhilError, PhilSyntaxError

from ._lexer import PhilLexer, PhilText, syntax_error
from ._attrs import BOOL_ATTRIBUTES, DEFINITION_ATTRIBUTES, INT_ATTRIBUTES, SCOPE_ATTRIBUTES
from ._tree import Definition, Scope
from ._types import make_type, number_from_text, parse_bool
from ._words import Word, special_value

_SCOPE_ATTRIBUTES = frozenset(SCOPE_ATTRIBUTES) - {"alias"}
_DEFINITION_ATTRIBUTES = frozenset(DEFINITION_ATTRIBUTES)


class _Attr:
    __slots__ = ("name", "words", "is_disabled", "word")

    def __init__(self, tok: Any, words: list[Word]) -> None:
        w: Word = tok.word
        self.word = w
        self.is_disabled = w.value.startswith("!")
        self.name = w.value[2:] if self.is_disabled else w.value[1:]
        self.words = words


def convert_attribute(name: str, words: list[Word]) -> Any:
    """The Python value of an attribute's words (spec §3.2); errors are syntax errors."""
    try:
        return _convert_attribute(name, words)
    except PhilSyntaxError:
        raise
    except PhilError as exc:
        raise PhilSyntaxError(str(exc)) from None


def _convert_attribute(name: str, words: list[Word]) -> Any:
    if name == "type":
        return make_type(words)
    if special_value(words) is None:
        return None
    if name in BOOL_ATTRIBUTES:
        return parse_bool(words, "." + name)
    if name in INT_ATTRIBUTES:
        text = " ".join(w.value for w in words)
        return number_from_text(text, text, "." + name, words[0].where(), integer=True)
    return " ".join(w.value for w in words)


def _fill(scope: Scope, stmts: list[Any]) -> Scope:
    active: Definition | None = None
    for s in stmts:
        if isinstance(s, _Attr):
            if s.is_disabled:
                continue
            if active is None or s.name not in _DEFINITION_ATTRIBUTES:
                raise syntax_error(
                    f"Unexpected definition attribute: {s.word.value}",
                    s.word.source_info,
                    s.word.line_number,
                )
            setattr(active, s.name, convert_attribute(s.name, s.words))
        else:
            active = s if s.is_definition else None
            scope.adopt(s)
    return scope


def _strip(word: Word) -> tuple[str, bool]:
    v = word.value
    return (v[1:], True) if v.startswith("!") else (v, False)


class _Builder(Transformer):
    """Inline LALR callbacks building the tree while parsing (no lark parse tree)."""

    def start(self, children: list[Any]) -> Scope:
        return _fill(Scope(""), children)

    def definition(self, children: list[Any]) -> Definition:
        name_tok, _, value_tok = children
        w: Word = name_tok.word
        name, disabled = _strip(w)
        return Definition(
            name,
            value_tok.value,
            is_disabled=disabled,
            source_info=w.source_info,
            line_number=w.line_number,
        )

    def include(self, children: list[Any]) -> Definition:
        tok, value_tok = children
        w: Word = tok.word
        _, disabled = _strip(w)
        return Definition(
            "include",
            value_tok.value,
            is_disabled=disabled,
            source_info=w.source_info,
            line_number=w.line_number,
        )

    def def_attr(self, children: list[Any]) -> _Attr:
        return _Attr(children[0], children[2].value)

    def scope_attr(self, children: list[Any]) -> _Attr:
        return _Attr(children[0], children[2].value)

    def scope(self, children: list[Any]) -> Scope:
        w: Word = children[0].word
        name, disabled = _strip(w)
        scope = Scope(name, is_disabled=disabled, source_info=w.source_info, line_number=w.line_number)
        i = 1
        while isinstance(children[i], _Attr):
            a = children[i]
            if not a.is_disabled:
                if a.name not in _SCOPE_ATTRIBUTES:
                    raise syntax_error(
                        f"Unexpected scope attribute: {a.word.value}",
                        a.word.source_info,
                        a.word.line_number,
                    )
                setattr(scope, a.name, convert_attribute(a.name, a.words))
            i += 1
        return _fill(scope, children[i + 1 : -1])


_PARSER: Lark | None = None


def _parser() -> Lark:
    global _PARSER
    if _PARSER is None:
        grammar = (Path(__file__).with_name("grammar.lark")).read_text()
        _PARSER = Lark(grammar, parser="lalr", lexer=PhilLexer, transformer=_Builder())
    return _PARSER


def parse_text(text: str, source_info: str | None) -> Scope:
    data = PhilText(text)
    data.source_info = source_info
    try:
        return _parser().parse(data)
    except PhilError:
        raise
    except (UnexpectedToken, UnexpectedEOF) as exc:
        raise _map_error(exc, data) from None
    except UnexpectedInput as exc:  # pragma: no cover - the scanner accepts any text
        raise PhilSyntaxError(f"Syntax error: {exc}") from None


def _map_error(exc: Any, data: PhilText) -> PhilSyntaxError:
    tok = getattr(exc, "token", None)
    scanner = data.scanner
    expected = set(getattr(exc, "expected", ()) or getattr(exc, "accepts", ()) or ())
    if tok is None or tok.type == "$END":
        if scanner is not None and scanner.open_braces and "NAME" in expected:
            line = scanner.open_braces[-1]
            where = syntax_error("", data.source_info, line).args[0].strip()
            return PhilSyntaxError(f'Syntax error: no matching "}}" for "{{" at {where[1:-1]}')
        return PhilSyntaxError("Unexpected end of input.")
    w: Word | None = getattr(tok, "word", None)
    si = w.source_info if w else data.source_info
    line = w.line_number if w else tok.line
    if tok.type == "LBRACE":
        return syntax_error('Syntax error: unexpected "{"', si, line)
    if tok.type == "EQ":
        return syntax_error('Syntax error: improper definition name "="', si, line)
    if tok.type == "RBRACE" and scanner is not None:
        return syntax_error('Syntax error: unexpected "}"', si, line)
    return syntax_error(f'Syntax error: unexpected "{tok}"', si, line)
