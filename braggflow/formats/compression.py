"""Transparent reading of plain, gzip- and bzip2-compressed image files.

The compression is recognised from the first bytes of the file (gzip ``1f 8b``, bzip2
``BZh``), not from the file name, so a renamed file still reads.
"""

from __future__ import annotations

import bz2
import gzip
import io
import os
from pathlib import Path
from typing import BinaryIO

from braggflow.errors import InputDataError

GZIP_MAGIC = b"\x1f\x8b"
BZIP2_MAGIC = b"BZh"


def compression_of(path: str | os.PathLike) -> str | None:
    """'gzip', 'bzip2' or None, from the file's magic bytes."""
    with _open_plain(path) as fh:
        head = fh.read(3)
    if head[:2] == GZIP_MAGIC:
        return "gzip"
    if head[:3] == BZIP2_MAGIC:
        return "bzip2"
    return None


def _open_plain(path: str | os.PathLike) -> BinaryIO:
    try:
        return open(path, "rb")  # noqa: SIM115 - returned to the caller
    except FileNotFoundError:
        raise InputDataError(path, "no such file") from None
    except IsADirectoryError:
        raise InputDataError(path, "is a directory, not an image file") from None
    except OSError as exc:
        raise InputDataError(path, f"cannot open ({exc.strerror or exc})") from None


def open_image_file(path: str | os.PathLike) -> BinaryIO:
    """Open `path` for binary reading, decompressing gzip/bzip2 on the fly."""
    kind = compression_of(path)
    if kind == "gzip":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if kind == "bzip2":
        return bz2.open(path, "rb")  # type: ignore[return-value]
    return _open_plain(path)


def read_head(path: str | os.PathLike, nbytes: int) -> bytes:
    """The first `nbytes` (decompressed) bytes of the file, fewer if it is shorter."""
    try:
        with open_image_file(path) as fh:
            return fh.read(nbytes)
    except (OSError, EOFError) as exc:
        raise InputDataError(path, f"cannot decompress the file header ({exc})") from None


def read_all(path: str | os.PathLike) -> bytes:
    """The whole (decompressed) file content."""
    kind = compression_of(path)
    try:
        if kind is None:
            return Path(path).read_bytes()
        with open_image_file(path) as fh:
            return fh.read()
    except (OSError, EOFError) as exc:
        raise InputDataError(path, f"the file is truncated or corrupt ({exc})") from None


def read_until(path: str | os.PathLike, marker: bytes, *, chunk: int = 65536, limit: int = 1 << 22) -> bytes:
    """Bytes from the start of the file up to and including `marker` (or `limit` bytes)."""
    buf = io.BytesIO()
    try:
        with open_image_file(path) as fh:
            tail = b""
            while buf.tell() < limit:
                block = fh.read(chunk)
                if not block:
                    break
                buf.write(block)
                if marker in tail + block:
                    break
                tail = block[-len(marker) :]
    except (OSError, EOFError) as exc:
        raise InputDataError(path, f"cannot decompress the file header ({exc})") from None
    data = buf.getvalue()
    pos = data.find(marker)
    return data if pos < 0 else data[: pos + len(marker)]


__all__ = ["compression_of", "open_image_file", "read_all", "read_head", "read_until"]
