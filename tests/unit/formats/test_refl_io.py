"""DIALS .refl (msgpack) reading and writing, against real DIALS 3.12 files."""

from __future__ import annotations

import json
import os
import pickle  # only to make a pickle file that the reader must refuse
import struct
import subprocess
from pathlib import Path

import msgpack
import numpy as np
import pytest

from braggflow.errors import InputDataError
from braggflow.formats import refl_io
from braggflow.formats.refl_io import read_refl, write_refl
from braggflow.model.reflections import Flags, ReflectionTable
from braggflow.model.shoebox import Shoeboxes

DIALS_PYTHON = Path("/usr/bin/python3")
DIALS_SHOW = Path("/usr/bin/dials.show")


def every_type_table(n: int = 5) -> ReflectionTable:
    rng = np.random.default_rng(1)
    bbox = np.array(
        [[0, 2, 0, 3, 0, 1], [5, 6, 5, 7, 1, 3], [1, 1, 0, 0, 0, 0], [0, 2, 0, 2, 0, 2],
         [-3, 0, 4, 5, 0, 1]], dtype=np.int32)[:n]
    sb = Shoeboxes.allocate(np.arange(n), bbox, rows=np.array([0, 1, 3, 4])[: max(n - 1, 0)])
    sb.data[:] = rng.random(len(sb.data))
    sb.mask[:] = rng.integers(0, 64, len(sb.mask))
    sb.background[:] = rng.random(len(sb.data))
    return ReflectionTable(
        {
            "flags": np.full(n, Flags.strong | Flags.indexed | Flags.scaled, np.uint64),
            "id": np.arange(n) - 1,
            "panel": np.arange(n),
            "entering": rng.random(n) > 0.5,
            "d": rng.random(n),
            "v2": rng.random((n, 2)),
            "s1": rng.random((n, 3)),
            "m3": rng.random((n, 3, 3)),
            "bbox": bbox,
            "miller_index": rng.integers(-9, 9, (n, 3)),
            "shoebox": sb,
        },
        experiment_identifiers={3: "x-y", 0: "abc"},
    )


# ---------------------------------------------------------------------------- round trip
def test_round_trip_every_column_type(tmp_path: Path) -> None:
    t = every_type_table()
    write_refl(t, tmp_path / "t.refl")
    back = read_refl(tmp_path / "t.refl")
    assert back.equals(t)
    assert {k: back[k].dtype for k in back if k != "shoebox"} == {
        k: t[k].dtype for k in t if k != "shoebox"}
    assert back.experiment_identifiers == {0: "abc", 3: "x-y"}
    assert back["shoebox"].has_data.tolist() == [True, True, False, True, True]
    assert back["shoebox"][4].bbox == (-3, 0, 4, 5, 0, 1)


def test_round_trip_via_table_methods_and_empty_table(tmp_path: Path) -> None:
    t = every_type_table().select(np.zeros(5, dtype=bool))
    t.as_file(tmp_path / "empty.refl")
    back = ReflectionTable.from_file(tmp_path / "empty.refl")
    assert len(back) == 0 and back.equals(t)
    ReflectionTable(nrows=3).as_file(tmp_path / "nocols.refl")
    assert len(read_refl(tmp_path / "nocols.refl")) == 3


def test_written_layout_is_dials_version_1_sorted(tmp_path: Path) -> None:
    write_refl(every_type_table(), tmp_path / "t.refl")
    raw = (tmp_path / "t.refl").read_bytes()
    assert raw.startswith(b"\x93\xbbdials::af::reflection_table\x01")
    tag, version, body = msgpack.unpackb(raw, raw=False, strict_map_key=False)
    assert (tag, version, list(body)) == ("dials::af::reflection_table", 1,
                                          ["identifiers", "nrows", "data"])
    assert list(body["data"]) == sorted(body["data"])
    assert list(body["identifiers"]) == [0, 3]
    assert body["data"]["m3"][0] == "mat3<double>"
    assert body["data"]["miller_index"][0] == "cctbx::miller::index<>"
    assert body["data"]["shoebox"][0] == "Shoebox<>"
    n, blob = body["data"]["bbox"][1]
    assert n == 5 and np.frombuffer(blob, "<i4").reshape(5, 6)[4, 0] == -3


def test_shoebox_stream_uses_flag_1_and_int32_mask(tmp_path: Path) -> None:
    sb = Shoeboxes.allocate([7], [[0, 1, 0, 1, 0, 1]])
    sb.data[:], sb.mask[:], sb.background[:] = 2.5, 5, 0.25
    write_refl(ReflectionTable({"shoebox": sb}), tmp_path / "s.refl")
    body = msgpack.unpackb((tmp_path / "s.refl").read_bytes(), strict_map_key=False)[2]
    blob = body["data"]["shoebox"][1][1]
    assert blob == struct.pack("<I6iBfif", 7, 0, 1, 0, 1, 0, 1, 1, 2.5, 5, 0.25)


def test_reads_flag_2_shoebox_with_uint8_mask(tmp_path: Path) -> None:
    blob = struct.pack("<I6iB", 1, 0, 2, 0, 1, 0, 1, 2) + struct.pack("<2f2B2f", 1, 2, 5, 7, 3, 4)
    obj = ["dials::af::reflection_table", 1,
           {"identifiers": {}, "nrows": 1, "data": {"shoebox": ["Shoebox<>", [1, blob]]}}]
    (tmp_path / "f2.refl").write_bytes(msgpack.packb(obj, use_bin_type=True))
    sb = read_refl(tmp_path / "f2.refl")["shoebox"][0]
    assert sb.data.tolist() == [[[1.0, 2.0]]]
    assert sb.mask.tolist() == [[[5, 7]]] and sb.mask.dtype == np.int32
    assert sb.background.tolist() == [[[3.0, 4.0]]]


# ------------------------------------------------------------ committed real DIALS files
def test_thaumatin_strong_refl_reads_plausibly(tests_data: Path) -> None:
    t = read_refl(tests_data / "reflections" / "thau_3_2_0001_strong.refl")
    assert len(t) == 290  # shared/data README: DIALS find_spots on image 0001
    assert sorted(t.keys()) == sorted([
        "bbox", "flags", "id", "intensity.sum.value", "intensity.sum.variance", "n_signal",
        "panel", "shoebox", "xyzobs.px.value", "xyzobs.px.variance"])
    assert t.experiment_identifiers == {0: "01c829d9-34df-8313-979a-ea8ddfdaef2c"}
    assert t.get_flags(Flags.strong).all() and (t["flags"] == Flags.strong).all()
    xyz = t["xyzobs.px.value"]
    assert np.all(xyz[:, 2] == 0.5)  # still image 1: z = N - 0.5
    assert xyz[:, 0].min() > 0 and xyz[:, 0].max() < 2463
    assert xyz[:, 1].min() > 0 and xyz[:, 1].max() < 2527
    b = t["bbox"]
    assert np.all((b[:, 0] <= xyz[:, 0]) & (xyz[:, 0] <= b[:, 1]))
    assert np.all((b[:, 2] <= xyz[:, 1]) & (xyz[:, 1] <= b[:, 3]))
    sb = t["shoebox"]
    assert sb.has_data.all() and np.array_equal(sb.bbox, b)
    fg = [(sb[i].mask & 4) > 0 for i in range(len(sb))]
    assert [int(m.sum()) for m in fg] == t["n_signal"].tolist()
    sums = [float(sb[i].data[m].sum()) for i, m in enumerate(fg)]
    np.testing.assert_allclose(sums, t["intensity.sum.value"])


def test_lcysteine_integrated_refl_reads_plausibly(tests_data: Path) -> None:
    t = read_refl(tests_data / "reflections" / "l_cysteine_sweep4_integrated.refl")
    assert len(t) == 48 and t.ncols == 32 and "shoebox" not in t
    assert t.get_flags(Flags.integrated_sum).sum() == 47
    assert t.get_flags(Flags.integrated_prf).sum() == 20
    assert t["miller_index"].dtype == np.int32 and t["entering"].dtype == bool
    assert t["partial_id"].dtype == np.uint64 and t["num_pixels.valid"].dtype == np.int32
    # |s1| = 1 / wavelength (0.68890 A)
    np.testing.assert_allclose(np.linalg.norm(t["s1"], axis=1), 1 / 0.6889, rtol=1e-4)
    assert t["d"].min() > 0.5 and np.all(t["miller_index"].any(axis=1))


@pytest.mark.parametrize("name", ["thau_3_2_0001_strong.refl", "l_cysteine_sweep4_integrated.refl"])
def test_committed_files_rewrite_byte_for_byte(tests_data: Path, tmp_path: Path, name: str) -> None:
    src = tests_data / "reflections" / name
    write_refl(read_refl(src), tmp_path / name)
    assert (tmp_path / name).read_bytes() == src.read_bytes()


# ------------------------------------------------------------------ all shared DIALS files
SHARED_ROWS = {
    "centroid_test_data/indexed.refl": 654,
    "centroid_test_data/integrated.refl": 2269,
    "dials312_l_cysteine_sweep4/strong.refl": 30,
    "dials312_l_cysteine_sweep4/indexed.refl": 30,
    "dials312_l_cysteine_sweep4/integrated.refl": 48,
    "dials312_l_cysteine_sweep4/fixed_geometry/integrated.refl": 52,
    "dials312_thaumatin_grid/thau_3_2_0001/strong.refl": 290,
    "dials312_thaumatin_grid/thau_3_2_0004/strong.refl": 1284,
    "dials312_thaumatin_grid/thau_3_2_0010/strong.refl": 975,
    "dials312_thaumatin_grid/thau_3_2_0017/strong.refl": 1,
    "dials312_thaumatin_grid/thau_3_2_0004/indexed.refl": 1284,
}


@pytest.mark.shared_data
def test_every_shared_refl_reads_and_rewrites_identically(shared_data: Path, tmp_path: Path) -> None:
    files = sorted((shared_data / "reflections").rglob("*.refl"))
    assert len(files) >= 20
    for f in files:
        t = read_refl(f)
        rel = f.relative_to(shared_data / "reflections").as_posix()
        if rel in SHARED_ROWS:
            assert len(t) == SHARED_ROWS[rel], rel
        raw = msgpack.unpackb(f.read_bytes(), raw=False, strict_map_key=False)[2]
        assert sorted(t.keys()) == sorted(raw["data"]), rel
        assert t.get_flags(Flags.strong, all=False).sum() > 0 or len(t) <= 1 or "integrated" in rel
        write_refl(t, tmp_path / "x.refl")
        assert (tmp_path / "x.refl").read_bytes() == f.read_bytes(), rel


@pytest.mark.shared_data
def test_shared_flag_counts_match_readme(shared_data: Path) -> None:
    r = shared_data / "reflections"
    t = read_refl(r / "centroid_test_data/indexed.refl")
    counts = [int(t.get_flags(f).sum()) for f in
              (Flags.strong, Flags.indexed, Flags.used_in_refinement, Flags.centroid_outlier)]
    assert counts == [654, 569, 438, 128]
    t = read_refl(r / "centroid_test_data/integrated.refl")
    counts = [int(t.get_flags(f).sum()) for f in (Flags.predicted, Flags.integrated_sum,
              Flags.integrated_prf, Flags.strong, Flags.reference_spot)]
    assert counts == [1991, 1679, 1657, 626, 348]
    assert t.experiment_identifiers == {} and int(t["shoebox"].has_data.sum()) == 278
    t = read_refl(r / "dials312_thaumatin_grid/thau_3_2_0004/indexed.refl")
    counts = [int(t.get_flags(f).sum()) for f in
              (Flags.indexed, Flags.used_in_refinement, Flags.centroid_outlier)]
    assert counts == [801, 790, 11]
    t = read_refl(r / "dials312_single/DLS_I23_P12M_thau_00001/strong.refl")
    assert len(t) == 207 and np.unique(t["panel"]).tolist() == list(range(24))


# ------------------------------------------------------------------------------- errors
def _dials_obj(**body_changes):
    body = {"identifiers": {}, "nrows": 2,
            "data": {"d": ["double", [2, np.zeros(2).tobytes()]]}}
    body.update(body_changes)
    return ["dials::af::reflection_table", 1, body]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (pickle.dumps({"a": 1}, protocol=2), "Python pickle"),
        (bytes(range(256)) * 4, "not a DIALS reflection file"),
        (b"", "not a DIALS reflection file"),
        (msgpack.packb(["something else", 1, {}]), "not a DIALS reflection file"),
        (msgpack.packb(_dials_obj())[:-5], "truncated"),
        (msgpack.packb(["dials::af::reflection_table", 2, {}]), "version 2 is not supported"),
        (msgpack.packb(_dials_obj(nrows=3)), "has 2 rows, the header says 3"),
        (msgpack.packb(_dials_obj(extra=1)), "unknown key"),
        (msgpack.packb(_dials_obj(data={"d": ["double", [2, b"123"]]})), "holds 3 bytes"),
        (msgpack.packb(_dials_obj(data={"n": ["std::string", [2, b"x" * 64]]})), "std::string"),
        (msgpack.packb(_dials_obj(data={"n": ["float", [2, b"x" * 8]]})), "unsupported type"),
        (msgpack.packb(_dials_obj(identifiers={"a": 1})), "identifiers"),
        (msgpack.packb(_dials_obj(data={"s": ["Shoebox<>", [2, b"\0" * 30]]})), "shoebox"),
        (msgpack.packb(_dials_obj(nrows=2**60, data={"s": ["Shoebox<>", [2**60, b"\0" * 29]]})),
         "cannot hold"),
    ],
    ids=["pickle", "random", "empty", "tag", "truncated", "version", "nrows", "key", "size",
         "string", "type", "ids", "shoebox", "huge"],
)
def test_bad_files_raise_input_data_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.refl"
    path.write_bytes(content)
    with pytest.raises(InputDataError, match=message) as info:
        read_refl(path)
    assert str(info.value).startswith(str(path))


def test_missing_file_and_directory_raise_input_data_error(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="not found"):
        read_refl(tmp_path / "nope.refl")
    with pytest.raises(InputDataError, match="directory"):
        read_refl(tmp_path)
    with pytest.raises(InputDataError, match="cannot write"):
        write_refl(every_type_table(), tmp_path / "no_dir" / "t.refl")


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "t.refl"
    write_refl(every_type_table(), path)
    before = path.read_bytes()

    def explode(fh, table, encoded):
        fh.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(refl_io, "_write_stream", explode)
    with pytest.raises(InputDataError, match="No space left"):
        write_refl(every_type_table(3), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["t.refl"]


# ------------------------------------------------------------------------ DIALS interop
_DIALS_DUMP = """
import json, sys
from dials.array_family import flex
t = flex.reflection_table.from_file(sys.argv[1])
sb = t["shoebox"]
print(json.dumps({
    "n": len(t), "keys": sorted(t.keys()),
    "ids": {str(k): v for k, v in dict(t.experiment_identifiers()).items()},
    "m3": list(t["m3"][1]), "v2": list(t["v2"][1]), "hkl": [list(h) for h in t["miller_index"]],
    "id": list(t["id"]), "entering": list(t["entering"]), "flags": list(t["flags"]),
    "sb_bbox": [list(s.bbox) for s in sb], "sb_data": list(sb[1].data),
    "sb_mask": list(sb[1].mask), "sb_bg": list(sb[1].background),
    "sb_empty": sb[2].data.size(),
}))
"""


@pytest.mark.dials
def test_table_we_write_loads_in_dials(tmp_path: Path) -> None:
    if not DIALS_SHOW.exists():
        pytest.skip("DIALS is not installed (/usr/bin/dials.show absent)")
    t = every_type_table()
    path = tmp_path / "ours.refl"
    write_refl(t, path)
    proc = subprocess.run(
        [str(DIALS_PYTHON), "-c", _DIALS_DUMP, str(path)],
        env={"PATH": "/usr/bin:/bin", "HOME": "/root"},
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["n"] == 5 and got["keys"] == sorted(t.keys())
    assert got["ids"] == {"0": "abc", "3": "x-y"}
    assert got["m3"] == t["m3"][1].reshape(9).tolist()
    assert got["v2"] == t["v2"][1].tolist()
    assert got["hkl"] == t["miller_index"].tolist()
    assert got["id"] == t["id"].tolist() and got["entering"] == t["entering"].tolist()
    assert got["flags"] == t["flags"].tolist()
    assert got["sb_bbox"] == t["shoebox"].bbox.tolist()
    sb1 = t["shoebox"][1]
    assert got["sb_data"] == sb1.data.reshape(-1).tolist()
    assert got["sb_mask"] == sb1.mask.reshape(-1).tolist()
    assert got["sb_bg"] == sb1.background.reshape(-1).tolist()
    assert got["sb_empty"] == 0
