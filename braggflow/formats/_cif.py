"""Tiny readers for the text part of CBF files: the Pilatus `#` mini-header, the MIME
header of the binary section, and the CIF categories of a full imgCIF header."""

from __future__ import annotations

import calendar
import re
import shlex

BINARY_MARKER = b"\x0c\x1a\x04\xd5"
_ISO_TIME = re.compile(r"^(\d{4})[-/](\d\d)[-/](\d\d)[T ](\d\d):(\d\d):(\d\d(?:\.\d*)?)$")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def parse_timestamp(text: str) -> float | None:
    """Seconds since the epoch (UTC) of '2016-03-05T08:58:02.062'; None if not a timestamp."""
    match = _ISO_TIME.match(text.strip())
    if match is None:
        return None
    y, mo, d, h, mi = (int(match.group(i)) for i in range(1, 6))
    seconds = float(match.group(6))
    whole = int(seconds)
    return calendar.timegm((y, mo, d, h, mi, whole, 0, 0, 0)) + (seconds - whole)


def numbers(text: str) -> list[float]:
    """All numbers in a header value, e.g. 'Beam_xy (730.00, 865.00) pixels' -> [730.0, 865.0]."""
    return [float(x) for x in _NUMBER.findall(text)]


def parse_mini_header(text: str) -> dict[str, str]:
    """The `# Key value` lines of a Pilatus mini-header: {'Wavelength': '0.68890 A', ...}.

    The date line is stored under 'timestamp'; 'Silicon sensor, thickness 0.000320 m' under
    'Silicon' (or 'CdTe'); 'Detector: PILATUS 2M, S/N ...' under 'Detector'.
    """
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("#"):
            continue
        body = line[1:].strip()
        if not body:
            continue
        if parse_timestamp(body) is not None:
            out.setdefault("timestamp", body)
            continue
        key, _, value = body.partition(" ")
        key = key.rstrip(":").rstrip(",")
        value = value.strip().lstrip("=:").strip()
        out.setdefault(key, value)
    return out


def parse_mime_header(text: str) -> dict[str, str]:
    """Key: value pairs of the MIME header in front of the binary data."""
    out: dict[str, str] = {}
    start = text.rfind("--CIF-BINARY-FORMAT-SECTION--")
    key = ""
    for line in text[start:].splitlines()[1:]:
        if line[:1] in (" ", "\t") and key:  # folded continuation line
            out[key] += " " + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip()
            out[key] = value.strip()
    return out


def _tokens(text: str) -> list[str]:
    """CIF tokens: words, quoted strings, and ;-delimited text fields (comments dropped)."""
    tokens: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(";"):
            block = [line[1:]]
            i += 1
            while i < len(lines) and not lines[i].startswith(";"):
                block.append(lines[i])
                i += 1
            tokens.append("\n".join(block))
            i += 1
            continue
        lexer = shlex.shlex(line, posix=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        try:
            tokens.extend(lexer)
        except ValueError:  # unbalanced quote: fall back to plain words
            tokens.extend(line.split("#", 1)[0].split())
        i += 1
    return tokens


def parse_cif_categories(text: str) -> dict[str, list[dict[str, str]]]:
    """Categories of a CIF block as lists of rows: {'_axis': [{'id': 'GON_PHI', ...}, ...]}.

    Single `_cat.item value` pairs become a one-row category. Only what a CBF header needs.
    """
    cats: dict[str, list[dict[str, str]]] = {}
    toks = _tokens(text)
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok.lower() == "loop_":
            tags = []
            i += 1
            while i < len(toks) and toks[i].startswith("_"):
                tags.append(toks[i])
                i += 1
            values = []
            while i < len(toks) and not toks[i].startswith("_") and toks[i].lower() != "loop_" and not toks[i].startswith("data_"):
                values.append(toks[i])
                i += 1
            if tags:
                cat = tags[0].split(".")[0].lower()
                items = [t.split(".", 1)[-1].lower() for t in tags]
                rows = cats.setdefault(cat, [])
                for k in range(0, len(values) - len(tags) + 1, len(tags)):
                    rows.append(dict(zip(items, values[k : k + len(tags)])))
            continue
        if tok.startswith("_") and "." in tok and i + 1 < len(toks):
            cat, item = tok.split(".", 1)
            rows = cats.setdefault(cat.lower(), [])
            if not rows:
                rows.append({})
            rows[0][item.lower()] = toks[i + 1]
            i += 2
            continue
        i += 1
    return cats


__all__ = [
    "BINARY_MARKER",
    "numbers",
    "parse_cif_categories",
    "parse_mime_header",
    "parse_mini_header",
    "parse_timestamp",
]
