"""braggflow.process on the simulated demo sweep, end to end, against the simulation truth.

One full run per session (module fixture) plus one process.force=True rerun; the other tests
reuse the work folder: a resumed run, dry runs and bad input are cheap. Measured: about 50 s
for the module on the shared 2-core machine (the demo process run itself 20-40 s).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import gemmi
import numpy as np
import pytest

from braggflow.formats.expt_io import read_experiments
from braggflow.validation import compare_crystal, compare_files

PROCESS = [sys.executable, "-m", "braggflow.pipeline.programs.process"]
STAGES = ["import", "find_spots", "index", "refine_bravais_settings", "reindex", "refine", "integrate", "export",
          "symmetry", "scale", "merge", "report"]
OUTPUTS = ["imported.expt", "strong.refl", "indexed.expt", "indexed.refl", "bravais_summary.json", "reindexed.refl",
           "refined.expt", "refined.refl", "integrated.expt", "integrated.refl", "integrated.mtz",
           "symmetrized.expt", "symmetrized.refl", "scaled.expt", "scaled.refl", "merged.mtz", "braggflow.report.html"]
N_IMAGES = 25


def run(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.monotonic()
    proc = subprocess.run(PROCESS + args, cwd=cwd, capture_output=True, text=True, timeout=600)
    return proc, time.monotonic() - t0


def snapshot(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("process_demo")
    work = base / "work"
    proc, seconds = run(["demo=True", f"process.directory={work}"], base)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {"base": base, "work": work, "seconds": seconds, "stdout": proc.stdout}


@pytest.fixture(scope="module")
def truth(demo: dict) -> Path:
    return demo["work"] / "demo_images"


def test_every_stage_wrote_its_outputs(demo: dict) -> None:
    work = demo["work"]
    missing = [name for name in OUTPUTS if not (work / name).is_file() or (work / name).stat().st_size == 0]
    assert not missing, f"missing or empty outputs: {missing}"
    manifest = json.loads((work / "braggflow.process.manifest.json").read_text())
    assert sorted(manifest["stages"]) == sorted(STAGES)
    assert len(sorted((work / "demo_images").glob("image_*.cbf"))) == N_IMAGES


@pytest.mark.parametrize("name", ["refined.expt", "integrated.expt"])
def test_crystal_matches_truth(demo: dict, truth: Path, name: str) -> None:
    true_crystal = read_experiments(truth / "truth.expt")[0].crystal
    crystal = read_experiments(demo["work"] / name)[0].crystal
    cmp = compare_crystal(true_crystal, crystal)
    assert cmp.M_residual < 0.01
    assert cmp.max_cell_error_pct < 0.1, cmp.cell
    assert max(abs(e) for e in cmp.angle_error_deg) < 0.05, cmp.cell
    assert cmp.misorientation_deg < 0.05
    assert cmp.misorientation_max_deg < 0.05
    assert crystal.space_group.number in (75, 89, 92, 95, 96)  # P4 (integration setting) or a P4xx


def test_intensities_correlate_with_truth(demo: dict, truth: Path) -> None:
    work = demo["work"]
    result = compare_files(truth, work / "integrated.expt", work / "integrated.refl")
    assert result.n_matched > 0.9 * result.n_rows
    assert result.n_sum > 9000 and result.n_prf > 9000
    for method in ("sum", "prf"):
        stats = result.methods[method]
        assert stats.n_strong > 3000
        assert stats.cc_strong > 0.99, (method, stats.cc_strong)
        assert stats.cc > 0.99, (method, stats.cc)
        assert 0.98 < stats.median_ratio < 1.02, (method, stats.median_ratio)
        assert 0.7 < stats.residuals.robust_sd < 1.5, (method, stats.residuals)  # honest sigmas


def test_mtz_batches_and_columns(demo: dict) -> None:
    mtz = gemmi.read_mtz_file(str(demo["work"] / "integrated.mtz"))
    labels = [c.label for c in mtz.columns]
    assert labels[:5] == ["H", "K", "L", "M/ISYM", "BATCH"]
    for label in ("IPR", "SIGIPR", "I", "SIGI", "BG", "SIGBG", "FRACTIONCALC", "XDET", "YDET", "ROT", "LP", "QE"):
        assert label in labels
    assert [b.number for b in mtz.batches] == list(range(1, N_IMAGES + 1))
    batch = np.asarray(mtz.column_with_label("BATCH"), dtype=int)
    assert batch.min() >= 1 and batch.max() <= N_IMAGES
    assert mtz.nreflections > 9000
    assert mtz.spacegroup.number == 75
    merged = gemmi.read_mtz_file(str(demo["work"] / "merged.mtz"))
    assert merged.nreflections > 3000


def test_second_run_is_up_to_date(demo: dict) -> None:
    work = demo["work"]
    before = snapshot(work)
    proc, seconds = run(["demo=True", f"process.directory={work}"], demo["base"])
    assert proc.returncode == 0, proc.stderr
    for stage in STAGES:
        assert f"[{stage}] up to date" in proc.stdout, stage
    changed = [k for k, v in snapshot(work).items() if before.get(k) != v]
    assert not changed, f"a resumed run rewrote {changed}"
    assert seconds < 0.3 * demo["seconds"], (seconds, demo["seconds"])


def test_force_plans_every_stage(demo: dict) -> None:
    """process.force=True marks every stage to run (checked in the plan, without the ~60 s rerun)."""
    work = demo["work"]
    before = snapshot(work)
    proc, _ = run(["demo=True", f"process.directory={work}", "process.force=True", "dry_run=True"], demo["base"])
    assert proc.returncode == 0, proc.stderr
    assert "up to date" not in proc.stdout
    assert proc.stdout.count("to run") >= len(STAGES) - 2  # reindex/refine say "after Bravais search"
    assert snapshot(work) == before


def test_force_reruns_every_stage(demo: dict) -> None:
    work = demo["work"]
    before = snapshot(work)
    proc, _ = run(["demo=True", f"process.directory={work}", "process.force=True"], demo["base"])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "up to date:" not in proc.stdout
    after = snapshot(work)
    for stage, output in (("find_spots", "strong.refl"), ("integrate", "integrated.refl"), ("merge", "merged.mtz")):
        assert f"braggflow.{stage} " in proc.stdout, stage
        assert after[output] != before[output], f"{output} was not rewritten"
    assert after["demo_images/image_00001.cbf"] == before["demo_images/image_00001.cbf"]  # demo data reused


def test_dry_run_prints_plan_and_writes_nothing(demo: dict, tmp_path: Path) -> None:
    images = sorted(str(p) for p in (demo["work"] / "demo_images").glob("image_*.cbf"))
    fresh = tmp_path / "fresh"
    proc, _ = run([*images, f"process.directory={fresh}", "dry_run=True"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    for stage in ("import", "find_spots", "index", "integrate", "export"):
        assert stage in proc.stdout
    assert "dry_run=True" in proc.stdout
    assert not fresh.exists() or not any(fresh.iterdir())


def _one_line_error(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr


def test_no_images_is_one_line_error(tmp_path: Path) -> None:
    proc, _ = run([f"process.directory={tmp_path / 'w'}"], tmp_path)
    _one_line_error(proc)


def test_missing_image_is_one_line_error(demo: dict, tmp_path: Path) -> None:
    images = sorted(str(p) for p in (demo["work"] / "demo_images").glob("image_*.cbf"))
    proc, _ = run([*images[:3], str(tmp_path / "image_00004.cbf"), f"process.directory={tmp_path / 'w'}"], tmp_path)
    _one_line_error(proc)
