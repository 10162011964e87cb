"""The reflection table: DIALS column names mapped to numpy arrays, plus experiment ids.

Every column has the same first-axis length (the row count). Values are stored in one
canonical dtype per DIALS column type, so a table always writes back to the same `.refl`
type names:

==========================  ===========================  ==============================
DIALS type                  numpy (per table)            typical columns
==========================  ===========================  ==============================
``bool``                    (n,) bool                    entering
``int``                     (n,) int32                   id, imageset_id, n_signal
``std::size_t``             (n,) uint64                  flags, panel, partial_id
``double``                  (n,) float64                 d, intensity.sum.value
``vec2<double>``            (n, 2) float64
``vec3<double>``            (n, 3) float64               s1, xyzobs.px.value
``mat3<double>``            (n, 3, 3) float64 row-major
``int6``                    (n, 6) int32                 bbox (x0, x1, y0, y1, z0, z1)
``cctbx::miller::index<>``  (n, 3) int32                 miller_index
``Shoebox<>``               ``Shoeboxes``                shoebox
==========================  ===========================  ==============================

Assigning an array converts it to that dtype (integers are range-checked; floats are never
silently truncated to integers). Known DIALS names (``flags``, ``panel``, ``id``, ...) always
get their DIALS type. Caller mistakes (wrong length, unknown column) raise ValueError /
KeyError / TypeError: they are bugs, not user errors.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from os import PathLike

import numpy as np

from braggflow.model.shoebox import Shoeboxes

__all__ = ["Flags", "ReflectionTable", "Column"]

Column = np.ndarray | Shoeboxes


class Flags(enum.IntFlag):
    """The ``flags`` bit field; values are DIALS 3.12's (dials/array_family/reflection_table.h)."""

    predicted = 1 << 0
    observed = 1 << 1
    indexed = 1 << 2
    used_in_refinement = 1 << 3
    strong = 1 << 5
    reference_spot = 1 << 6
    dont_integrate = 1 << 7
    integrated_sum = 1 << 8
    integrated_prf = 1 << 9
    integrated = integrated_sum | integrated_prf
    overloaded = 1 << 10
    overlapped_bg = 1 << 11
    overlapped = overlapped_bg  # alias (no such name in DIALS)
    overlapped_fg = 1 << 12
    in_powder_ring = 1 << 13
    foreground_includes_bad_pixels = 1 << 14
    background_includes_bad_pixels = 1 << 15
    includes_bad_pixels = foreground_includes_bad_pixels | background_includes_bad_pixels
    bad_shoebox = overloaded | overlapped_bg | overlapped_fg | in_powder_ring | includes_bad_pixels
    bad_spot = bad_shoebox
    used_in_modelling = 1 << 16
    centroid_outlier = 1 << 17
    failed_during_background_modelling = 1 << 18
    failed_during_summation = 1 << 19
    failed_during_profile_fitting = 1 << 20
    bad_reference = 1 << 21
    user_excluded_in_scaling = 1 << 22
    outlier_in_scaling = 1 << 23
    excluded_for_scaling = 1 << 24
    bad_for_scaling = user_excluded_in_scaling | outlier_in_scaling | excluded_for_scaling
    excluded_for_refinement = 1 << 25
    scaled = 1 << 26
    # Newer DIALS only (not in 3.12, which never sets bit 27); per braggflow algorithms.md 10.2.
    not_suitable_for_refinement = 1 << 27
    bad_for_refinement = excluded_for_refinement | centroid_outlier | not_suitable_for_refinement


# (dtype, per-row shape) for the DIALS column names whose type is fixed.
_BOOL, _INT, _SIZE, _DOUBLE = np.dtype(bool), np.dtype(np.int32), np.dtype(np.uint64), np.dtype(
    np.float64
)
KNOWN_COLUMNS: dict[str, tuple[np.dtype, tuple[int, ...]]] = {
    "flags": (_SIZE, ()),
    "panel": (_SIZE, ()),
    "partial_id": (_SIZE, ()),
    "id": (_INT, ()),
    "imageset_id": (_INT, ()),
    "n_signal": (_INT, ()),
    "num_pixels.valid": (_INT, ()),
    "num_pixels.foreground": (_INT, ()),
    "num_pixels.background": (_INT, ()),
    "num_pixels.background_used": (_INT, ()),
    "entering": (_BOOL, ()),
    "miller_index": (_INT, (3,)),
    "bbox": (_INT, (6,)),
}
_FLOAT_ROW_SHAPES = {(), (2,), (3,), (3, 3)}
_INT_ROW_SHAPES = {(3,), (6,)}


def as_column(name: str, value: object) -> Column:
    """``value`` converted to the canonical dtype of column ``name`` (see module doc)."""
    if isinstance(value, Shoeboxes):
        return value
    arr = np.asarray(value)
    if arr.ndim == 0:
        raise TypeError(f"column {name!r}: need an array with one entry per row, got a scalar")
    row = arr.shape[1:]
    if name in KNOWN_COLUMNS:
        dtype, want = KNOWN_COLUMNS[name]
        if row != want:
            raise ValueError(f"column {name!r}: rows must have shape {want}, got {row}")
    else:
        dtype = _infer_dtype(name, arr.dtype, row)
    return _convert(name, arr, dtype)


def _infer_dtype(name: str, dtype: np.dtype, row: tuple[int, ...]) -> np.dtype:
    kind = dtype.kind
    if kind == "b" and row == ():
        return _BOOL
    if kind == "f" and row in _FLOAT_ROW_SHAPES:
        return _DOUBLE
    if kind in "iu" and row == ():
        return _INT if kind == "i" else _SIZE
    if kind in "iu" and row in _INT_ROW_SHAPES:
        return _INT
    if kind in "iu" and row in _FLOAT_ROW_SHAPES:  # integer vec2/vec3/mat3: store as double
        return _DOUBLE
    raise TypeError(
        f"column {name!r}: {dtype} rows of shape {row} have no DIALS column type "
        "(use bool, int, uint, float scalars; float (2,), (3,), (3,3); int (3,), (6,))"
    )


def _convert(name: str, arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if arr.dtype == dtype:
        return arr
    kind = arr.dtype.kind
    if dtype.kind == "b":
        if kind != "b":
            raise TypeError(f"column {name!r}: must be bool, got {arr.dtype}")
        return arr.astype(bool)
    if dtype.kind == "f":
        if kind not in "biuf":
            raise TypeError(f"column {name!r}: must be numeric, got {arr.dtype}")
        return arr.astype(dtype)
    if kind not in "biu":
        raise TypeError(f"column {name!r}: must be integer, got {arr.dtype} (round it first)")
    if arr.size:
        info = np.iinfo(dtype)
        lo, hi = int(arr.min()), int(arr.max())
        if lo < info.min or hi > info.max:
            raise ValueError(f"column {name!r}: values {lo}..{hi} do not fit in {dtype}")
    return arr.astype(dtype)


class ReflectionTable:
    """Columns (DIALS names -> numpy arrays, first axis = rows) plus experiment identifiers."""

    __slots__ = ("_columns", "_nrows", "experiment_identifiers")

    def __init__(
        self,
        columns: Mapping[str, object] | None = None,
        *,
        experiment_identifiers: Mapping[int, str] | None = None,
        nrows: int | None = None,
    ) -> None:
        self._columns: dict[str, Column] = {}
        self._nrows = 0
        self.experiment_identifiers: dict[int, str] = {
            int(k): str(v) for k, v in (experiment_identifiers or {}).items()
        }
        for name, value in (columns or {}).items():
            self[name] = value
        if nrows is not None:
            if self._columns and self._nrows != nrows:
                raise ValueError(f"columns have {self._nrows} rows but nrows={nrows}")
            self._nrows = int(nrows)

    # -- mapping protocol -------------------------------------------------------------
    def __len__(self) -> int:
        return self._nrows

    @property
    def ncols(self) -> int:
        return len(self._columns)

    def __getitem__(self, name: str) -> np.ndarray:
        """The stored array itself (in-place edits change the table); Shoeboxes for shoebox."""
        try:
            return self._columns[name]  # type: ignore[return-value]
        except KeyError:
            raise KeyError(f"no column {name!r}; columns: {', '.join(self._columns)}") from None

    def __setitem__(self, name: str, value: object) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"column names are non-empty strings, got {name!r}")
        column = as_column(name, value)
        n = len(column)
        if self._columns and n != self._nrows:
            raise ValueError(f"column {name!r} has {n} rows, the table has {self._nrows}")
        self._columns[name] = column
        self._nrows = n

    def __delitem__(self, name: str) -> None:
        del self._columns[name]

    def __contains__(self, name: object) -> bool:
        return name in self._columns

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._columns))

    def keys(self) -> list[str]:
        return list(self._columns)

    def items(self) -> list[tuple[str, Column]]:
        return list(self._columns.items())

    # -- rows ---------------------------------------------------------------------------
    def select(self, selection: np.ndarray) -> ReflectionTable:
        """Rows picked by a bool mask (length n) or integer indices; returns copies."""
        sel = np.asarray(selection)
        if sel.dtype.kind == "b":
            if sel.shape != (self._nrows,):
                raise ValueError(f"bool selection has shape {sel.shape}, table has {self._nrows} rows")
        elif sel.dtype.kind in "iu" or sel.size == 0:
            sel = sel.astype(np.int64).reshape(-1)
        else:
            raise TypeError(f"selection must be bool or integer, got {sel.dtype}")
        rows = np.arange(self._nrows)[sel]  # bounds-checks indices
        out = ReflectionTable(experiment_identifiers=self.experiment_identifiers, nrows=len(rows))
        for name, col in self._columns.items():
            out._columns[name] = col.select(rows) if isinstance(col, Shoeboxes) else col[rows]
        return out

    @classmethod
    def concatenate(cls, tables: Sequence[ReflectionTable]) -> ReflectionTable:
        """Rows of all tables in order; identifiers merged (ids are not renumbered)."""
        tables = list(tables)
        if not tables:
            return cls()
        names = tables[0].keys()
        ids: dict[int, str] = {}
        for i, t in enumerate(tables):
            if set(t.keys()) != set(names):
                diff = sorted(set(t.keys()) ^ set(names))
                raise ValueError(f"table {i} has different columns from table 0: {diff}")
            for k, v in t.experiment_identifiers.items():
                if ids.setdefault(k, v) != v:
                    raise ValueError(f"experiment id {k} is {ids[k]!r} and {v!r} in different tables")
        out = cls(experiment_identifiers=ids, nrows=sum(len(t) for t in tables))
        for name in names:
            cols = [t._columns[name] for t in tables]
            if isinstance(cols[0], Shoeboxes):
                if not all(isinstance(c, Shoeboxes) for c in cols):
                    raise ValueError(f"column {name!r} is a shoebox column in only some tables")
                out._columns[name] = Shoeboxes.concatenate(cols)  # type: ignore[arg-type]
            else:
                out._columns[name] = as_column(name, np.concatenate(cols))  # type: ignore[arg-type]
        return out

    def copy(self) -> ReflectionTable:
        out = ReflectionTable(experiment_identifiers=self.experiment_identifiers, nrows=self._nrows)
        out._columns = {k: v.copy() for k, v in self._columns.items()}
        return out

    @classmethod
    def empty_like(cls, table: ReflectionTable) -> ReflectionTable:
        """Zero rows with the same columns, dtypes and identifiers."""
        return table.select(np.zeros(len(table), dtype=bool))

    # -- flags --------------------------------------------------------------------------
    def get_flags(self, flags: Flags | int, all: bool = True) -> np.ndarray:  # noqa: A002
        """(n,) bool: rows with all (``all=True``) or any of the bits of ``flags`` set."""
        bits = np.uint64(int(flags))
        masked = self["flags"] & bits
        return masked == bits if all else masked != 0

    def set_flags(self, selection: np.ndarray, flags: Flags | int) -> None:
        """Set ``flags`` on the selected rows (bool mask or indices); adds ``flags`` if absent."""
        self._flags_column()[np.asarray(selection)] |= np.uint64(int(flags))

    def unset_flags(self, selection: np.ndarray, flags: Flags | int) -> None:
        """Clear ``flags`` on the selected rows (bool mask or indices)."""
        self._flags_column()[np.asarray(selection)] &= ~np.uint64(int(flags))

    def _flags_column(self) -> np.ndarray:
        if "flags" not in self._columns:
            self["flags"] = np.zeros(self._nrows, dtype=np.uint64)
        return self._columns["flags"]  # type: ignore[return-value]

    # -- comparison, display, files -----------------------------------------------------
    def equals(self, other: object) -> bool:
        """Same identifiers, column names, dtypes and values (NaN == NaN)."""
        if not isinstance(other, ReflectionTable) or len(self) != len(other):
            return False
        if self.experiment_identifiers != other.experiment_identifiers:
            return False
        if set(self.keys()) != set(other.keys()):
            return False
        for name, a in self._columns.items():
            b = other._columns[name]
            if isinstance(a, Shoeboxes) or isinstance(b, Shoeboxes):
                if not (isinstance(a, Shoeboxes) and a.equals(b)):
                    return False
            elif a.dtype != b.dtype or a.shape != b.shape:
                return False
            elif not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
                return False
        return True

    def __repr__(self) -> str:
        return f"<ReflectionTable {self._nrows:,} rows, {self.ncols} columns>"

    @classmethod
    def from_file(cls, path: str | PathLike[str]) -> ReflectionTable:
        """Read a DIALS ``.refl`` (msgpack) file."""
        from braggflow.formats.refl_io import read_refl

        return read_refl(path)

    def as_file(self, path: str | PathLike[str]) -> None:
        """Write a DIALS ``.refl`` (msgpack) file, atomically."""
        from braggflow.formats.refl_io import write_refl

        write_refl(self, path)
