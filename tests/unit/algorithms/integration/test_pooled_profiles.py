"""Reference profiles with few references: the pooled (whole-panel) profile, partial
references weighted by partiality, and the profile chosen for each reflection."""

from __future__ import annotations

import numpy as np

from braggflow.algorithms.integration.passes import REF_MIN_PARTIALITY, reference_weights
from braggflow.algorithms.integration.profile_fitting import (
    MIN_POOLED_REFERENCES, MIN_REFERENCES, choose_profiles, finalize_profiles, make_reference_grid, profile_weights)


def _grid(n_panels: int = 1):
    return make_reference_grid(np.array([[300, 300]] * n_panels), (0, 10), 1.0, grid_method="regular_grid",
                               scan_step_deg=5.0, grid_size=2, sigma_b_rad=1e-3)


def _gaussian_num_den(m: int, G: int):
    c = np.arange(G) - (G - 1) / 2
    g = np.exp(-0.5 * (c[None, :] ** 2 + c[:, None] ** 2) / 1.5**2)
    return np.repeat(g[None], m, axis=0), np.ones((m, G, G))


def test_regular_grid_has_one_pooled_profile_per_panel_fed_with_weight_one():
    grid = _grid(n_panels=2)
    assert grid.n_profiles == 2 * 2 * 9 + 2  # 3 x 3 x 2 scan blocks per panel + pooled
    pooled = np.nonzero(grid.is_pooled)[0]
    assert list(grid.panel[pooled]) == [0, 1]
    t, w = profile_weights(grid, np.array([[10.0, 10.0, 1.0], [290.0, 150.0, 8.0]]), np.array([0, 1]))
    assert list(t[:, -1]) == list(pooled) and np.all(w[:, -1] == 1.0)
    assert not np.any(np.isin(t[:, :-1], pooled))  # grid weights go to grid profiles only
    single = make_reference_grid(np.array([[300, 300]]), (0, 10), 1.0, grid_method="single", scan_step_deg=5.0,
                                 grid_size=2, sigma_b_rad=1e-3)
    assert single.n_profiles == 1 and single.is_pooled.all()
    assert profile_weights(single, np.array([[5.0, 5.0, 1.0]]), np.array([0]))[0].shape[1] == 1


def test_pooled_profile_is_usable_with_fewer_references_than_a_grid_profile():
    grid = _grid()
    G = 2 * grid.grid_size + 1
    num, den = _gaussian_num_den(grid.n_profiles, G)
    counts = np.full(grid.n_profiles, float(MIN_POOLED_REFERENCES))
    prof = finalize_profiles(grid, num, den, counts)
    assert MIN_POOLED_REFERENCES < MIN_REFERENCES
    assert prof.usable[grid.is_pooled].all() and not prof.usable[~grid.is_pooled].any()


def test_choose_profiles_prefers_local_then_pooled_then_any_grid_profile():
    grid = _grid()
    pooled = int(np.nonzero(grid.is_pooled)[0][0])
    # profile 0 sits at (50, 50, 2.5); a reflection in its cell, one two cells away
    xyz = np.array([[40.0, 60.0, 2.0], [250.0, 250.0, 7.0]])
    panel = np.zeros(2, np.int64)
    usable = np.zeros(grid.n_profiles, bool)
    usable[0] = True
    usable[pooled] = True
    got = choose_profiles(grid, xyz, panel, usable)
    assert got[0] == 0 and got[1] == pooled  # far from the only usable grid profile -> pooled
    usable[pooled] = False
    assert list(choose_profiles(grid, xyz, panel, usable)) == [0, 0]  # no pooled: any usable profile
    assert list(choose_profiles(grid, xyz, panel, np.zeros(grid.n_profiles, bool))) == [-1, -1]
    usable[:] = False
    usable[1] = True  # adjacent cell (100 px away = 1 grid step) wins over the pooled profile
    usable[pooled] = True
    assert choose_profiles(grid, xyz[:1], panel[:1], usable)[0] == 1


def test_reference_weights_use_partials_by_partiality():
    p = np.array([1.0, 0.995, 0.8, REF_MIN_PARTIALITY, 0.3, 0.0])
    assert list(reference_weights(p)) == [1.0, 1.0, 0.8, REF_MIN_PARTIALITY, 0.0, 0.0]
