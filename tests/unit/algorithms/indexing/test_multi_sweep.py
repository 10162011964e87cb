"""Several sweeps of one crystal indexed jointly into one shared crystal model (issue #6).

Measured: two 30-degree sweeps of a P1 41/53/67 A crystal, the second with kappa 40 / phi 30
and starting at 90 degrees (seed 7, 1500 spots + 20 spurious each): cell error 1.5e-4,
misorientation 0.006 deg, 3009 of 3040 spots indexed, 0.31/0.29 px, 0.20 images. Each sweep on
its own (joint_indexing=False): 4.1e-4 / 0.011 deg and 2.4e-4 / 0.017 deg. Three 20-degree
wedges (P4 47/79 A, seed 12) through the CLI: 1.1e-4 / 0.007 deg; DIALS 3.12 dials.index on
the same files: 1.6e-4 / 0.008 deg with identical per-experiment counts (1201/1204/1202).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess

import numpy as np
import pytest
from rich.console import Console

from braggflow.algorithms.indexing import IndexingParams, index
from braggflow.algorithms.indexing.params import FFT3DParams, ReciprocalSpaceGridParams
from braggflow.formats.expt_io import read_experiments
from braggflow.formats.refl_io import read_refl
from braggflow.model import ExperimentList, ImageSetRef

from indexing_synthetic import cell_errors, random_crystal
from multi_synthetic import kappa_sweep, multi_sweep_spots, wedge_sweep, write_inputs

FAST = IndexingParams(fft3d=FFT3DParams(reciprocal_space_grid=ReciprocalSpaceGridParams(n_points=128)))
TRICLINIC = (41.0, 53.0, 67.0, 82.0, 95.0, 101.0)


def _kappa_pair(rng):
    truth = random_crystal(TRICLINIC, "P 1", rng)
    sweeps = [kappa_sweep(n_images=30), kappa_sweep(n_images=30, start_deg=90.0, kappa_deg=40.0, phi_deg=30.0)]
    return truth, sweeps, multi_sweep_spots(sweeps, truth, 2.0, rng, n_spurious=20, max_spots=1500)


def test_two_sweeps_with_kappa_offset_share_one_crystal():
    rng = np.random.default_rng(7)
    truth, sweeps, refl = _kappa_pair(rng)
    res = index(ExperimentList(sweeps), refl, FAST)
    assert len(res.experiments) == 2 and res.n_lattices == 1
    assert res.experiments[0].crystal is res.experiments[1].crystal  # one model, written once
    err, angle = cell_errors(res.experiments[0].crystal, truth)
    assert err < 1e-3 and angle < 0.05
    ids, iset = np.asarray(res.reflections["id"]), np.asarray(res.reflections["imageset_id"])
    assert np.array_equal(ids[ids >= 0], iset[ids >= 0])  # experiment j = sweep j
    for j in range(2):  # both sweeps are indexed, not just the first
        assert np.count_nonzero(ids == j) > 0.95 * np.count_nonzero(iset == j) - 20
    # the spots of sweep 2 are only consistent with the shared model through its own F
    for j, e in enumerate(res.experiments):
        assert e.goniometer is not None and np.allclose(e.goniometer.fixed_rotation, sweeps[j].goniometer.fixed_rotation)


def test_joint_indexing_false_gives_one_crystal_per_sweep():
    rng = np.random.default_rng(7)
    truth, sweeps, refl = _kappa_pair(rng)
    res = index(ExperimentList(sweeps), refl, dataclasses.replace(FAST, joint_indexing=False))
    assert len(res.experiments) == 2 and res.experiments[0].crystal is not res.experiments[1].crystal
    for e in res.experiments:
        err, angle = cell_errors(e.crystal, truth)
        assert err < 3e-3 and angle < 0.1
    ids, iset = np.asarray(res.reflections["id"]), np.asarray(res.reflections["imageset_id"])
    assert set(np.unique(ids[ids >= 0])) == {0, 1} and np.array_equal(ids[ids >= 0], iset[ids >= 0])
    assert "Indexing sweep 1 on its own (joint_indexing=False)" in res.log


def _cli(args, cwd):
    from braggflow.pipeline.command import run_program
    from braggflow.pipeline.programs.index import PROGRAM

    old = os.getcwd()
    os.chdir(cwd)
    try:
        buf = io.StringIO()
        code = run_program(PROGRAM, [str(a) for a in args], console=Console(file=buf, width=120, color_system=None))
    finally:
        os.chdir(old)
    return code, buf.getvalue()


@pytest.fixture(scope="module")
def three_wedges(tmp_path_factory):
    """braggflow.index on three 20-degree wedges of one mount (shared beam, detector and
    goniometer) starting at 0, 90 and 200 degrees; returns (truth, run folder, exit code, output)."""
    rng = np.random.default_rng(12)
    truth = random_crystal((47.0, 47.0, 79.0, 90.0, 90.0, 90.0), "P 4", rng)
    first = wedge_sweep(n_images=20)
    sweeps = [first, wedge_sweep(n_images=20, start_deg=90.0, like=first),
              wedge_sweep(n_images=20, start_deg=200.0, like=first)]
    sweeps = [s.replace(imageset=ImageSetRef(template=f"/nonexistent/sweep{j}_####.cbf")) for j, s in enumerate(sweeps)]
    refl = multi_sweep_spots(sweeps, truth, 2.0, rng, n_spurious=10, max_spots=1200)
    tmp = tmp_path_factory.mktemp("three_wedges")
    expt, strong = write_inputs(tmp, sweeps, refl)
    code, out = _cli([expt, strong, "indexing.fft3d.reciprocal_space_grid.n_points=128"], tmp)
    return truth, tmp, code, out


def test_cli_indexes_three_wedges_into_one_crystal(three_wedges):
    truth, tmp, code, out = three_wedges
    assert code == 0, out
    el = read_experiments(tmp / "indexed.expt")
    assert len(el) == 3 and all(e.crystal is el[0].crystal for e in el)  # one crystal entry in the file
    assert len(json.loads((tmp / "indexed.expt").read_text())["crystal"]) == 1
    err, angle = cell_errors(el[0].crystal, truth)
    assert err < 1e-3 and angle < 0.05
    table = read_refl(tmp / "indexed.refl")
    ids = np.asarray(table["id"])
    assert set(np.unique(ids)) <= {-1, 0, 1, 2} and np.all(np.bincount(ids[ids >= 0]) > 0.9 * 1200)
    assert table.experiment_identifiers == {i: e.identifier for i, e in enumerate(el)}
    assert "Indexed crystal models:" in out


def test_dials_refine_accepts_multi_sweep_output(three_wedges, dials_available):
    truth, tmp, code, out = three_wedges
    assert code == 0, out
    proc = subprocess.run(["/usr/bin/dials.refine", "indexed.expt", "indexed.refl", "scan_varying=False",
                           "output.experiments=dials_refined.expt", "output.reflections=dials_refined.refl"],
                          cwd=tmp, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/root"})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    el = read_experiments(tmp / "dials_refined.expt")
    assert len(el) == 3 and all(e.crystal is el[0].crystal for e in el)
    assert cell_errors(el[0].crystal, truth)[0] < 1e-3


def test_cli_prints_the_refinement_tables_and_flags_refinement_use(three_wedges):
    from braggflow.formats.refl_io import read_refl
    from braggflow.model.reflections import Flags

    _, tmp, code, out = three_wedges
    assert code == 0, out
    for title in ("Summary statistics for observations matched to predictions", "Refinement steps",
                  "RMSDs by experiment", "Refinement (macro-cycle 1"):
        assert title in out
    t = read_refl(tmp / "indexed.refl")
    used, outlier = t.get_flags(Flags.used_in_refinement), t.get_flags(Flags.centroid_outlier)
    indexed = t.get_flags(Flags.indexed)
    assert used.sum() > 0.5 * indexed.sum() and not np.any(used & outlier) and not np.any((used | outlier) & ~indexed)
