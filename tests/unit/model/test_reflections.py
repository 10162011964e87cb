"""ReflectionTable, Flags and Shoeboxes semantics (no files)."""

from __future__ import annotations

import numpy as np
import pytest

from braggflow.model.reflections import Flags, ReflectionTable
from braggflow.model.shoebox import MaskCode, Shoeboxes, ragged_index


def make_table(n: int = 4) -> ReflectionTable:
    bbox = np.array([[i, i + 2, 0, 3, 0, 1] for i in range(n)], dtype=np.int32)
    sb = Shoeboxes.allocate(np.zeros(n, np.uint64), bbox)
    sb.data[:] = np.arange(len(sb.data))
    return ReflectionTable(
        {
            "flags": np.full(n, Flags.strong, dtype=np.uint64),
            "id": np.zeros(n, dtype=np.int32),
            "xyzobs.px.value": np.arange(3 * n, dtype=float).reshape(n, 3),
            "bbox": bbox,
            "shoebox": sb,
        },
        experiment_identifiers={0: "exp-a"},
    )


# ------------------------------------------------------------------------------ Flags
@pytest.mark.parametrize(
    ("flag", "value"),
    [
        (Flags.predicted, 1),
        (Flags.observed, 2),
        (Flags.indexed, 4),
        (Flags.used_in_refinement, 8),
        (Flags.strong, 32),
        (Flags.reference_spot, 64),
        (Flags.dont_integrate, 128),
        (Flags.integrated_sum, 256),
        (Flags.integrated_prf, 512),
        (Flags.integrated, 768),
        (Flags.overloaded, 1 << 10),
        (Flags.overlapped_bg, 1 << 11),
        (Flags.overlapped_fg, 1 << 12),
        (Flags.in_powder_ring, 1 << 13),
        (Flags.foreground_includes_bad_pixels, 1 << 14),
        (Flags.background_includes_bad_pixels, 1 << 15),
        (Flags.includes_bad_pixels, 3 << 14),
        (Flags.bad_shoebox, 0b111111 << 10),
        (Flags.bad_spot, 0b111111 << 10),
        (Flags.used_in_modelling, 1 << 16),
        (Flags.centroid_outlier, 1 << 17),
        (Flags.failed_during_background_modelling, 1 << 18),
        (Flags.failed_during_summation, 1 << 19),
        (Flags.failed_during_profile_fitting, 1 << 20),
        (Flags.bad_reference, 1 << 21),
        (Flags.user_excluded_in_scaling, 1 << 22),
        (Flags.outlier_in_scaling, 1 << 23),
        (Flags.excluded_for_scaling, 1 << 24),
        (Flags.bad_for_scaling, 0b111 << 22),
        (Flags.excluded_for_refinement, 1 << 25),
        (Flags.scaled, 1 << 26),
    ],
)
def test_flags_values_match_dials_3_12(flag: Flags, value: int) -> None:
    assert int(flag) == value


def test_flags_bad_for_refinement_contains_dials_bits() -> None:
    assert Flags.bad_for_refinement & Flags.excluded_for_refinement
    assert Flags.bad_for_refinement & Flags.centroid_outlier
    assert Flags.overlapped is Flags.overlapped_bg


def test_mask_code_values_match_dials() -> None:
    assert [int(m) for m in MaskCode] == [1, 2, 4, 8, 16, 32]


def test_get_flags_all_versus_any() -> None:
    t = ReflectionTable({"flags": np.array([0, 4, 32, 36], dtype=np.uint64)})
    both = Flags.indexed | Flags.strong
    assert t.get_flags(both).tolist() == [False, False, False, True]
    assert t.get_flags(both, all=False).tolist() == [False, True, True, True]
    assert t.get_flags(Flags.strong).dtype == bool


def test_set_and_unset_flags_with_mask_and_indices() -> None:
    t = ReflectionTable({"flags": np.zeros(4, dtype=np.uint64)})
    t.set_flags(np.array([True, False, True, False]), Flags.indexed)
    t.set_flags(np.array([1, 2]), Flags.used_in_refinement)
    assert t["flags"].tolist() == [4, 8, 12, 0]
    t.unset_flags(np.array([2]), Flags.indexed)
    assert t["flags"].tolist() == [4, 8, 8, 0]
    assert t["flags"].dtype == np.uint64


def test_set_flags_high_bits_survive_in_uint64() -> None:
    t = ReflectionTable({"flags": np.zeros(2, dtype=np.uint64)})
    t.set_flags(np.array([0]), Flags.scaled | Flags.bad_for_refinement)
    assert t.get_flags(Flags.scaled).tolist() == [True, False]
    t.unset_flags(np.array([0]), Flags.scaled)
    assert t.get_flags(Flags.excluded_for_refinement).tolist() == [True, False]
    assert not t.get_flags(Flags.scaled).any()


def test_set_flags_creates_missing_flags_column() -> None:
    t = ReflectionTable({"d": np.ones(3)})
    t.set_flags(np.array([True, False, False]), Flags.predicted)
    assert t["flags"].tolist() == [1, 0, 0]


def test_get_flags_without_flags_column_raises_key_error() -> None:
    with pytest.raises(KeyError, match="flags"):
        ReflectionTable({"d": np.ones(3)}).get_flags(Flags.strong)


# ------------------------------------------------------------------- columns and dtypes
@pytest.mark.parametrize(
    ("name", "value", "dtype", "shape"),
    [
        ("flags", np.zeros(3, dtype=np.int64), np.uint64, (3,)),
        ("panel", [0, 1, 2], np.uint64, (3,)),
        ("id", np.array([-1, 0, 1], dtype=np.int64), np.int32, (3,)),
        ("miller_index", np.zeros((3, 3), dtype=np.int64), np.int32, (3, 3)),
        ("bbox", np.zeros((3, 6), dtype=np.int64), np.int32, (3, 6)),
        ("entering", [True, False, True], np.bool_, (3,)),
        ("d", np.ones(3, dtype=np.float32), np.float64, (3,)),
        ("my.double", np.arange(3), np.int32, (3,)),
        ("my.size", np.arange(3, dtype=np.uint16), np.uint64, (3,)),
        ("s1", np.zeros((3, 3), dtype=np.float32), np.float64, (3, 3)),
        ("ub", np.zeros((3, 3, 3)), np.float64, (3, 3, 3)),
        ("xy", np.zeros((3, 2)), np.float64, (3, 2)),
    ],
)
def test_setitem_converts_to_canonical_dtype(name, value, dtype, shape) -> None:
    t = ReflectionTable()
    t[name] = value
    assert t[name].dtype == np.dtype(dtype)
    assert t[name].shape == shape


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("id", np.array([2**40]), ValueError),
        ("flags", np.array([-1]), ValueError),
        ("id", np.array([1.5]), TypeError),
        ("bbox", np.zeros((2, 4), dtype=np.int32), ValueError),
        ("name", np.array(["a", "b"]), TypeError),
        ("x", np.zeros((2, 4)), TypeError),
        ("x", 3.0, TypeError),
    ],
)
def test_setitem_rejects_values_without_dials_type(name, value, error) -> None:
    with pytest.raises(error):
        ReflectionTable()[name] = value


def test_setitem_checks_length() -> None:
    t = make_table(4)
    with pytest.raises(ValueError, match="3 rows, the table has 4"):
        t["d"] = np.ones(3)
    assert "d" not in t


def test_getitem_returns_stored_array_for_in_place_edits() -> None:
    t = make_table(3)
    t["xyzobs.px.value"][:, 2] += 10
    assert t["xyzobs.px.value"][0, 2] == 12.0


def test_mapping_protocol() -> None:
    t = make_table(3)
    assert len(t) == 3 and t.ncols == 5
    assert "bbox" in t and "nope" not in t
    assert t.keys() == list(t) == ["flags", "id", "xyzobs.px.value", "bbox", "shoebox"]
    del t["bbox"]
    assert "bbox" not in t and len(t) == 3
    with pytest.raises(KeyError, match="nope"):
        t["nope"]


def test_repr_has_rows_and_columns() -> None:
    t = ReflectionTable({"d": np.zeros(1204), "id": np.zeros(1204, np.int32)})
    assert repr(t) == "<ReflectionTable 1,204 rows, 2 columns>"


def test_constructor_nrows_must_agree_with_columns() -> None:
    assert len(ReflectionTable(nrows=7)) == 7
    with pytest.raises(ValueError):
        ReflectionTable({"d": np.zeros(3)}, nrows=4)


# ------------------------------------------------------------------ select, concatenate
def test_select_bool_and_indices_give_same_rows_and_copies() -> None:
    t = make_table(4)
    a = t.select(np.array([False, True, False, True]))
    b = t.select(np.array([1, 3]))
    assert a.equals(b)
    assert a["xyzobs.px.value"][:, 0].tolist() == [3.0, 9.0]
    assert a.experiment_identifiers == {0: "exp-a"}
    a["xyzobs.px.value"][0, 0] = -1  # a copy: the parent is unchanged
    assert t["xyzobs.px.value"][1, 0] == 3.0


def test_select_shoeboxes_follow_rows() -> None:
    t = make_table(4)
    sel = t.select(np.array([3, 0, 3]))
    sb = sel["shoebox"]
    assert sb.bbox[:, 0].tolist() == [3, 0, 3]
    assert np.array_equal(sb[0].data, t["shoebox"][3].data)
    assert np.array_equal(sb[1].data, t["shoebox"][0].data)
    assert sb[0].data.shape == (1, 3, 2)


def test_select_rejects_wrong_length_mask_and_bad_index() -> None:
    t = make_table(4)
    with pytest.raises(ValueError):
        t.select(np.array([True, False]))
    with pytest.raises(IndexError):
        t.select(np.array([4]))
    with pytest.raises(TypeError):
        t.select(np.array([0.5]))


def test_select_empty_keeps_columns_and_dtypes() -> None:
    t = make_table(4)
    e = ReflectionTable.empty_like(t)
    assert len(e) == 0 and e.keys() == t.keys()
    assert e["flags"].dtype == np.uint64 and e["xyzobs.px.value"].shape == (0, 3)
    assert len(t.select(np.array([], dtype=np.int64))) == 0


def test_concatenate_rows_identifiers_and_shoeboxes() -> None:
    a, b = make_table(2), make_table(3)
    b.experiment_identifiers = {0: "exp-a", 1: "exp-b"}
    c = ReflectionTable.concatenate([a, b])
    assert len(c) == 5
    assert c.experiment_identifiers == {0: "exp-a", 1: "exp-b"}
    assert c["xyzobs.px.value"][2:].tolist() == b["xyzobs.px.value"].tolist()
    assert np.array_equal(c["shoebox"][4].data, b["shoebox"][2].data)
    assert c.select(np.arange(2, 5)).equals(b)


def test_concatenate_rejects_mismatched_columns_and_identifiers() -> None:
    a, b = make_table(2), make_table(2)
    del b["bbox"]
    with pytest.raises(ValueError, match="bbox"):
        ReflectionTable.concatenate([a, b])
    c = make_table(2)
    c.experiment_identifiers = {0: "other"}
    with pytest.raises(ValueError, match="experiment id 0"):
        ReflectionTable.concatenate([a, c])
    assert len(ReflectionTable.concatenate([])) == 0


def test_copy_is_deep() -> None:
    t = make_table(2)
    c = t.copy()
    assert c.equals(t)
    c["shoebox"].data[0] = 99
    c["flags"][0] = 0
    c.experiment_identifiers[5] = "new"
    assert t["shoebox"].data[0] == 0 and t["flags"][0] == Flags.strong
    assert 5 not in t.experiment_identifiers
    assert not c.equals(t)


# -------------------------------------------------------------------------- shoeboxes
def test_shoeboxes_rows_without_pixels() -> None:
    bbox = np.array([[0, 2, 0, 2, 0, 1], [0, 1, 0, 1, 0, 1]])
    sb = Shoeboxes.allocate([0, 1], bbox, rows=np.array([1]))
    assert sb.has_data.tolist() == [False, True]
    assert sb[0].data is None and sb[1].data.shape == (1, 1, 1)
    assert sb[-1].panel == 1
    assert len(Shoeboxes.empty([0], [[0, 5, 0, 5, 0, 5]]).data) == 0


def test_shoeboxes_validate_layout() -> None:
    with pytest.raises(ValueError, match="x1 >= x0"):
        Shoeboxes([0], [[2, 1, 0, 1, 0, 1]])
    with pytest.raises(ValueError, match="bbox volume"):
        Shoeboxes([0], [[0, 2, 0, 2, 0, 1]], [0, 3], np.zeros(3), np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError):
        Shoeboxes([-1], [[0, 1, 0, 1, 0, 1]])


def test_ragged_index() -> None:
    assert ragged_index(np.array([5, 0, 9]), np.array([2, 0, 3])).tolist() == [5, 6, 9, 10, 11]
    assert ragged_index(np.array([], np.int64), np.array([], np.int64)).size == 0
