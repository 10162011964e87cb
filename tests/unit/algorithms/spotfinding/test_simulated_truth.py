"""find_spots against the truth of the real simulator (preset small_256, read back from CBF).

Every fully recorded, isolated true spot above I/sigma 5 must be found, and strong spots
(I/sigma > 20) must have centroids within 0.1 px of the true position in x and y.
"""

from __future__ import annotations

import numpy as np
import pytest

from braggflow.algorithms.simulate.presets import preset
from braggflow.algorithms.spotfinding import SpotFinderParams, find_spots, resolve_auto
from braggflow.formats.expt_io import read_experiments
from braggflow.formats.imageset import open_imageset
from braggflow.pipeline.programs.simulate import simulate_to_directory


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small_256")
    sim, _ = simulate_to_directory(preset("small_256"), folder)
    sequence = open_imageset(read_experiments(str(folder / "truth.expt"))[0])
    params = resolve_auto(SpotFinderParams(), photon_counting=True, cpu_count=1)
    return sim, find_spots(sequence, params)


def _truth(sim):
    """Per true spot: x, y, z (px, frames), expected counts, I/sigma, fully recorded, isolated."""
    r = sim.reflections
    xyz = np.asarray(r.xyzcal_px, dtype=float)
    counts = np.asarray(r.counts, dtype=float)
    frames = np.bincount(r.partial_refl, minlength=len(counts))
    ny, nx = sim.backgrounds[0].shape
    ix = np.clip(xyz[:, 0].astype(int), 0, nx - 1)
    iy = np.clip(xyz[:, 1].astype(int), 0, ny - 1)
    background = sim.backgrounds[0][iy, ix]
    i_over_sigma = counts / np.sqrt(counts + 25.0 * np.maximum(frames, 1) * background)
    full = np.asarray(r.partiality) > 0.999
    inside = (xyz[:, 0] > 6) & (xyz[:, 0] < nx - 6) & (xyz[:, 1] > 6) & (xyz[:, 1] < ny - 6)
    dxy = np.hypot(xyz[:, None, 0] - xyz[None, :, 0], xyz[:, None, 1] - xyz[None, :, 1])
    dz = np.abs(xyz[:, None, 2] - xyz[None, :, 2])
    near = (dxy < 8) & (dz < 4)
    np.fill_diagonal(near, False)
    isolated = ~near.any(axis=1)
    return xyz, i_over_sigma, full & inside & isolated


def _nearest(observed, xyz):
    d = np.hypot(observed[:, None, 0] - xyz[None, :, 0], observed[:, None, 1] - xyz[None, :, 1])
    d = np.where(np.abs(observed[:, None, 2] - xyz[None, :, 2]) < 2.0, d, np.inf)
    j = d.argmin(axis=0)
    return j, d[j, np.arange(xyz.shape[0])]


def test_every_true_spot_above_i_over_sigma_5_is_found(simulated):
    sim, result = simulated
    xyz, i_over_sigma, usable = _truth(sim)
    wanted = usable & (i_over_sigma > 5)
    assert wanted.sum() >= 20
    _, dist = _nearest(result.columns["xyzobs.px.value"], xyz[wanted])
    missing = xyz[wanted][dist > 1.0]
    assert missing.size == 0, f"{len(missing)} of {wanted.sum()} true spots not found: {missing[:5]}"


def test_strong_spot_centroids_within_a_tenth_of_a_pixel(simulated):
    sim, result = simulated
    xyz, i_over_sigma, usable = _truth(sim)
    strong = usable & (i_over_sigma > 20)
    assert strong.sum() >= 10
    observed = result.columns["xyzobs.px.value"]
    j, dist = _nearest(observed, xyz[strong])
    assert np.all(dist < 0.1), np.sort(dist)[-5:]
    assert np.all(np.abs(observed[j, 2] - xyz[strong, 2]) < 0.5)
