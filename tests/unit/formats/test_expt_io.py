"""DIALS experiment list (.expt) reader/writer: layout, round trips, real DIALS files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import gemmi
import numpy as np
import pytest

from braggflow.errors import InputDataError
from braggflow.formats.expt_io import (
    experiments_from_dict,
    experiments_to_dict,
    hall_symbol,
    read_experiments,
    write_experiments,
)
from braggflow.model import (
    PARALLAX,
    Beam,
    Crystal,
    Detector,
    Experiment,
    ExperimentList,
    Goniometer,
    ImageSetRef,
    Panel,
    ProfileModel,
    Scan,
)

EXPERIMENTS = "experiments"
DIALS_SHOW = Path("/usr/bin/dials.show")


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
def _close(a: object, b: object, what: str) -> None:
    if isinstance(a, gemmi.SpaceGroup):
        assert a.xhm() == b.xhm(), what  # type: ignore[union-attr]
    elif isinstance(a, (np.ndarray, float)) or (isinstance(a, tuple) and a and not isinstance(a[0], str)):
        np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-12, atol=1e-12, err_msg=what)
    else:
        assert a == b, what


def assert_same_model(a: object, b: object, what: str) -> None:
    """Field-by-field equality of two models (numbers to 1e-12)."""
    if a is None or b is None:
        assert a is None and b is None, what
        return
    if isinstance(a, dict):
        assert a == b, what
        return
    assert type(a) is type(b), what
    if isinstance(a, Detector):
        assert len(a) == len(b), what  # type: ignore[arg-type]
        for i, (pa, pb) in enumerate(zip(a, b)):  # type: ignore[call-overload]
            assert_same_model(pa, pb, f"{what} panel {i}")
        assert a.hierarchy == b.hierarchy or (a.hierarchy is None) != (b.hierarchy is None), what  # type: ignore[attr-defined]
        return
    for name in a.__dataclass_fields__:  # type: ignore[attr-defined]
        _close(getattr(a, name), getattr(b, name), f"{what}.{name}")


def assert_same_experiments(ea: list[Experiment], eb: list[Experiment]) -> None:
    assert len(ea) == len(eb)
    for i, (a, b) in enumerate(zip(ea, eb)):
        assert a.identifier == b.identifier
        for name in ("beam", "detector", "goniometer", "scan", "crystal", "profile", "imageset", "scaling_model"):
            assert_same_model(getattr(a, name), getattr(b, name), f"experiment {i} {name}")


def round_trip(elist: ExperimentList, tmp_path: Path) -> tuple[ExperimentList, str, str]:
    """write -> read -> write; returns (re-read list, first text, second text)."""
    first, second = tmp_path / "a.expt", tmp_path / "b.expt"
    write_experiments(elist, first)
    again = read_experiments(first)
    write_experiments(again, second)
    return again, first.read_text(), second.read_text()


def synthetic_experiments() -> ExperimentList:
    """Two experiments sharing beam/detector/goniometer/scan/imageset, one crystal each."""
    beam = Beam(direction=(0.001, -0.002, 1.0), wavelength=0.9795, polarization_fraction=0.99)
    panel = Panel(
        fast_axis=(1.0, 0.0, 0.0), slow_axis=(0.0, -1.0, 0.0), origin=(-212.47, 220.0, -190.18),
        pixel_size=(0.172, 0.172), image_size=(2463, 2527), trusted_range=(0.0, 495976.0),
        thickness=0.32, material="Si", mu=3.96, px_mm_strategy=PARALLAX, identifier="PILATUS 6M",
        mask=((487, 0, 494, 2527),),
    )
    detector = Detector((panel,))
    gonio = Goniometer(rotation_axis=(1.0, 0.0, 0.0))
    scan = Scan((1, 9), 0.0, 0.2, exposure_times=np.full(9, 0.2), epochs=np.arange(9) * 0.2 + 1.36e9)
    imageset = ImageSetRef(template="/data/centroid_####.cbf")
    cell = gemmi.UnitCell(42.2, 42.2, 39.7, 90, 90, 90)
    c1 = Crystal.from_cell_and_u(cell, np.eye(3), "P 4 2 2")
    c2 = Crystal.from_cell_and_u(gemmi.UnitCell(5.4, 8.1, 12.0, 81, 95, 103), np.eye(3), "P 1")
    profile = ProfileModel(sigma_b_deg=0.058, sigma_m_deg=0.157)
    common = dict(beam=beam, detector=detector, goniometer=gonio, scan=scan, imageset=imageset)
    return ExperimentList(
        [
            Experiment(crystal=c1, profile=profile, identifier="id-0", **common),  # type: ignore[arg-type]
            Experiment(crystal=c2, identifier="id-1", **common),  # type: ignore[arg-type]
        ]
    )


# ---------------------------------------------------------------------------------------
# core tests (tests/data only)
# ---------------------------------------------------------------------------------------
def test_read_l_cysteine_integrated(tests_data: Path) -> None:
    (e,) = read_experiments(tests_data / EXPERIMENTS / "l_cysteine_integrated.expt")
    assert e.identifier == "6e3f627b-f4f3-fa38-60d9-08da37365b33"
    assert e.beam.wavelength == pytest.approx(0.6889, abs=1e-12)
    g = e.goniometer
    assert g.is_multi_axis and g.names == ("GON_PHI", "GON_OMEGA") and g.scan_axis == 0
    np.testing.assert_allclose(g.rotation_axis, np.array([0.5774, -0.8165, 0.0]) / np.hypot(0.5774, 0.8165))
    assert e.scan.image_range == (1, 15) and e.scan.oscillation_width_deg == pytest.approx(0.1)
    assert e.scan.exposure_times.shape == (15,)
    assert e.crystal.space_group.xhm() == "P 21 21 21"
    assert e.crystal.num_scan_points == 16
    assert e.crystal.B_covariance.shape == (81,)
    assert e.profile.n_sigma == 3.0 and 0 < e.profile.sigma_b_deg < 1
    (panel,) = e.detector
    assert panel.trusted_range == (0.0, 388705.0)  # legacy exclusive [-1, cutoff]
    assert panel.px_mm_strategy == PARALLAX and panel.mu == pytest.approx(1.4153536370336604)
    assert len(panel.mask) == 9 and panel.image_size == (1475, 1679)
    a, b, c = (e.crystal.unit_cell.a, e.crystal.unit_cell.b, e.crystal.unit_cell.c)
    assert (a, b, c) == pytest.approx((5.42, 8.14, 12.0), abs=0.05)


def test_dials_files_rewrite_byte_identical(tests_data: Path) -> None:
    """Reading and re-writing DIALS 3.12 output reproduces its bytes (paths kept relative)."""
    folder = tests_data / EXPERIMENTS
    for name in ("l_cysteine_integrated.expt", "l_cysteine_indexed.expt", "timepix_512_imported.expt", "thau_3_2_0004_indexed.expt"):
        elist = read_experiments(folder / name)
        text = json.dumps(experiments_to_dict(elist, folder, relative_paths=True), indent=2)
        assert text == (folder / name).read_text(), name


def test_round_trip_of_dials_file(tests_data: Path, tmp_path: Path) -> None:
    elist = read_experiments(tests_data / EXPERIMENTS / "l_cysteine_integrated.expt")
    again, first, second = round_trip(elist, tmp_path)
    assert_same_experiments(elist, again)
    assert first == second
    template = json.loads(first)["imageset"][0]["template"]
    assert os.path.isabs(template) and template.endswith("images/l_cysteine_sweep4/l-cyst_04_#####.cbf")


def test_relative_template_resolved_against_file_folder(tests_data: Path, tmp_path: Path) -> None:
    sub = tmp_path / "deep" / "er"
    sub.mkdir(parents=True)
    shutil.copy(tests_data / EXPERIMENTS / "thau_3_2_0004_indexed.expt", sub / "x.expt")
    (e,) = read_experiments(sub / "x.expt")
    expected = os.path.normpath(sub / "../../../images/thaumatin_grid/thau_3_2_####.cbf.bz2")
    assert e.imageset.template == expected
    assert e.imageset.kind == "ImageSequence"


def test_synthetic_layout(tmp_path: Path) -> None:
    elist = synthetic_experiments()
    d = experiments_to_dict(elist)
    assert list(d) == ["__id__", "experiment", "imageset", "beam", "detector", "goniometer", "scan", "crystal", "profile", "scaling_model"]
    assert d["__id__"] == "ExperimentList"
    # shared models written once, crystals twice, the profile once; absent keys omitted
    assert [len(d[k]) for k in ("imageset", "beam", "detector", "goniometer", "scan", "crystal", "profile")] == [1, 1, 1, 1, 1, 2, 1]
    assert d["experiment"][0] == {
        "__id__": "Experiment", "identifier": "id-0", "beam": 0, "detector": 0, "goniometer": 0,
        "scan": 0, "crystal": 0, "profile": 0, "imageset": 0,
    }
    assert "profile" not in d["experiment"][1] and d["experiment"][1]["crystal"] == 1
    assert [c["space_group_hall_symbol"] for c in d["crystal"]] == [" P 4 2", " P 1"]
    det = d["detector"][0]
    assert det["hierarchy"]["origin"] == [0.0, 0.0, 0.0] and det["hierarchy"]["fast_axis"] == [1.0, 0.0, 0.0]
    assert det["hierarchy"]["children"] == [{"panel": 0}]
    assert det["panels"][0]["trusted_range"] == [-1.0, 495976.0]
    assert det["panels"][0]["px_mm_strategy"] == {"type": "ParallaxCorrectedPxMmStrategy"}
    assert d["scan"][0]["oscillation"] == [0.0, 0.2] and len(d["scan"][0]["epochs"]) == 9
    assert d["imageset"][0]["template"] == "/data/centroid_####.cbf" and d["imageset"][0]["mask"] is None
    assert "probe" not in d["beam"][0] and "__id__" not in d["beam"][0]
    again, first, second = round_trip(elist, tmp_path)
    assert first == second
    assert_same_experiments(elist, again)
    assert again[0].beam is again[1].beam and again[0].crystal is not again[1].crystal
    np.testing.assert_allclose(again[1].crystal.A, elist[1].crystal.A, rtol=1e-12, atol=1e-15)
    assert first.startswith('{\n  "__id__": "ExperimentList",\n  "experiment": [\n    {')


def test_changed_model_is_written_from_its_fields(tests_data: Path, tmp_path: Path) -> None:
    (e,) = read_experiments(tests_data / EXPERIMENTS / "l_cysteine_integrated.expt")
    beam = e.beam.replace(wavelength=1.25)
    crystal = e.crystal.replace(space_group=gemmi.SpaceGroup("P 1"), A_at_scan_points=None)
    write_experiments([e.replace(beam=beam, crystal=crystal)], tmp_path / "c.expt")
    d = json.loads((tmp_path / "c.expt").read_text())
    assert d["beam"][0]["wavelength"] == 1.25
    assert d["crystal"][0]["space_group_hall_symbol"] == " P 1" and "A_at_scan_points" not in d["crystal"][0]
    (e2,) = read_experiments(tmp_path / "c.expt")
    np.testing.assert_allclose(e2.crystal.A, e.crystal.A, rtol=1e-12)


def test_hierarchy_composed_to_lab_and_written_back_local(tests_data: Path, tmp_path: Path) -> None:
    (e,) = read_experiments(tests_data / EXPERIMENTS / "timepix_512_imported.expt")
    det = e.detector
    assert len(det) == 4 and det.hierarchy["origin"] == [-13.639999999999999, 13.309999999999999, -531.85]
    raw = json.loads((tests_data / EXPERIMENTS / "timepix_512_imported.expt").read_text())["detector"][0]
    root_o = np.array(raw["hierarchy"]["origin"])
    for p, rp in zip(det, raw["panels"]):
        # root frame: fast (1,0,0), slow (0,-1,0), normal (0,0,-1)
        basis = np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]]).T
        np.testing.assert_allclose(p.origin, root_o + basis @ np.array(rp["origin"]), atol=1e-12)
        np.testing.assert_allclose(p.fast_axis, basis @ np.array(rp["fast_axis"]), atol=1e-12)
        assert p.distance == pytest.approx(531.85, abs=1e-6)
    panel, xy = det.get_ray_intersection(e.beam.s0[None])
    assert panel[0] == 0
    np.testing.assert_allclose(det[0].millimeter_to_pixel(xy[0]), [245.0, 239.0], atol=0.01)
    assert e.beam.probe == "x-ray" and e.beam.polarization_fraction == 0.5
    # move panel 2 by 1 mm along lab x: written in the parent frame, read back in lab
    moved = det.replace_panel(2, det[2].replace(origin=det[2].origin + [1.0, 0.0, 0.0]))
    write_experiments([e.replace(detector=moved)], tmp_path / "m.expt")
    d = json.loads((tmp_path / "m.expt").read_text())["detector"][0]
    assert d["hierarchy"] == raw["hierarchy"]
    assert d["panels"][2]["origin"][0] == pytest.approx(raw["panels"][2]["origin"][0] + 1.0, abs=1e-9)
    (e2,) = read_experiments(tmp_path / "m.expt")
    for pa, pb in zip(e2.detector, moved):
        assert_same_model(pa, pb, "panel")


def _minimal_dict(**overrides: object) -> dict:
    d = {
        "__id__": "ExperimentList",
        "experiment": [{"__id__": "Experiment", "beam": 0, "detector": 0, "goniometer": 0, "scan": 0, "imageset": 0}],
        "imageset": [{"__id__": "ImageSweep", "template": "img_####.cbf", "mask": ""}],
        "beam": [{"direction": [0.0, 0.0, 1.0], "wavelength": 1.0}],
        "detector": [{"panels": [{
            "fast_axis": [1, 0, 0], "slow_axis": [0, -1, 0], "origin": [-10, 10, -100],
            "pixel_size": [0.1, 0.1], "image_size": [200, 200], "trusted_range": [-1, 1000],
            "px_mm_strategy": {"type": "SimplePxMmStrategy"},
        }]}],
        "goniometer": [{"rotation_axis": [1, 0, 0], "fixed_rotation": [1, 0, 0, 0, 1, 0, 0, 0, 1]}],
        "scan": [{"image_range": [1, 3], "oscillation": [10.0, 0.5], "exposure_time": [0.1] * 3, "epochs": [1, 2, 3]}],
    }
    d.update(overrides)
    return d


def test_legacy_forms(tmp_path: Path) -> None:
    (e,) = experiments_from_dict(_minimal_dict(), tmp_path)
    assert e.identifier == "" and e.beam.probe == "x-ray" and e.beam.polarization_fraction == 0.999
    assert e.imageset.kind == "ImageSequence" and e.imageset.template == str(tmp_path / "img_####.cbf")
    assert e.imageset.mask is None and e.crystal is None
    assert e.detector[0].trusted_range == (0.0, 1000.0)
    np.testing.assert_array_equal(e.goniometer.setting_rotation, np.eye(3))
    assert e.scan.oscillation_start_deg == 10.0 and e.scan.oscillation_width_deg == 0.5
    # newer dxtbx: scan properties and a beam with __id__/probe
    props = {"image_range": [1, 3], "batch_offset": 2, "valid_image_ranges": {},
             "properties": {"oscillation": [10.0, 10.5, 11.0], "oscillation_width": [0.5],
                            "exposure_time": [0.1, 0.1, 0.1], "epochs": [1.0, 2.0, 3.0]}}
    beam = {"__id__": "monochromatic", "direction": [0, 0, 1], "wavelength": 0.0251, "probe": "electron",
            "sample_to_source_distance": 0.0, "polarization_fraction": 0.5}
    (n,) = experiments_from_dict(_minimal_dict(scan=[props], beam=[beam]), tmp_path)
    assert_same_model(n.scan, e.scan.replace(batch_offset=2), "scan")
    assert n.beam.probe == "electron"
    d = experiments_to_dict([n])
    assert d["beam"][0]["probe"] == "electron" and "properties" not in d["scan"][0]
    assert d["scan"][0]["oscillation"] == [10.0, 0.5]


def test_multi_axis_dict_and_stills_imageset(tmp_path: Path) -> None:
    gon = {"axes": [[1, 0, 0], [0, 0, -1], [1, 0, 0]], "angles": [45.0, 45.0, 45.0],
           "names": ["PHI", "CHI", "OMEGA"], "scan_axis": 2}
    images = {"__id__": "ImageSet", "images": ["a.h5"], "single_file_indices": [0, 1, 2]}
    (e,) = experiments_from_dict(_minimal_dict(goniometer=[gon], imageset=[images]), tmp_path)
    g = e.goniometer
    assert g.is_multi_axis and g.scan_axis == 2
    np.testing.assert_allclose(g.setting_rotation, np.eye(3), atol=1e-15)
    expected_f = _rot([0, 0, -1], 45) @ _rot([1, 0, 0], 45)
    np.testing.assert_allclose(g.fixed_rotation, expected_f, atol=1e-15)
    assert e.imageset.kind == "ImageSet" and e.imageset.paths == (str(tmp_path / "a.h5"),)
    assert e.imageset.single_file_indices == (0, 1, 2)
    d = experiments_to_dict([e])
    assert d["goniometer"][0]["names"] == ["PHI", "CHI", "OMEGA"] and "rotation_axis" not in d["goniometer"][0]
    assert d["imageset"][0]["images"] == [str(tmp_path / "a.h5")] and d["imageset"][0]["single_file_indices"] == [0, 1, 2]
    # a goniometer whose F no longer matches its axes is written single-axis
    changed = g.replace(fixed_rotation=np.eye(3))
    d2 = experiments_to_dict([e.replace(goniometer=changed)])
    assert "axes" not in d2["goniometer"][0] and d2["goniometer"][0]["fixed_rotation"] == [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0]


def _rot(axis: list[float], deg: float) -> np.ndarray:
    from braggflow.model._vec import rotation_matrix

    return rotation_matrix(np.array(axis, float), np.radians(deg))


def test_scaling_model_and_unknown_keys_kept(tmp_path: Path) -> None:
    scaling = {"__id__": "physical", "is_scaled": True, "scale": {"n_parameters": 2, "parameters": [1.0, 1.1]}}
    d = _minimal_dict(scaling_model=[scaling])
    d["experiment"][0]["scaling_model"] = 0
    d["beam"][0]["s0_at_scan_points"] = [[0.0, 0.0, -1.0]] * 4
    d["detector"][0]["panels"][0]["projection_2d"] = [[1, 0, 0, 1], [0, 0]]
    (e,) = experiments_from_dict(d, tmp_path)
    assert e.scaling_model == scaling
    out = experiments_to_dict([e])
    assert out["scaling_model"] == [scaling] and out["experiment"][0]["scaling_model"] == 0
    assert out["beam"][0]["s0_at_scan_points"] == d["beam"][0]["s0_at_scan_points"]
    assert out["detector"][0]["panels"][0]["projection_2d"] == [[1, 0, 0, 1], [0, 0]]
    # once the beam changes, its stale scan-point values are dropped
    out2 = experiments_to_dict([e.replace(beam=e.beam.replace(wavelength=2.0))])
    assert "s0_at_scan_points" not in out2["beam"][0]


@pytest.mark.parametrize(
    ("xhm", "hall"),
    [
        ("P 1", " P 1"), ("P -1", "-P 1"), ("P 4 2 2", " P 4 2"), ("P 41 21 2", " P 4abw 2nw"),
        ("I 2 3", " I 2 2 3"), ("P 21 21 21", " P 2ac 2ab"), ("P 31 1 2", " P 31 2 (x,y,z+1/3)"),
        ("P 1 1 2", " P 2y (z,x,y)"), ("C 1 2 1", " C 2y"), ("R 3 :H", " R 3"), ("P 65 2 2", " P 65 2 (x,y,z+1/12)"),
    ],
)
def test_hall_symbol_cctbx_style(xhm: str, hall: str) -> None:
    """Strings as cctbx's space_group.type().hall_symbol() writes them (checked with DIALS 3.12's cctbx)."""
    assert hall_symbol(gemmi.SpaceGroup(xhm)) == hall


def test_hall_symbol_reparses_for_every_setting() -> None:
    def ops(g: gemmi.GroupOps) -> set[str]:
        return {op.triplet() for op in g}

    for sg in gemmi.spacegroup_table():  # gemmi lists a few settings twice (same operators)
        assert ops(gemmi.symops_from_hall(hall_symbol(sg).strip())) == ops(sg.operations()), sg.xhm()


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out" / "imported.expt"
    target.parent.mkdir()
    target.write_text("old")
    write_experiments(synthetic_experiments(), target)
    assert json.loads(target.read_text())["__id__"] == "ExperimentList"
    assert sorted(p.name for p in target.parent.iterdir()) == ["imported.expt"]


# ---------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------
def _error(path: Path) -> str:
    with pytest.raises(InputDataError) as info:
        read_experiments(path)
    msg = str(info.value)
    assert msg.startswith(str(path)) and "\n" not in msg
    return msg


def test_missing_file(tmp_path: Path) -> None:
    assert "no such file" in _error(tmp_path / "nope.expt")


def test_invalid_json(tmp_path: Path) -> None:
    (tmp_path / "bad.expt").write_text('{"__id__": "ExperimentList", ')
    assert "not valid JSON" in _error(tmp_path / "bad.expt")


def test_not_an_experiment_list(tmp_path: Path) -> None:
    (tmp_path / "b.json").write_text(json.dumps({"1": {"max_angular_difference": 0.0}}))
    assert "not a DIALS experiment list" in _error(tmp_path / "b.json")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["experiment"][0].update(beam=3),
        lambda d: d["beam"][0].pop("wavelength"),
        lambda d: d.update(crystal=[{"real_space_a": [1, 0, 0], "real_space_b": [0, 1, 0], "real_space_c": [0, 0, 1],
                                     "space_group_hall_symbol": "Q 9 9"}]) or d["experiment"][0].update(crystal=0),
        lambda d: d.update(profile=[{"__id__": "ellipsoid"}]) or d["experiment"][0].update(profile=0),
        lambda d: d["detector"][0].update(hierarchy={"fast_axis": [1, 0, 0], "slow_axis": [0, 1, 0], "origin": [0, 0, 0],
                                                     "children": [{"panel": 0}, {"panel": 0}]}),
    ],
)
def test_malformed_content(tmp_path: Path, mutate) -> None:  # type: ignore[no-untyped-def]
    d = _minimal_dict()
    mutate(d)
    (tmp_path / "m.expt").write_text(json.dumps(d))
    assert "malformed experiment list" in _error(tmp_path / "m.expt")


# ---------------------------------------------------------------------------------------
# shared data: every DIALS experiment file
# ---------------------------------------------------------------------------------------
def _shared_files() -> list[str]:
    root = Path(__file__).resolve().parents[4] / "shared" / "data" / "reflections"
    files = sorted(root.glob("**/*.expt")) + sorted(root.glob("**/*.json"))
    return [str(p.relative_to(root)) for p in files] or ["(absent)"]


@pytest.mark.parametrize("name", _shared_files())
def test_shared_round_trip(shared_data: Path, tmp_path: Path, name: str) -> None:
    path = shared_data / "reflections" / name
    if json.loads(path.read_text()).get("__id__") != "ExperimentList":
        assert "not a DIALS experiment list" in _error(path)
        return
    elist = read_experiments(path)
    assert len(elist) >= 1
    again, first, second = round_trip(elist, tmp_path)
    assert first == second
    assert_same_experiments(elist, again)
    if "dials312_" in name:  # DIALS 3.12's own output is reproduced byte for byte
        text = json.dumps(experiments_to_dict(elist, path.parent, relative_paths=True), indent=2)
        assert text == path.read_text()


def test_shared_key_values(shared_data: Path) -> None:
    r = shared_data / "reflections"
    (imp,) = read_experiments(r / "centroid_test_data/imported_experiments.json")
    np.testing.assert_allclose(imp.detector[0].origin, [-212.478, 220.002, -190.18], atol=1e-3)
    np.testing.assert_allclose(imp.detector[0].fast_axis, [1, 0, 0])
    np.testing.assert_allclose(imp.detector[0].slow_axis, [0, -1, 0])
    np.testing.assert_allclose(imp.goniometer.rotation_axis, [1, 0, 0])
    assert imp.beam.wavelength == 0.9795 and imp.crystal is None and imp.detector[0].trusted_range[0] == 0.0
    (cen,) = read_experiments(r / "centroid_test_data/experiments.json")
    assert cen.crystal.space_group.xhm() == "P 4 2 2" and cen.identifier == ""
    assert (cen.profile.sigma_b_deg, cen.profile.sigma_m_deg) == (0.058, 0.157) and cen.crystal.mosaicity == 0.157
    assert [round(v, 3) for v in cen.crystal.unit_cell.parameters[:3]] == [42.272, 42.272, 39.670]
    (idx,) = read_experiments(r / "centroid_test_data/indexed.expt")
    assert [round(v, 3) for v in idx.crystal.unit_cell.parameters[:3]] == [42.209, 42.209, 39.693]
    (lcy,) = read_experiments(r / "dials312_l_cysteine_sweep4/refined.expt")
    assert lcy.goniometer.names == ("GON_PHI", "GON_OMEGA") and lcy.crystal.num_scan_points == 16
    (th,) = read_experiments(r / "dials312_thaumatin_grid/thau_3_2_0004/indexed.expt")
    assert hall_symbol(th.crystal.space_group) == " P 4abw 2nw"
    assert [round(v, 3) for v in th.crystal.unit_cell.parameters[:3]] == [58.106, 58.106, 151.152]
    assert th.scan.image_range == (4, 4) and th.scan.is_still and th.scan.batch_offset == 3
    (ins,) = read_experiments(r / "insulin_processed/indexed.expt")
    assert hall_symbol(ins.crystal.space_group) == " I 2 2 3"
    assert round(ins.crystal.unit_cell.a, 3) == 78.089
    (ins_i,) = read_experiments(r / "insulin_processed/integrated.expt")
    assert ins_i.crystal.num_scan_points == 46 and round(ins_i.crystal.unit_cell.a, 3) == 78.092
    assert (round(ins_i.profile.sigma_b_deg, 5), round(ins_i.profile.sigma_m_deg, 5)) == (0.05394, 0.15002)
    np.testing.assert_allclose(ins_i.detector[0].origin, [-94.7, 94.0, -160.0], atol=2.0)
    (sc,) = read_experiments(r / "insulin_processed/scaled.expt")
    assert sc.scaling_model["__id__"] == "physical"
    assert sc.scan.valid_image_ranges == {"6c4347ee-5fca-4216-85de-01dfe65d3efc": [[1, 45]]}
    for i, (a, c) in enumerate([(68.38, 103.98), (68.35, 103.94), (68.35, 103.92), (68.37, 103.97)]):
        (v,) = read_experiments(r / f"vmxi_proteinase_k_sweeps/experiments_{i}.expt")
        assert v.crystal.num_scan_points == 601 and len(v.imageset.single_file_indices) == 600
        assert (round(v.crystal.unit_cell.a, 2), round(v.crystal.unit_cell.c, 2)) == (a, c)
        assert v.imageset.template.endswith("_master.h5") and v.imageset.mask.endswith(".pickle")
    (p12,) = read_experiments(r / "dials312_single/DLS_I23_P12M_thau_00001/imported.expt")
    distances = [p.distance for p in p12.detector]
    assert len(distances) == 24 and round(min(distances), 1) == 248.7 and round(max(distances), 1) == 260.0
    panel, xy = p12.detector.get_ray_intersection(p12.beam.s0[None])
    assert panel[0] == 12
    np.testing.assert_allclose(p12.detector[12].millimeter_to_pixel(xy[0]), [1080.00, 50.98], atol=0.005)
    (smg,) = read_experiments(r / "dials312_single/DLS_I03_smargon_0001/imported.expt")
    assert smg.goniometer.scan_axis == 2 and smg.goniometer.angles == (45.0, 45.0, 45.0)


# ---------------------------------------------------------------------------------------
# DIALS reads what braggflow writes
# ---------------------------------------------------------------------------------------
@pytest.mark.skipif(not DIALS_SHOW.exists(), reason="DIALS is not installed (/usr/bin/dials.show)")
def test_dials_show_reads_our_file(tmp_path: Path, tests_data: Path) -> None:
    elist = synthetic_experiments()
    (lcy,) = read_experiments(tests_data / EXPERIMENTS / "timepix_512_imported.expt")
    moved = lcy.detector.replace_panel(0, lcy.detector[0].replace(origin=lcy.detector[0].origin + 0.5))
    elist.append(lcy.replace(detector=moved, beam=lcy.beam.replace(wavelength=0.0252)))
    path = tmp_path / "imported.expt"
    write_experiments(elist, path)
    run = subprocess.run(
        [str(DIALS_SHOW), str(path)], env={"PATH": "/usr/bin:/bin", "HOME": "/root"},
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout
    assert "wavelength: 0.9795" in out and "wavelength: 0.0252" in out
    assert "distance: 190.18" in out and "distance: 531.85" in out
    assert "Space group: P 4 2 2" in out and "Space group: P 1" in out
    assert "oscillation:   {0,0.2}" in out
