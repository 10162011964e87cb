"""Indexing with spurious ice-ring spots (synthetic sweeps; issue #6)."""

from __future__ import annotations

import numpy as np
import pytest

from braggflow.algorithms.indexing import IndexingParams, index
from braggflow.algorithms.indexing.max_cell import estimate_max_cell, in_ice_rings
from braggflow.algorithms.indexing.params import MaxCellEstimationParams
from braggflow.algorithms.indexing.reciprocal_space import map_to_reciprocal_space
from braggflow.algorithms.indexing.spots import Spots
from braggflow.model import ExperimentList

from indexing_synthetic import BRAVAIS, ICE_RING_D, cell_errors, ice_ring_spots, make_sweep, random_crystal, simulate_spots


def _case(bravais: str, a: float, ice_fraction: float, seed: int, d_min: float = 2.0, n_images: int = 30):
    rng = np.random.default_rng(seed)
    sg, cell_fn = BRAVAIS[bravais]
    truth = random_crystal(cell_fn(a, a, a), sg, rng)
    expt = make_sweep(n_images=n_images)
    refl = simulate_spots(expt, truth, d_min, rng, n_spurious=20, ice_fraction=ice_fraction)
    return expt, refl, truth


def test_ice_ring_spots_lie_on_ice_rings():
    expt = make_sweep(n_images=10)
    xyz = ice_ring_spots(expt, 500, np.random.default_rng(0))
    assert len(xyz) == 500  # every ring (d >= 1.72 A) is fully on this detector
    from braggflow.model.reflections import ReflectionTable

    n = len(xyz)
    t = ReflectionTable({"xyzobs.px.value": xyz, "xyzobs.px.variance": np.full((n, 3), 0.1),
                         "panel": np.zeros(n, dtype=np.uint64), "id": np.zeros(n, dtype=np.int32)})
    rlp = np.asarray(map_to_reciprocal_space([expt], t)["rlp"])
    d = 1.0 / np.linalg.norm(rlp, axis=1)
    assert np.mean(in_ice_rings(rlp)) > 0.99
    assert np.min(np.abs(d[:, None] - np.array(ICE_RING_D)[None, :]), axis=1).max() < 0.05
    assert np.ptp(xyz[:, 2]) > 8.0  # spread over the scan


def test_max_cell_estimate_ignores_ice_spots():
    expt, refl, truth = _case("tP", 60.0, 0.3, seed=3)
    spots = Spots.from_table(map_to_reciprocal_space([expt], refl))
    args = (spots.rlp, spots.phi, spots.entering, spots.imageset)
    with_filter = estimate_max_cell(*args, MaxCellEstimationParams())
    assert with_filter.n_ice > 0.2 * len(spots)
    longest = max(truth.unit_cell.parameters[:3])
    assert longest < with_filter.max_cell < 3.0 * longest


@pytest.mark.parametrize("bravais, a, d_min, n_images", [("tP", 40.0, 2.5, 20), ("oC", 45.0, 2.5, 20),
                                                        ("hP", 12.0, 1.5, 60)])
def test_index_with_ice_rings(bravais, a, d_min, n_images):
    """25 % of the spots on ice rings: same 0.1 % / 0.05 deg bar as the matrix benchmark."""
    expt, refl, truth = _case(bravais, a, 0.25, 11, d_min, n_images)
    res = index(ExperimentList([expt]), refl, IndexingParams())
    err, angle = cell_errors(res.experiments[0].crystal, truth)
    assert err < 1e-3 and angle < 0.05, (bravais, a, err, angle)
