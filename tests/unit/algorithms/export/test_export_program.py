"""braggflow.export end to end on the l-cysteine files; DIALS and iotbx cross-checks (skip if absent)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import gemmi
import numpy as np
import pytest
from export_testdata import L_CYS_EXPT, L_CYS_REFL

from braggflow.pipeline.programs.export import main

CCTBX_PYTHON = Path(__file__).resolve().parents[4] / ".venv-cctbx" / "bin" / "python"


def test_program_writes_mtz_and_logs_tutorial_lines(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([str(L_CYS_EXPT), str(L_CYS_REFL), "hklout=lcys.mtz"]) == 0
    out = capsys.readouterr().out
    for line in (
        "Removing 0 reflections with negative variance",
        "Removing 0 profile reflections with negative variance",
        "Removing 0 incomplete reflections",
        "Saving 19 integrated reflections to lcys.mtz",
        "Space group symbol from file: P212121",
        "Number of batches: 15",
        "Number of Miller indices: 19",
    ):
        assert line in out
    assert "mtz {\n  hklout = lcys.mtz" in out  # hklout= resolved to mtz.hklout
    assert "Number of batches: 15" in Path("braggflow.export.log").read_text()
    mtz = gemmi.read_mtz_file("lcys.mtz")
    assert mtz.nreflections == 19 and len(mtz.batches) == 15


def test_program_mmcif_and_bad_input(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([str(L_CYS_EXPT), str(L_CYS_REFL), "format=mmcif"]) == 0
    assert Path("integrated.cif").is_file()
    assert main([str(L_CYS_EXPT)]) == 2  # no reflections given
    assert "error:" in capsys.readouterr().err


@pytest.mark.dials
def test_matches_live_dials_export_with_options(tmp_path, monkeypatch):
    """dials.export and braggflow.export with intensity=sum and a strict partiality threshold."""
    dials = shutil.which("dials.export") or "/usr/bin/dials.export"
    if not Path(dials).exists():
        pytest.skip("DIALS is not installed")
    monkeypatch.chdir(tmp_path)
    shutil.copy(L_CYS_EXPT, "integrated.expt")
    shutil.copy(L_CYS_REFL, "integrated.refl")
    options = ["intensity=sum", "mtz.partiality_threshold=0.9", "mtz.d_min=0.95"]
    env = {"PATH": "/usr/bin:/bin", "HOME": "/root"}
    subprocess.run([dials, "integrated.expt", "integrated.refl", *options, "mtz.hklout=dials.mtz"],
                   env=env, check=True, capture_output=True, timeout=300)
    assert main(["integrated.expt", "integrated.refl", *options, "mtz.hklout=ours.mtz"]) == 0
    a, b = gemmi.read_mtz_file("ours.mtz"), gemmi.read_mtz_file("dials.mtz")
    assert a.column_labels() == b.column_labels() and "IPR" not in a.column_labels()
    assert a.nreflections == b.nreflections > 0
    for m in (a, b):
        m.switch_to_original_hkl()
    rows = [np.array(m, copy=True) for m in (a, b)]
    rows = [r[np.lexsort((r[:, 4], r[:, 2], r[:, 1], r[:, 0]))] for r in rows]
    keep = [i for i in range(rows[0].shape[1]) if i != 3]  # M/ISYM: operator order differs (see test_mtz)
    assert np.allclose(rows[0][:, keep], rows[1][:, keep], rtol=2e-7, atol=0)


SCRIPT = """
import json, sys
from iotbx import mtz
m = mtz.object(sys.argv[1])
print(json.dumps({
    "labels": list(m.column_labels()),
    "types": list(m.column_types()),
    "n_batches": m.n_batches(),
    "batches": [b.num() for b in m.batches()],
    "space_group": m.space_group().type().number(),
    "n_refl": m.n_reflections(),
    "crystals": [c.name() for c in m.crystals()],
    "hkl": [list(h) for h in m.extract_original_index_miller_indices()],
}))
"""


def test_iotbx_reads_our_mtz(tmp_path, lcys):
    if not CCTBX_PYTHON.exists():
        pytest.skip("no .venv-cctbx (python3 -m venv .venv-cctbx && .venv-cctbx/bin/pip install cctbx-base)")
    from braggflow.algorithms.export import ExportParams, export_mtz, write_mtz

    experiments, table = lcys
    result = export_mtz(experiments, table, ExportParams())
    write_mtz(result, tmp_path / "ours.mtz")
    proc = subprocess.run([str(CCTBX_PYTHON), "-c", SCRIPT, str(tmp_path / "ours.mtz")],
                          capture_output=True, text=True, timeout=120, check=True)
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["labels"] == [c.label.replace("M/ISYM", "M_ISYM") for c in result.columns]  # iotbx's name
    assert "".join(info["types"]) == "".join(c.type for c in result.columns)
    assert info["n_batches"] == 15 and info["batches"] == list(range(1, 16))
    assert info["space_group"] == 19 and info["n_refl"] == 19 and info["crystals"] == ["HKL_base", "XTAL"]  # the CCP4 library adds HKL_base on read (DIALS' file too)
    assert sorted(map(tuple, info["hkl"])) == sorted(map(tuple, result.miller_indices.tolist()))
