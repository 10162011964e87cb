"""Integration results do not depend on nproc or the block layout (issue #8), and the
parallel executor reads each frame about once."""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest

from braggflow.algorithms.integration import IntegrateParams, integrate
from braggflow.algorithms.integration import blocks
from braggflow.algorithms.integration.blocks import ShoeboxStore, _copy_slabs, _select, _two_sum_into, block_size_frames
from braggflow.algorithms.simulate.params import with_overrides
from braggflow.algorithms.simulate.presets import preset
from braggflow.formats.expt_io import read_experiments
from braggflow.formats.refl_io import read_refl
from braggflow.model.reflections import Flags, ReflectionTable
from braggflow.pipeline.programs.simulate import simulate_to_directory

COLUMNS = ("intensity.sum.value", "intensity.sum.variance", "intensity.prf.value", "intensity.prf.variance",
           "background.mean", "xyzobs.px.value", "profile.correlation", "flags", "num_pixels.background_used")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    d = tmp_path_factory.mktemp("sim_blocks")
    params = with_overrides(preset("small_256"), {"intensities.mean": 400.0, "scan.num_images": 12})
    simulate_to_directory(params, d)
    truth = read_refl(d / "truth.refl")
    strong = truth.select(truth["counts.expected"] > np.percentile(truth["counts.expected"], 40))
    indexed = ReflectionTable(
        {"miller_index": strong["miller_index"], "id": strong["id"], "xyzobs.px.value": strong["xyzcal.px"],
         "flags": np.full(len(strong), int(Flags.indexed | Flags.strong), np.uint64)},
        experiment_identifiers=truth.experiment_identifiers)
    return read_experiments(d / "truth.expt"), indexed


def _params(nproc: int, size: float | None) -> IntegrateParams:
    p = IntegrateParams()
    i = dataclasses.replace(p.integration, mp=dataclasses.replace(p.integration.mp, nproc=nproc))
    if size is not None:
        i = dataclasses.replace(i, block=dataclasses.replace(i.block, size=size, units="frames"))
    return dataclasses.replace(p, integration=i)


def _run(sweep, monkeypatch, nproc, size):  # type: ignore[no-untyped-def]
    """Integrate, recording every run_tasks call's mode, task count, frames read and joins."""
    calls = []
    original = blocks.run_tasks

    def recording(tasks, n, progress=None):  # type: ignore[no-untyped-def]
        res = original(tasks, n, progress)
        calls.append({"mode": tasks[0].mode, "tasks": len(tasks), "frames_read": sum(r["frames_read"] for r in res),
                      "joined": res[-1].get("joined", 0)})
        return res

    # the integration modules import run_tasks by name: patch it wherever it was imported
    for name, module in list(sys.modules.items()):
        if name.startswith("braggflow.algorithms.integration.") and getattr(module, "run_tasks", None) is original:
            monkeypatch.setattr(module, "run_tasks", recording)
    experiments, indexed = sweep
    return integrate(experiments, indexed, _params(nproc, size)), calls


@pytest.fixture(scope="module")
def baseline(sweep):
    return integrate(sweep[0], sweep[1], _params(1, None))


@pytest.mark.parametrize("nproc,size", [(2, None), (1, 3.0), (2, 2.0)])
def test_results_identical_for_any_nproc_and_block_size(sweep, baseline, monkeypatch, nproc, size):
    res, calls = _run(sweep, monkeypatch, nproc, size)
    a, b = baseline.reflections, res.reflections
    assert len(a) == len(b) and np.sum(a.get_flags(Flags.integrated_prf)) > 300
    for col in COLUMNS:
        np.testing.assert_array_equal(np.asarray(b[col]), np.asarray(a[col]), err_msg=col)
    assert res.profile_estimates[0].sigma_m_deg == baseline.profile_estimates[0].sigma_m_deg
    np.testing.assert_array_equal(res.reference_profiles[0].density, baseline.reference_profiles[0].density)
    main = calls[-1]
    assert main["mode"] == "integrate" and main["tasks"] > 1
    # several blocks: reflections deeper than the overlap were split and joined (the path tested)
    assert sum(c["joined"] for c in calls) > 0
    n_frames = sweep[0][0].scan.num_images
    assert main["frames_read"] <= n_frames + (main["tasks"] - 1) * 4


def test_two_sum_is_order_independent():
    rng = np.random.default_rng(1)
    parts = rng.normal(size=(200, 5)) * 10.0 ** rng.integers(-8, 8, size=(200, 1))
    totals = []
    for perm in (np.arange(200), rng.permutation(200), rng.permutation(200)):
        hi, lo = np.zeros(5), np.zeros(5)
        for k in perm:
            _two_sum_into(hi, lo, slice(None), parts[k])
        totals.append(hi + lo)
    assert np.array_equal(totals[0], totals[1]) and np.array_equal(totals[0], totals[2])
    assert not np.array_equal(parts.sum(axis=0), parts[::-1].sum(axis=0))  # plain sums do differ


def test_select_and_copy_slabs_of_a_ragged_store():
    bbox = np.array([[0, 2, 0, 1, 0, 1], [0, 1, 0, 3, 0, 1], [0, 1, 0, 1, 0, 2]], dtype=np.int32)
    s = ShoeboxStore.allocate(bbox)
    s.data[:] = np.arange(len(s.data))
    g = _select(s, np.array([2, 0, 1]))
    assert g.data.tolist() == [5, 6, 0, 1, 2, 3, 4] and g.offsets.tolist() == [0, 2, 4, 7]
    # the second frame of reflection 2 (a slab) goes one frame into its full shoebox
    slab = ShoeboxStore.allocate(np.array([[0, 1, 0, 1, 1, 2]], dtype=np.int32))
    slab.data[:] = 9
    _copy_slabs(slab, s, np.array([2]), np.array([1]))
    assert s.data[5:7].tolist() == [5, 9] and s.data[:5].tolist() == [0, 1, 2, 3, 4]


def test_auto_block_size():
    assert block_size_frames(None, "degrees", 0.1, 60, 6, 1)[0] == 60
    assert block_size_frames(None, "degrees", 0.1, 60, 6, 2)[0] == 30  # one block per thread: short scan
    assert block_size_frames(None, "degrees", 0.1, 240, 6, 2)[0] == 60  # 4 blocks: 3 x 6 <= 24 re-decoded
    assert block_size_frames(None, "degrees", 0.1, 900, 6, 2)[0] == 113  # 8 blocks
    assert block_size_frames(None, "degrees", 0.1, 400, 3, 2)[0] == 50
    assert block_size_frames(4.0, "frames", 0.1, 400, 3, 2)[0] == 4
