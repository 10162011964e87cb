"""Read and write DIALS reflection tables (``.refl``, msgpack layout version 1).

The file is one msgpack value (DIALS ``reflection_table_msgpack_adapter.h``)::

    ["dials::af::reflection_table", 1,
     {"identifiers": {<experiment id (uint)>: "<identifier>", ...},
      "nrows": N,
      "data": {"<column>": ["<type name>", [N, <bin: little-endian C array>]], ...}}]

DIALS 3.12 refuses any version but 1. Columns are written sorted by name and identifiers
sorted by id, as DIALS (std::map) does, so re-writing a table read from a DIALS file
gives the same bytes. ``Shoebox<>`` is one packed byte stream; per row: uint32 panel,
6 x int32 bbox, uint8 flag (0 = no pixels; 1 = float32 data, int32 mask, float32 background,
each nz*ny*nx; 2 = as 1 with a uint8 mask, read for forward compatibility, never written).
"""

from __future__ import annotations

import os
import secrets
import struct
from os import PathLike
from pathlib import Path

import msgpack
import numpy as np

from braggflow.errors import InputDataError
from braggflow.model.reflections import ReflectionTable
from braggflow.model.shoebox import Shoeboxes, bbox_volume

__all__ = ["read_refl", "write_refl", "COLUMN_TYPES"]

FILE_TYPE = "dials::af::reflection_table"
VERSION = 1
SHOEBOX_TYPE = "Shoebox<>"
_BIN_LIMIT = 2**32 - 1

# DIALS type name -> (little-endian element dtype, per-row shape, in-memory dtype)
COLUMN_TYPES: dict[str, tuple[str, tuple[int, ...], type]] = {
    "bool": ("u1", (), np.bool_),
    "int": ("<i4", (), np.int32),
    "std::size_t": ("<u8", (), np.uint64),
    "double": ("<f8", (), np.float64),
    "vec2<double>": ("<f8", (2,), np.float64),
    "vec3<double>": ("<f8", (3,), np.float64),
    "mat3<double>": ("<f8", (3, 3), np.float64),
    "int6": ("<i4", (6,), np.int32),
    "cctbx::miller::index<>": ("<i4", (3,), np.int32),
}
_TYPE_OF = {(np.dtype(mem), shape): name for name, (_, shape, mem) in COLUMN_TYPES.items()}
_SB_HEAD = struct.Struct("<I6iB")  # panel, bbox, flag: 29 bytes

_NOT_REFL = "is not a DIALS reflection file (msgpack)"


class _BadFile(Exception):
    """Internal: the file is malformed; the message is completed with the path."""


# ---------------------------------------------------------------------------- reading
def read_refl(path: str | PathLike[str]) -> ReflectionTable:
    """Read a DIALS ``.refl`` (msgpack) file; every column type DIALS writes is supported."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
            fh.seek(0)
            if head[:1] != b"\x93":  # fixarray of 3: every DIALS .refl starts like this
                raise InputDataError(path, _not_refl_message(head))
            unpacker = msgpack.Unpacker(fh, raw=False, strict_map_key=False, max_buffer_size=0)
            return _read_table(unpacker)
    except FileNotFoundError:
        raise InputDataError(path, "file not found; check the path") from None
    except IsADirectoryError:
        raise InputDataError(path, "is a directory, not a .refl file") from None
    except PermissionError:
        raise InputDataError(path, "permission denied; check the file's permissions") from None
    except _BadFile as exc:
        raise InputDataError(path, str(exc)) from None
    except (msgpack.UnpackException, ValueError, TypeError, struct.error) as exc:
        raise InputDataError(path, f"{_NOT_REFL} or is truncated/corrupt ({exc})") from None


def _not_refl_message(head: bytes) -> str:
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return (f"{_NOT_REFL}: it looks like a Python pickle (DIALS < 2 format), which "
                "braggflow never loads; re-save it as msgpack with DIALS")
    return f"{_NOT_REFL}; give a strong.refl/indexed.refl/integrated.refl written by DIALS"


def _read_table(unpacker: msgpack.Unpacker) -> ReflectionTable:
    if unpacker.read_array_header() != 3 or unpacker.unpack() != FILE_TYPE:
        raise _BadFile(f"{_NOT_REFL}; the header is not '{FILE_TYPE}'")
    version = unpacker.unpack()
    if version != VERSION:
        raise _BadFile(f"reflection table layout version {version!r} is not supported "
                       f"(expected {VERSION}); re-save the file with DIALS 3")
    nrows: int | None = None
    identifiers: dict[int, str] = {}
    columns: dict[str, object] = {}
    for _ in range(unpacker.read_map_header()):
        key = unpacker.unpack()
        if key == "nrows":
            nrows = unpacker.unpack()
        elif key == "identifiers":
            identifiers = _check_identifiers(unpacker.unpack())
        elif key == "data":
            for _ in range(unpacker.read_map_header()):
                name = unpacker.unpack()
                columns[name] = _decode_column(name, unpacker.unpack())
        else:
            raise _BadFile(f"unknown key {key!r} in the reflection table header")
    if not isinstance(nrows, int) or nrows < 0:
        raise _BadFile("the reflection table header has no valid 'nrows'")
    for name, col in columns.items():
        if len(col) != nrows:  # type: ignore[arg-type]
            raise _BadFile(f"column {name!r} has {len(col)} rows, the header says {nrows}")  # type: ignore[arg-type]
    return ReflectionTable(columns, experiment_identifiers=identifiers, nrows=nrows)


def _check_identifiers(value: object) -> dict[int, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, int) and k >= 0 and isinstance(v, str) for k, v in value.items()
    ):
        raise _BadFile("'identifiers' must map experiment ids (int >= 0) to strings")
    return dict(value)


def _decode_column(name: object, value: object) -> object:
    if not isinstance(name, str):
        raise _BadFile(f"column name {name!r} is not a string")
    try:
        type_name, (n, blob) = value  # type: ignore[misc]
    except (TypeError, ValueError):
        raise _BadFile(f"column {name!r} is not [type, [n, data]]") from None
    if not isinstance(n, int) or n < 0 or not isinstance(blob, bytes):
        raise _BadFile(f"column {name!r} has no row count or binary data")
    if type_name == SHOEBOX_TYPE:
        return _decode_shoeboxes(name, n, blob)
    if type_name not in COLUMN_TYPES:
        hint = (" (DIALS stores std::string columns as raw C++ memory, so they cannot be read;"
                " delete the column in DIALS)" if type_name == "std::string" else "")
        raise _BadFile(f"column {name!r} has unsupported type {type_name!r}{hint}")
    disk, shape, mem = COLUMN_TYPES[type_name]
    per_row = np.dtype(disk).itemsize * int(np.prod(shape, dtype=np.int64))
    if len(blob) != n * per_row:
        raise _BadFile(f"column {name!r} ({type_name}) holds {len(blob)} bytes, "
                       f"expected {n} rows x {per_row}")
    arr = np.frombuffer(blob, dtype=disk).reshape((n, *shape))
    return arr != 0 if mem is np.bool_ else arr.astype(mem)


def _decode_shoeboxes(name: str, n: int, blob: bytes) -> Shoeboxes:
    """Two passes over the packed stream: headers (positions), then pixel copies."""
    if n * _SB_HEAD.size > len(blob):
        raise _BadFile(f"column {name!r}: {len(blob)} bytes cannot hold {n} shoeboxes")
    panel = np.empty(n, dtype=np.uint64)
    bbox = np.empty((n, 6), dtype=np.int32)
    starts = np.zeros(n, dtype=np.int64)
    flags = np.zeros(n, dtype=np.uint8)
    size = len(blob)
    pos = 0
    for i in range(n):
        if pos + _SB_HEAD.size > size:
            raise _BadFile(f"column {name!r}: shoebox data ends at row {i} of {n}")
        p, x0, x1, y0, y1, z0, z1, flag = _SB_HEAD.unpack_from(blob, pos)
        if x1 < x0 or y1 < y0 or z1 < z0:
            raise _BadFile(f"column {name!r}: shoebox {i} has an inverted bbox")
        panel[i] = p
        bbox[i] = (x0, x1, y0, y1, z0, z1)
        pos += _SB_HEAD.size
        if flag:
            if flag not in (1, 2):
                raise _BadFile(f"column {name!r}: shoebox {i} has unknown flag {flag}")
            starts[i], flags[i] = pos, flag
            pos += (x1 - x0) * (y1 - y0) * (z1 - z0) * (12 if flag == 1 else 9)
    if pos != size:
        raise _BadFile(f"column {name!r}: shoebox stream is {size} bytes, rows need {pos}")
    sizes = np.where(flags > 0, bbox_volume(bbox), 0)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    data, mask, background = _copy_pixels(blob, starts, sizes, flags, offsets)
    return Shoeboxes(panel, bbox, offsets, data, mask, background)


def _copy_pixels(
    blob: bytes, starts: np.ndarray, sizes: np.ndarray, flags: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    total = int(offsets[-1])
    data = np.empty(total, dtype="<f4")
    mask = np.empty(total, dtype="<i4")
    background = np.empty(total, dtype="<f4")
    src = memoryview(blob)
    dv, mv, bv = (memoryview(a).cast("B") for a in (data, mask, background))
    for i in np.flatnonzero(sizes).tolist():
        s, k, o = int(starts[i]), int(sizes[i]), int(offsets[i])
        dv[4 * o : 4 * (o + k)] = src[s : s + 4 * k]
        if flags[i] == 1:
            mv[4 * o : 4 * (o + k)] = src[s + 4 * k : s + 8 * k]
            bv[4 * o : 4 * (o + k)] = src[s + 8 * k : s + 12 * k]
        else:  # uint8 mask
            mask[o : o + k] = np.frombuffer(blob, np.uint8, k, s + 4 * k)
            bv[4 * o : 4 * (o + k)] = src[s + 5 * k : s + 9 * k]
    native = (a.astype(a.dtype.newbyteorder("="), copy=False) for a in (data, mask, background))
    return tuple(native)  # type: ignore[return-value]


# ---------------------------------------------------------------------------- writing
def write_refl(table: ReflectionTable, path: str | PathLike[str]) -> None:
    """Write ``table`` as a DIALS ``.refl`` file (atomically: temp file + rename)."""
    path = Path(path)
    encoded = [(name, *_encode_column(path, name, table[name])) for name in sorted(table.keys())]
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as fh:
            _write_stream(fh, table, encoded)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise InputDataError(path, f"cannot write the reflection file ({exc.strerror or exc}); "
                             "check the directory exists and is writable") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_stream(fh, table: ReflectionTable, encoded: list) -> None:
    packer = msgpack.Packer(use_bin_type=True)
    fh.write(packer.pack_array_header(3))
    fh.write(packer.pack(FILE_TYPE))
    fh.write(packer.pack(VERSION))
    fh.write(packer.pack_map_header(3))
    fh.write(packer.pack("identifiers"))
    fh.write(packer.pack(dict(sorted(table.experiment_identifiers.items()))))
    fh.write(packer.pack("nrows"))
    fh.write(packer.pack(len(table)))
    fh.write(packer.pack("data"))
    fh.write(packer.pack_map_header(len(encoded)))
    for name, type_name, blob in encoded:
        fh.write(packer.pack(name))
        fh.write(packer.pack_array_header(2))
        fh.write(packer.pack(type_name))
        fh.write(packer.pack_array_header(2))
        fh.write(packer.pack(len(table)))
        fh.write(_bin_header(len(blob)))  # = packer.pack(blob) without copying the blob
        fh.write(blob)


def _bin_header(n: int) -> bytes:
    """msgpack bin 8/16/32 header for n bytes (what Packer(use_bin_type=True) writes)."""
    if n < 1 << 8:
        return struct.pack(">BB", 0xC4, n)
    if n < 1 << 16:
        return struct.pack(">BH", 0xC5, n)
    return struct.pack(">BI", 0xC6, n)


def _encode_column(path: Path, name: str, column: object) -> tuple[str, bytes | bytearray]:
    if isinstance(column, Shoeboxes):
        type_name, blob = SHOEBOX_TYPE, _encode_shoeboxes(path, name, column)
    else:
        arr = np.asarray(column)
        type_name = _TYPE_OF.get((arr.dtype, arr.shape[1:]))  # type: ignore[assignment]
        if type_name is None:
            raise TypeError(f"column {name!r}: {arr.dtype} {arr.shape[1:]} has no DIALS type")
        disk = COLUMN_TYPES[type_name][0]
        blob = np.ascontiguousarray(arr, dtype=disk).tobytes()
    if len(blob) > _BIN_LIMIT:
        raise InputDataError(path, f"column {name!r} needs {len(blob) / 2**30:.1f} GiB, over "
                             "msgpack's 4 GiB limit; delete it (e.g. del table['shoebox'])")
    return type_name, blob


def _encode_shoeboxes(path: Path, name: str, sb: Shoeboxes) -> bytearray:
    if len(sb.panel) and int(sb.panel.max()) > 2**32 - 1:
        raise InputDataError(path, f"column {name!r}: panel number does not fit in uint32")
    sizes = np.diff(sb.offsets)
    out = bytearray(_SB_HEAD.size * len(sb) + 12 * int(sizes.sum()))
    data, mask, background = (memoryview(np.ascontiguousarray(a, dtype=d)).cast("B") for a, d in
                              ((sb.data, "<f4"), (sb.mask, "<i4"), (sb.background, "<f4")))
    pos = 0
    for p, bb, k, o in zip(sb.panel.tolist(), sb.bbox.tolist(), sizes.tolist(),
                           sb.offsets.tolist()):
        _SB_HEAD.pack_into(out, pos, p, *bb, 1 if k else 0)
        pos += _SB_HEAD.size
        if k:
            lo, hi = 4 * o, 4 * (o + k)
            out[pos : pos + 4 * k] = data[lo:hi]
            out[pos + 4 * k : pos + 8 * k] = mask[lo:hi]
            out[pos + 8 * k : pos + 12 * k] = background[lo:hi]
            pos += 12 * k
    return out
