"""The find_spots driver on synthetic sweeps: recovery, block/nproc invariance, rejection."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.special import erf

from braggflow.algorithms.spotfinding import (
    ArrayReader,
    FilterParams,
    MpParams,
    SpotFinderParams,
    find_spots,
    resolve_auto,
)
from braggflow.errors import ParameterError

NZ, NY, NX = 12, 90, 100


def _cell_integral(lo, centre, sigma):
    a = (lo - centre) / (np.sqrt(2) * sigma)
    b = (lo + 1 - centre) / (np.sqrt(2) * sigma)
    return 0.5 * (erf(b) - erf(a))


def synthetic_sweep(seed=11, n_spots=30, background=1.5, gap=True):
    """Gaussian spots (pixel-integrated) on Poisson background, with a module gap."""
    rng = np.random.default_rng(seed)
    truth = []
    while len(truth) < n_spots:  # well separated, so no two spots merge
        t = rng.uniform((8, 8, 2.0), (NX - 8, NY - 8, NZ - 2.0))
        if all(np.abs(t[:2] - u[:2]).max() > 9 or abs(t[2] - u[2]) > 5 for u in truth):
            truth.append(t)
    truth = np.array(truth)
    total = rng.uniform(800, 3000, n_spots)
    mu = np.full((NZ, NY, NX), background)
    grid = [np.arange(n, dtype=float) for n in (NZ, NY, NX)]
    for (x, y, z), amp in zip(truth, total):
        pz = _cell_integral(grid[0], z, 0.6)
        py = _cell_integral(grid[1], y, 1.0)
        px = _cell_integral(grid[2], x, 1.0)
        mu += amp * pz[:, None, None] * py[None, :, None] * px[None, None, :]
    frames = rng.poisson(mu).astype(np.int32)
    if gap:
        frames[:, :, 50:53] = -1
    return frames, truth, total


@pytest.fixture(scope="module")
def sweep():
    return synthetic_sweep()


def _params(**filter_kw):
    base = SpotFinderParams(filter=FilterParams(**filter_kw))
    return resolve_auto(base, photon_counting=True, cpu_count=1)


def test_every_bright_spot_found_with_accurate_centroid(sweep):
    frames, truth, total = sweep
    reader = ArrayReader([(f,) for f in frames], first_image=1)
    result = find_spots(reader, _params())
    xyz = result.columns["xyzobs.px.value"]
    away_from_gap = np.abs(truth[:, 0] - 51.5) > 6
    i_over_sigma = total / np.sqrt(total + 1.5 * 50)
    wanted = away_from_gap & (i_over_sigma > 5)
    assert wanted.sum() > 20
    for t in truth[wanted]:
        dist = np.linalg.norm(xyz[:, :2] - t[:2], axis=1)
        j = dist.argmin()
        assert dist[j] < 0.1, (t, xyz[j])
        assert abs(xyz[j, 2] - t[2]) < 0.2
    assert len(result) <= len(truth) + 2  # no flood of false spots


def test_columns_follow_the_dials_contract(sweep):
    frames, _, _ = sweep
    reader = ArrayReader([(f,) for f in frames], first_image=101)
    result = find_spots(reader, _params())
    c = result.columns
    n = len(result)
    expected = {
        "bbox": (np.int32, (n, 6)), "flags": (np.uint64, (n,)), "id": (np.int32, (n,)),
        "intensity.sum.value": (np.float64, (n,)), "intensity.sum.variance": (np.float64, (n,)),
        "n_signal": (np.int32, (n,)), "panel": (np.uint64, (n,)),
        "xyzobs.px.value": (np.float64, (n, 3)), "xyzobs.px.variance": (np.float64, (n, 3)),
    }
    assert set(c) == set(expected)
    for name, (dtype, shape) in expected.items():
        assert c[name].dtype == dtype and c[name].shape == shape, name
    assert np.all(c["flags"] == 32)
    # image_range starts at 101 -> z lies in [100, 112)
    assert c["xyzobs.px.value"][:, 2].min() >= 100 and c["bbox"][:, 4].min() >= 100
    assert c["bbox"][:, 5].max() <= 112
    assert np.all((c["bbox"][:, 4] <= c["xyzobs.px.value"][:, 2] - 0.5 + 1e-9))
    assert result.image_numbers.tolist() == list(range(101, 113))
    assert result.spots_per_image.sum() == n
    assert result.n_strong_pixels == result.strong_pixels_per_image.sum()
    assert result.counts.n_after_separation == n


def _same(a, b):
    assert a.columns.keys() == b.columns.keys()
    for k in a.columns:
        assert np.array_equal(a.columns[k], b.columns[k]), k
    assert a.counts == b.counts
    assert np.array_equal(a.strong_pixels_per_image, b.strong_pixels_per_image)


@pytest.mark.parametrize("chunk", [1, 2, 5])
def test_block_splits_give_identical_tables(sweep, chunk):
    frames, _, _ = sweep
    reader = ArrayReader([(f,) for f in frames])
    one = find_spots(reader, _params(), nproc=1)
    p = dataclasses.replace(_params(), mp=MpParams(chunksize=chunk))
    assert np.any(one.columns["bbox"][:, 5] - one.columns["bbox"][:, 4] > 1)  # spans images
    _same(one, find_spots(reader, p, nproc=1))


def test_two_processes_give_identical_table_and_report_progress(sweep):
    frames, _, _ = sweep
    reader = ArrayReader([(f,) for f in frames])
    one = find_spots(reader, dataclasses.replace(_params(), mp=MpParams(chunksize=NZ)))
    done = []
    two = find_spots(reader, dataclasses.replace(_params(), mp=MpParams(chunksize=3)),
                     nproc=2, progress=done.append)
    _same(one, two)
    assert done == [3, 6, 9, 12]


def test_multi_panel_spots_carry_panel_index(sweep):
    frames, _, _ = sweep
    reader = ArrayReader([(f[:, :50], f[:, 53:]) for f in frames])
    result = find_spots(reader, _params())
    panel = result.columns["panel"]
    assert set(panel.tolist()) == {0, 1}
    assert np.all(np.diff(panel.astype(np.int64)) >= 0)
    assert result.columns["xyzobs.px.value"][panel == 1, 0].max() < 47


def test_force_2d_splits_spots_per_image(sweep):
    frames, _, _ = sweep
    reader = ArrayReader([(f,) for f in frames])
    p3 = _params()
    p2 = dataclasses.replace(p3, force_2d=True)
    r3, r2 = find_spots(reader, p3), find_spots(reader, p2)
    assert np.all(r2.columns["bbox"][:, 5] - r2.columns["bbox"][:, 4] == 1)
    assert r2.counts.n_extracted > r3.counts.n_extracted


def test_image_with_too_many_strong_pixels_is_dropped_with_warning(sweep):
    frames, _, _ = sweep
    frames = frames.copy()
    frames[4, ::4, ::4] = 400  # a grid of hot pixels on image 5
    reader = ArrayReader([(f,) for f in frames])
    p = dataclasses.replace(_params(max_strong_pixel_fraction=0.04))
    result = find_spots(reader, p)
    assert result.rejected_images == (5,)
    assert "image 5" in result.warnings[0]
    assert result.strong_pixels_per_image[4] > 0.04 * NY * NX
    z = result.columns["bbox"][:, 4:6]
    assert not np.any((z[:, 0] <= 4) & (z[:, 1] > 4))


def test_scan_range_limits_images_and_separates_ranges(sweep):
    frames, _, _ = sweep
    reader = ArrayReader([(f,) for f in frames])
    result = find_spots(reader, _params(), scan_range=[(1, 4), (5, 12)])
    assert result.image_numbers.tolist() == list(range(1, 13))
    bbox = result.columns["bbox"]
    assert not np.any((bbox[:, 4] < 4) & (bbox[:, 5] > 4))
    part = find_spots(reader, _params(), scan_range=[(3, 6)])
    assert part.image_numbers.tolist() == [3, 4, 5, 6]
    assert np.all((part.columns["bbox"][:, 4] >= 2) & (part.columns["bbox"][:, 5] <= 6))
    with pytest.raises(ParameterError, match="scan_range"):
        find_spots(reader, _params(), scan_range=[(0, 4)])


def test_find_spots_rejects_unresolved_auto(sweep):
    frames, _, _ = sweep
    reader = ArrayReader([(f,) for f in frames[:2]])
    with pytest.raises(ParameterError, match="min_spot_size"):
        find_spots(reader, SpotFinderParams())
    assert resolve_auto(SpotFinderParams(), photon_counting=False, cpu_count=4).filter.min_spot_size == 6


def test_region_of_interest_keeps_only_spots_inside_with_full_image_coordinates(sweep):
    frames, _, _ = sweep
    reader = ArrayReader([(f,) for f in frames])
    full = find_spots(reader, _params())
    roi = (10, 60, 20, 80)  # x0, x1, y0, y1
    part = find_spots(reader, dataclasses.replace(_params(), region_of_interest=roi))
    bbox = full.columns["bbox"]
    # windows reach 5 px (11 x 11 background) beyond a pixel: compare spots 10 px inside
    inside = (bbox[:, 0] >= 20) & (bbox[:, 1] <= 50) & (bbox[:, 2] >= 30) & (bbox[:, 3] <= 70)
    assert inside.sum() >= 2
    got = {tuple(b) for b in part.columns["bbox"]}
    assert {tuple(b) for b in bbox[inside]} <= got
    pb = part.columns["bbox"]
    assert np.all((pb[:, 0] >= 10) & (pb[:, 1] <= 60) & (pb[:, 2] >= 20) & (pb[:, 3] <= 80))
