"""Two crystals in one sweep: multiple_lattice_search.max_lattices (issue #6).

Measured (seed 3, two P222 45/58/71 A crystals at random orientations, 3000 + 2000 spots,
45 images): lattice 1 cell error 8e-5, misorientation 0.009 deg; lattice 2 1.1e-4, 0.009 deg;
2993 + 1990 spots assigned to their own lattice, 13 to the other one, 4 unindexed. DIALS 3.12
dials.index max_lattices=2 on the same spots: 1.9e-4 / 0.007 deg and 2.1e-4 / 0.006 deg with
the same counts (3000 / 1996 / 4 unindexed); dials.refine on braggflow's indexed files:
0.28/0.29 px, 0.19 images for both experiments.
"""

from __future__ import annotations

import dataclasses
import subprocess

import numpy as np
import pytest

from braggflow.algorithms.indexing import IndexingParams, index
from braggflow.algorithms.indexing.candidates import misorientation_deg
from braggflow.algorithms.indexing.params import (
    FFT3DParams, MultipleLatticeSearchParams, ReciprocalSpaceGridParams)
from braggflow.formats.expt_io import read_experiments, write_experiments
from braggflow.formats.refl_io import write_refl
from braggflow.model import ExperimentList, ImageSetRef
from braggflow.model.reflections import ReflectionTable

from indexing_synthetic import cell_errors, make_sweep, random_crystal, simulate_spots
from multi_synthetic import two_lattice_spots, wedge_sweep

FAST = IndexingParams(fft3d=FFT3DParams(reciprocal_space_grid=ReciprocalSpaceGridParams(n_points=128)))


def _params(max_lattices: int) -> IndexingParams:
    return dataclasses.replace(FAST, multiple_lattice_search=MultipleLatticeSearchParams(max_lattices=max_lattices))


@pytest.fixture(scope="module")
def two_crystals():
    rng = np.random.default_rng(3)
    truths = [random_crystal((45.0, 58.0, 71.0, 90, 90, 90), "P 2 2 2", rng) for _ in range(2)]
    sweep = make_sweep(n_images=45).replace(imageset=ImageSetRef(template="/nonexistent/two_lattices_####.cbf"))
    refl, lattice = two_lattice_spots(sweep, truths, 2.0, rng, [3000, 2000])
    return sweep, truths, refl, lattice


@pytest.fixture(scope="module")
def two_lattice_result(two_crystals):
    sweep, _, refl, _ = two_crystals
    return index(ExperimentList([sweep]), refl, _params(2))


def test_two_lattices_found_and_spots_assigned(two_crystals, two_lattice_result):
    sweep, truths, refl, lattice = two_crystals
    assert misorientation_deg(truths[0].A, truths[1].A) > 5.0
    res = two_lattice_result
    assert res.n_lattices == 2 and len(res.experiments) == 2
    assert res.experiments[0].crystal is not res.experiments[1].crystal
    ids = np.asarray(res.reflections["id"])
    for k in range(2):  # lattice k of the result is truth k (the stronger one is found first)
        err, angle = cell_errors(res.experiments[k].crystal, truths[k])
        assert err < 1e-3 and angle < 0.05, (k, err, angle)
        mine = lattice == k
        assert np.count_nonzero(ids[mine] == k) > 0.97 * np.count_nonzero(mine)
        assert np.count_nonzero(ids[~mine] == k) < 0.01 * np.count_nonzero(~mine)
    assert res.reflections.experiment_identifiers == {i: e.identifier for i, e in enumerate(res.experiments)}
    assert sum("Found lattice" in line for line in res.log) == 2
    assert len(res.rmsds) == 2 and all(r[0] < 1.0 and r[1] < 1.0 for r in res.rmsds)


def test_max_lattices_1_finds_the_stronger_lattice(two_crystals):
    sweep, truths, refl, lattice = two_crystals
    res = index(ExperimentList([sweep]), refl, _params(1))
    assert res.n_lattices == 1 and len(res.experiments) == 1
    err, angle = cell_errors(res.experiments[0].crystal, truths[0])
    assert err < 1e-3 and angle < 0.05
    ids = np.asarray(res.reflections["id"])
    assert np.count_nonzero(ids[lattice == 0] == 0) > 0.97 * np.count_nonzero(lattice == 0)
    assert not any("Found lattice" in line for line in res.log)


def test_single_lattice_with_max_lattices_2_stops_searching():
    rng = np.random.default_rng(4)
    truth = random_crystal((45.0, 58.0, 71.0, 90, 90, 90), "P 2 2 2", rng)
    sweep = make_sweep(n_images=30)
    refl, _ = two_lattice_spots(sweep, [truth], 2.0, rng, [1500])
    res = index(ExperimentList([sweep]), refl, _params(2))
    assert res.n_lattices == 1
    assert any(line.startswith("Finish searching for more lattices") for line in res.log)


def test_dials_refine_accepts_two_lattice_output(two_crystals, two_lattice_result, tmp_path, dials_available):
    _, truths, _, _ = two_crystals
    write_experiments(two_lattice_result.experiments, tmp_path / "indexed.expt")
    write_refl(two_lattice_result.reflections, tmp_path / "indexed.refl")
    proc = subprocess.run(["/usr/bin/dials.refine", "indexed.expt", "indexed.refl", "scan_varying=False"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/root"})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    el = read_experiments(tmp_path / "refined.expt")
    assert len(el) == 2 and el[0].crystal is not el[1].crystal
    for k in range(2):
        assert cell_errors(el[k].crystal, truths[k])[0] < 1e-3
    assert "|     1 |" in proc.stdout  # RMSDs reported for experiment 1 (the second lattice)


def test_two_sweeps_two_lattices_bookkeeping():
    """dials #1821: lattices are counted as crystals (not experiments); experiment id =
    lattice * n_sweeps + sweep, each lattice's crystal shared by both sweeps."""
    rng = np.random.default_rng(5)
    truths = [random_crystal((45.0, 58.0, 71.0, 90, 90, 90), "P 2 2 2", rng) for _ in range(2)]
    first = wedge_sweep(n_images=30)
    sweeps = [first, wedge_sweep(n_images=30, start_deg=120.0, like=first)]
    tables, lattice = [], []
    for j, sweep in enumerate(sweeps):
        for k, n in enumerate([1000, 700]):
            t = simulate_spots(sweep, truths[k], 2.0, rng, max_spots=n, experiment_id=j)
            tables.append(t)
            lattice.append(np.full(len(t), k))
    refl = ReflectionTable.concatenate(tables)
    lattice = np.concatenate(lattice)
    res = index(ExperimentList(sweeps), refl, _params(2))
    assert res.n_lattices == 2 and len(res.experiments) == 4
    el = res.experiments
    assert el[0].crystal is el[1].crystal and el[2].crystal is el[3].crystal and el[0].crystal is not el[2].crystal
    ids, iset = np.asarray(res.reflections["id"]), np.asarray(res.reflections["imageset_id"])
    for i in range(4):
        k, j = divmod(i, 2)
        err, angle = cell_errors(el[i].crystal, truths[k])
        assert err < 1e-3 and angle < 0.05
        assert np.all(iset[ids == i] == j)
        assert np.count_nonzero(ids == i) > 0.97 * np.count_nonzero((lattice == k) & (iset == j))
