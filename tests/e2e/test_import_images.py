"""braggflow.import end to end: images, templates, directories, stdin, and bad input."""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import pytest

from braggflow.formats.expt_io import read_experiments
from braggflow.pipeline.programs.import_ import main


def _run(tmp_path: Path, monkeypatch, capsys, *argv: str, stdin: str | None = None) -> tuple[int, str, str]:
    monkeypatch.chdir(tmp_path)
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_import_local_images_one_experiment_each(tests_data: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    images = tests_data / "images"
    code, out, _ = _run(tmp_path, monkeypatch, capsys, str(images / "phi_scan_001.cbf"), str(images / "TIMEPIX_SU_516-stdgoni_0001.img"))
    assert code == 0
    assert "num images: 2" in out and "num sweeps: 2" in out and "num stills: 0" in out
    assert "FormatCBFFullPilatus" in out and "FormatSMVTimePix_SU_516x516" in out
    elist = read_experiments(tmp_path / "imported.expt")
    assert len(elist) == 2
    templates = [s["template"] for s in json.loads((tmp_path / "imported.expt").read_text())["imageset"]]
    assert any(t.endswith("phi_scan_###.cbf") for t in templates)


def test_import_template_and_directory_and_stdin(tests_data: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for n in (1, 2):
        shutil.copy(tests_data / "images/phi_scan_001.cbf", data / f"p_{n:03d}.cbf")
    (data / "README.txt").write_text("not an image")
    # same header twice: image 2 repeats the angle of image 1 -> clear error naming p_002
    code, _, err = _run(tmp_path, monkeypatch, capsys, f"template={data}/p_###.cbf")
    assert code == 1 and "p_002.cbf: oscillation goes backwards or repeats" in err
    assert not (tmp_path / "imported.expt").exists()
    (data / "p_002.cbf").unlink()
    code, out, _ = _run(tmp_path, monkeypatch, capsys, f"directory={data}")
    assert code == 0 and "num images: 1" in out and "README.txt: not an image" in out
    code, out, _ = _run(tmp_path, monkeypatch, capsys, "-i", "output.experiments=stdin.expt", stdin=f"{data}/p_001.cbf\n")
    assert code == 0 and (tmp_path / "stdin.expt").exists()


def test_bad_inputs_exit_nonzero_with_one_line(tests_data: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    code, _, err = _run(tmp_path, monkeypatch, capsys, str(tmp_path / "absent_001.cbf"))
    assert code == 1 and "absent_001.cbf: no such file" in err and len(err.strip().splitlines()) == 1
    junk = tmp_path / "junk_001.cbf"
    junk.write_bytes(b"###CBF: not really\n")
    code, _, err = _run(tmp_path, monkeypatch, capsys, str(junk))
    assert code == 1 and "junk_001.cbf" in err
    code, _, err = _run(tmp_path, monkeypatch, capsys, str(tests_data / "images/phi_scan_001.cbf"), "lookup.mask=m.pickle")
    assert code == 2 and "lookup.mask" in err
    assert not (tmp_path / "imported.expt").exists()


def test_import_l_cysteine_sweep_matches_dials(shared_data: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    images = sorted(str(p) for p in (shared_data / "images/l_cysteine_sweep4").glob("*.cbf"))
    code, out, _ = _run(tmp_path, monkeypatch, capsys, *images)
    assert code == 0 and "num images: 15" in out and "num sweeps: 1" in out
    (ours,) = read_experiments(tmp_path / "imported.expt")
    (ref,) = read_experiments(shared_data / "reflections/dials312_l_cysteine_sweep4/imported.expt")
    assert ours.scan.image_range == ref.scan.image_range == (1, 15)
    assert ours.scan.epochs == pytest.approx(ref.scan.epochs, abs=1e-3)
    assert ours.imageset.template == ref.imageset.template


def test_import_thaumatin_stills_and_overrides(shared_data: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    images = [str(p) for p in sorted((shared_data / "images/thaumatin_grid").glob("*.bz2"))]
    code, out, _ = _run(tmp_path, monkeypatch, capsys, *images, "distance=300", "wavelength=0.97")
    assert code == 0 and "num stills: 4" in out and "num sweeps: 0" in out
    assert "Assuming geometry.beam.wavelength was intended" in out
    elist = read_experiments(tmp_path / "imported.expt")
    assert [e.scan.image_range for e in elist] == [(1, 1), (4, 4), (10, 10), (17, 17)]
    assert all(e.detector[0].distance == pytest.approx(300.0) and e.beam.wavelength == 0.97 for e in elist)
