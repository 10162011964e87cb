"""Hand-written two-mode PHIL scanner, plugged into lark as a custom lexer.

HEAD mode yields NAME / ATTR / INCLUDE / LBRACE / RBRACE / EQ tokens. After ``=`` and after
``include`` the scanner collects the value words itself (VALUE mode, spec §1.3) and yields one
VALUE token whose ``value`` is the list of :class:`Word`.
"""

from __future__ import annotations

import re
from typing import Iterator

from lark.lexer import Lexer, Token

from braggflow.errors import PhilSyntaxError

from ._words import Word, is_identifier, is_name, where_str

_HEAD_STOP = re.compile(r"[^\s{}=]*")
_VALUE_STOP = re.compile(r"[^\s{};]*")
_ANY_STOP = re.compile(r"\S*")
_WS = re.compile(r"\s*")


class _Tok(Token):
    """A lark token that also carries the scanner's :class:`Word` (``.word``)."""


def syntax_error(message: str, source_info: str | None, line: int | None) -> PhilSyntaxError:
    err = PhilSyntaxError(message + where_str(source_info, line))
    err.source_info = source_info  # type: ignore[attr-defined]
    err.line_number = line  # type: ignore[attr-defined]
    return err


def check_name(word: Word, kind: str) -> None:
    """Validate a definition or scope name (``!`` prefix allowed), spec §1.4."""
    name = word.value
    if name.startswith("!"):
        name = name[1:]
    if not is_name(name):
        raise syntax_error(
            f'Syntax error: improper {kind} name "{word.value}"', word.source_info, word.line_number
        )
    for part in name.split("."):
        if part == "include" or (len(part) >= 5 and part.startswith("__") and part.endswith("__")):
            raise syntax_error(f'Reserved identifier: "{part}"', word.source_info, word.line_number)


def check_attr(word: Word) -> None:
    name = word.value[2:] if word.value.startswith("!") else word.value[1:]
    if not is_identifier(name):
        raise syntax_error(
            f'Syntax error: improper attribute name "{word.value}"',
            word.source_info,
            word.line_number,
        )


class Scanner:
    """Turns PHIL text into lark tokens; raises PhilSyntaxError for lexical problems."""

    def __init__(self, text: str, source_info: str | None) -> None:
        self.text = text
        self.n = len(text)
        self.pos = 0
        self.line = 1
        self.source_info = source_info
        self.open_braces: list[int] = []  # lines of unclosed "{"

    # -- low level ---------------------------------------------------------------------------
    def _skip_ws(self) -> None:
        m = _WS.match(self.text, self.pos)
        end = m.end()
        if end != self.pos:
            self.line += self.text.count("\n", self.pos, end)
            self.pos = end

    def _skip_line(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = self.n if end < 0 else end

    def _read_bare(self, stops: "re.Pattern[str]") -> str:
        m = stops.match(self.text, self.pos)
        self.pos = m.end()
        return m.group()

    def _read_quoted(self) -> Word:
        text, n = self.text, self.n
        start_line = self.line
        q = text[self.pos]
        token = q * 3 if text.startswith(q * 3, self.pos) else q
        pos = self.pos + len(token)
        out: list[str] = []
        while True:
            close = text.find(token, pos)
            esc = text.find("\\", pos, close if close >= 0 else n)
            if close < 0 and esc < 0:
                self.line += text.count("\n", pos, n)
                self.pos = n
                raise syntax_error(
                    "Syntax error: missing closing quote", self.source_info, self.line
                )
            if esc >= 0:
                out.append(text[pos:esc])
                self.line += text.count("\n", pos, esc)
                d = text[esc + 1] if esc + 1 < n else ""
                if d == "\\" or d == q:
                    out.append(d)
                    pos = esc + 2
                elif d == "\n":
                    self.line += 1
                    pos = esc + 2
                else:
                    out.append("\\")
                    pos = esc + 1
                continue
            out.append(text[pos:close])
            self.line += text.count("\n", pos, close)
            pos = close + len(token)
            break
        self.pos = pos
        return Word("".join(out), token, start_line, self.source_info)

    # -- VALUE mode --------------------------------------------------------------------------
    def scan_value(self, prev_line: int) -> list[Word]:
        words: list[Word] = []
        cont = False
        prev_end_line = prev_line
        text = self.text
        while True:
            self._skip_ws()
            if self.pos >= self.n:
                break
            c = text[self.pos]
            if c == ";":
                self.pos += 1
                break
            if c == "{" or c == "}":
                break
            if c == '"' or c == "'":
                w = self._read_quoted()
                words.append(w)
                prev_end_line = self.line
                cont = False
                continue
            start, start_line = self.pos, self.line
            value = self._read_bare(_VALUE_STOP)
            if value == "#":
                self._skip_comment(start_line)
                break
            # [bf] compared with the line where the previous word *ended*: libtbx uses the
            # line where it started, so its own output after a multi-line quoted word would
            # not re-parse
            if start_line != prev_end_line and not cont:
                self.pos, self.line = start, start_line
                break
            if value == "\\":
                if not cont:
                    cont = True
                    continue
                # "\" right after a continuation is a literal word and continues again
            else:
                cont = False
            words.append(Word(value, None, start_line, self.source_info))
            prev_end_line = start_line
        return words

    def _skip_comment(self, comment_line: int) -> None:
        """Drop words after a bare ``#`` up to the first bare word on a new line."""
        last_backslash = False
        while True:
            self._skip_ws()
            if self.pos >= self.n:
                return
            c = self.text[self.pos]
            if c == '"' or c == "'":
                comment_line = self.line
                self._read_quoted()
                last_backslash = False
                continue
            start, start_line = self.pos, self.line
            if c in "{};":
                value = c
                self.pos += 1
            else:
                value = self._read_bare(_VALUE_STOP)
            if start_line != comment_line:
                if last_backslash:
                    comment_line = start_line
                else:
                    self.pos, self.line = start, start_line
                    return
            last_backslash = value == "\\"

    # -- HEAD mode ---------------------------------------------------------------------------
    def _meta(self, line: int) -> bool:
        """Handle ``#phil WORD``; returns False when parsing must stop (``__END__``)."""
        self.pos += 5
        # next word on the same line
        text = self.text
        while self.pos < self.n and text[self.pos] in " \t\r\f\v":
            self.pos += 1
        word = self._read_bare(_ANY_STOP)
        if word == "__ON__":
            return True
        if word == "__END__":
            return False
        if word == "__OFF__":
            while True:
                nl = text.find("\n", self.pos)
                if nl < 0:
                    self.pos = self.n
                    return False
                self.line += 1
                self.pos = nl + 1
                if text.startswith("#phil __ON__", self.pos):
                    self._skip_line()
                    return True
                if text.startswith("#phil __END__", self.pos):
                    return False
        raise syntax_error(f"Unknown: #phil {word}", self.source_info, line)

    def _head_words(self) -> Iterator[tuple[str, Word]]:
        text, n = self.text, self.n
        si = self.source_info
        while True:
            self._skip_ws()
            if self.pos >= n:
                return
            c = text[self.pos]
            line = self.line
            if c == "#":
                if text.startswith("#phil", self.pos) and (
                    self.pos + 5 >= n or text[self.pos + 5].isspace()
                ):
                    if not self._meta(line):
                        return
                    continue
                self._skip_line()
                continue
            if c == "{":
                self.pos += 1
                yield "LBRACE", Word("{", None, line, si)
            elif c == "}":
                self.pos += 1
                yield "RBRACE", Word("}", None, line, si)
            elif c == "=":
                self.pos += 1
                yield "EQ", Word("=", None, line, si)
            elif c == '"' or c == "'":
                w = self._read_quoted()
                raise syntax_error(f"Unquoted word expected, found {w}", si, w.line_number)
            else:
                value = self._read_bare(_HEAD_STOP)
                w = Word(value, None, line, si)
                if value.startswith(".") or value.startswith("!."):
                    yield "ATTR", w
                elif value == "include" or value == "!include":
                    yield "INCLUDE", w
                else:
                    yield "NAME", w

    def tokens(self) -> Iterator[Token]:
        pending: Word | None = None  # a NAME waiting for its follower
        for kind, w in self._head_words():
            if pending is not None:
                self._check_pending(pending, kind, w)
                yield self._tok("NAME", pending)
                pending = None
            if kind == "NAME":
                pending = w
                continue
            if kind == "RBRACE":
                if not self.open_braces:
                    self._skip_ws()
                    if self.pos >= self.n:
                        raise PhilSyntaxError("Unexpected end of input.")
                    raise syntax_error(
                        'Syntax error: improper definition name "}"', w.source_info, w.line_number
                    )
                self.open_braces.pop()
            elif kind == "LBRACE":
                self.open_braces.append(w.line_number or 0)
            yield self._tok(kind, w)
            if kind == "EQ":
                yield self._value_tok(self._last_word)  # type: ignore[arg-type]
            elif kind == "INCLUDE":
                yield self._value_tok(w)
        if pending is not None:
            raise PhilSyntaxError("Unexpected end of input.")

    _last_word: Word | None = None

    def _check_pending(self, name: Word, kind: str, follower: Word) -> None:
        if name.value == ";":
            raise syntax_error('Syntax error: unexpected ";"', name.source_info, name.line_number)
        if kind == "EQ":
            check_name(name, "definition")
        elif kind in ("LBRACE", "ATTR"):
            check_name(name, "scope")
        elif kind in ("NAME", "INCLUDE"):
            raise syntax_error(
                f'Syntax error: expected "=", found "{follower.value}"',
                follower.source_info,
                follower.line_number,
            )
        else:  # RBRACE
            check_name(name, "definition")
            raise syntax_error(
                f'Syntax error: expected "=", found "}}"',
                follower.source_info,
                follower.line_number,
            )

    def _tok(self, kind: str, w: Word) -> Token:
        if kind in ("NAME", "ATTR"):
            self._last_word = w
        if kind == "ATTR":
            check_attr(w)
        tok = _Tok(kind, w.value, line=w.line_number)
        tok.word = w  # type: ignore[attr-defined]
        return tok

    def _value_tok(self, owner: Word) -> Token:
        """Scan the value after ``=`` (or ``include``) into one VALUE token."""
        words = self.scan_value(owner.line_number)  # type: ignore[arg-type]
        if not words:
            if owner.value in ("include", "!include"):
                if self.pos >= self.n:
                    raise PhilSyntaxError("Unexpected end of input.")
                raise syntax_error("Missing value for include", owner.source_info, owner.line_number)
            raise syntax_error(f"Missing value for {owner.value}", owner.source_info, owner.line_number)
        return Token("VALUE", words, line=owner.line_number)


class PhilLexer(Lexer):
    """lark custom lexer: ``data`` is a :class:`PhilText` (str carrying source info)."""

    def __init__(self, lexer_conf: object) -> None:
        pass

    def lex(self, data: "PhilText") -> Iterator[Token]:  # type: ignore[override]
        scanner = Scanner(str(data), data.source_info)
        data.scanner = scanner
        return scanner.tokens()


class PhilText(str):
    """The input text plus the source description lark passes through to the lexer."""

    source_info: str | None = None
    scanner: Scanner | None = None


def split_words(text: str, source_info: str | None = None) -> list[Word]:
    """All words of ``text`` scanned in VALUE mode, ignoring line structure (qstr format)."""
    scanner = Scanner(text, source_info)
    words: list[Word] = []
    while True:
        scanner._skip_ws()
        if scanner.pos >= scanner.n:
            return words
        c = text[scanner.pos]
        if c == '"' or c == "'":
            words.append(scanner._read_quoted())
        else:
            line = scanner.line
            words.append(Word(scanner._read_bare(_ANY_STOP), None, line, source_info))
