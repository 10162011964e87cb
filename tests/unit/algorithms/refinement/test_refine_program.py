"""braggflow.refine end to end on DIALS 3.12's L-cysteine sweep-4 indexing (23 indexed spots).

DIALS (dials312_l_cysteine_sweep4/logs/dials.refine.log): 7 outliers, 16 reflections, static
13 parameters then scan-varying 19, final RMSDs 0.1304 / 0.12946 px / 0.49941 images, A
sampled at 16 scan points.
"""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from rich.console import Console

from braggflow.formats.expt_io import read_experiments
from braggflow.formats.refl_io import read_refl, write_refl
from braggflow.model.reflections import Flags
from braggflow.pipeline.command import run_program
from braggflow.pipeline.programs.refine import PROGRAM


def _run(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    buf = io.StringIO()
    code = run_program(PROGRAM, [str(a) for a in args], console=Console(file=buf, width=120, color_system=None))
    return code, buf.getvalue()


@pytest.fixture
def lcys(tests_data, tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(tests_data / "experiments" / "l_cysteine_indexed.expt", d / "indexed.expt")
    shutil.copy(tests_data / "experiments" / "l_cysteine_indexed.refl", d / "indexed.refl")
    return d


def test_refine_l_cysteine_matches_dials(lcys, tmp_path, monkeypatch):
    code, out = _run([lcys / "indexed.expt", lcys / "indexed.refl"], tmp_path, monkeypatch)
    assert code == 0, out
    assert "There are 13 parameters to refine against 16 reflections in 3 dimensions" in out
    assert "There are 19 parameters to refine against 16 reflections in 3 dimensions" in out
    assert "Scan-varying refinement" in out and out.count("RMSD no longer decreasing") == 2
    assert "A sampled at 16 scan points" in out
    refined = read_experiments(tmp_path / "refined.expt")
    crystal = refined[0].crystal
    assert crystal.num_scan_points == 16
    table = read_refl(tmp_path / "refined.refl")
    assert len(table) == 30
    assert int(np.sum(table.get_flags(Flags.used_in_refinement))) == 16
    assert int(np.sum(table.get_flags(Flags.centroid_outlier))) == 7
    # final RMSDs (px, px, images) in the last "RMSDs by experiment" table: DIALS 0.1304 0.12946 0.49941
    last = [line for line in out.splitlines() if line.startswith("| 0 ")][-1].split("|")
    rmsd = [float(v) for v in last[3:6]]
    assert np.allclose(rmsd, [0.1304, 0.12946, 0.49941], atol=2e-3)
    # cell within 1 % of the known 5.428, 8.141, 12.038 (README 2.1)
    assert np.allclose(crystal.unit_cell.parameters[:3], [5.428, 8.141, 12.038], rtol=0.01)


def test_refine_l_cysteine_scan_points_match_dials(lcys, shared_data, tmp_path, monkeypatch):
    code, out = _run([lcys / "indexed.expt", lcys / "indexed.refl"], tmp_path, monkeypatch)
    assert code == 0, out
    ours = read_experiments(tmp_path / "refined.expt")[0].crystal.A_at_scan_points
    ref = json.loads((shared_data / "reflections" / "dials312_l_cysteine_sweep4" / "refined.expt").read_text())
    dials = np.array(ref["crystal"][0]["A_at_scan_points"]).reshape(-1, 3, 3)
    assert ours.shape == dials.shape
    assert np.max(np.abs(ours - dials)) < 1e-4 * np.max(np.abs(dials))  # measured: 5e-6 relative


def test_static_only_and_unused_reflections_dropped(lcys, tmp_path, monkeypatch):
    args = [lcys / "indexed.expt", lcys / "indexed.refl", "scan_varying=False", "include_unused_reflections=False"]
    code, out = _run(args, tmp_path, monkeypatch)
    assert code == 0, out
    assert "Scan-varying refinement" not in out
    assert read_experiments(tmp_path / "refined.expt")[0].crystal.num_scan_points == 0
    assert len(read_refl(tmp_path / "refined.refl")) == 16


def test_mismatched_identifiers_are_reported(lcys, tmp_path, monkeypatch, capsys):
    table = read_refl(lcys / "indexed.refl")
    table.experiment_identifiers = {0: "not-the-right-experiment"}
    write_refl(table, lcys / "other.refl")
    code, _ = _run([lcys / "indexed.expt", lcys / "other.refl"], tmp_path, monkeypatch)
    assert code != 0
    err = capsys.readouterr().err
    assert "other.refl" in err and "identifier" in err


def test_no_indexed_reflections_is_reported(lcys, tmp_path, monkeypatch, capsys):
    table = read_refl(lcys / "indexed.refl")
    table["id"] = np.full(len(table), -1, dtype=np.int32)
    write_refl(table, lcys / "unindexed.refl")
    code, _ = _run([lcys / "indexed.expt", lcys / "unindexed.refl"], tmp_path, monkeypatch)
    assert code != 0 and "no indexed reflections" in capsys.readouterr().err


def test_everything_fixed_is_reported(lcys, tmp_path, monkeypatch, capsys):
    args = [lcys / "indexed.expt", lcys / "indexed.refl", "beam.fix=all", "crystal.fix=all", "detector.fix=all"]
    code, _ = _run(args, tmp_path, monkeypatch)
    assert code != 0 and "every parameter is fixed" in capsys.readouterr().err


def test_refine_l_cysteine_shared_data_copy(shared_data, tmp_path, monkeypatch):
    d = shared_data / "reflections" / "dials312_l_cysteine_sweep4"
    code, out = _run([d / "indexed.expt", d / "indexed.refl", "output.experiments=r.expt"], tmp_path, monkeypatch)
    assert code == 0, out
    assert (tmp_path / "r.expt").exists() and (tmp_path / "refined.refl").exists()
