"""DIALS image templates: `th_8_2_####.cbf` <-> file names and image numbers.

A template is a file path whose image number is replaced by a run of `#` (one per digit,
zero-padded). The number is the last run of digits in the file name before the image
extension; compression suffixes (.gz, .bz2) are kept in the template.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from braggflow.errors import InputDataError, ParameterError

COMPRESSION_SUFFIXES = (".gz", ".bz2")
_NAME = re.compile(r"^(?P<prefix>.*?)(?P<digits>\d+)(?P<ext>\.[A-Za-z][A-Za-z0-9_]*)?$")


def _split_compression(name: str) -> tuple[str, str]:
    for suffix in COMPRESSION_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)], name[-len(suffix) :]
    return name, ""


def template_from_path(path: str | os.PathLike) -> tuple[str, int | None]:
    """(template, image number) for a file; (path, None) if its name has no number.

    >>> template_from_path("/data/th_8_2_0001.cbf")
    ('/data/th_8_2_####.cbf', 1)
    >>> template_from_path("thau_3_2_0004.cbf.bz2")
    ('thau_3_2_####.cbf.bz2', 4)
    """
    path = os.fspath(path)
    directory, name = os.path.split(path)
    stem, compression = _split_compression(name)
    match = _NAME.match(stem)
    if match is None:
        return path, None
    digits = match.group("digits")
    templ = f"{match.group('prefix')}{'#' * len(digits)}{match.group('ext') or ''}{compression}"
    return os.path.join(directory, templ), int(digits)


def _hash_run(template: str) -> tuple[str, int, str]:
    directory, name = os.path.split(template)
    runs = list(re.finditer(r"#+", name))
    if len(runs) != 1:
        raise ParameterError(f"input.template = {template}: needs exactly one run of '#' for the image number")
    run = runs[0]
    return os.path.join(directory, name[: run.start()]), run.end() - run.start(), name[run.end() :]


def expand_template(template: str, image_number: int) -> str:
    """The file name of image `image_number` (a template without '#' is a single file)."""
    if "#" not in os.path.basename(template):
        return template
    prefix, width, suffix = _hash_run(template)
    return f"{prefix}{image_number:0{width}d}{suffix}"


def image_numbers_on_disk(template: str) -> list[int]:
    """Sorted image numbers of the existing files that match `template`."""
    if "#" not in os.path.basename(template):
        return [1] if Path(template).is_file() else []
    prefix, width, suffix = _hash_run(template)
    directory = os.path.dirname(prefix) or "."
    base = os.path.basename(prefix)
    pattern = re.compile(re.escape(base) + r"(\d{" + str(width) + r"})" + re.escape(suffix) + "$")
    try:
        names = os.listdir(directory)
    except OSError as exc:
        raise InputDataError(directory, f"cannot list the directory ({exc.strerror or exc})") from None
    found = sorted(int(m.group(1)) for n in names if (m := pattern.match(n)))
    return found


def paths_from_template(template: str, image_range: tuple[int, int] | None = None) -> list[str]:
    """Files of `template` on disk (restricted to `image_range` if given), in image order."""
    numbers = image_numbers_on_disk(template)
    if image_range is not None:
        first, last = image_range
        missing = [n for n in range(first, last + 1) if n not in set(numbers)]
        if missing:
            raise InputDataError(expand_template(template, missing[0]), "no such file (image missing from the template range)")
        numbers = list(range(first, last + 1))
    if not numbers:
        raise InputDataError(template, "no files match this template")
    return [expand_template(template, n) for n in numbers]


__all__ = ["expand_template", "image_numbers_on_disk", "paths_from_template", "template_from_path"]
