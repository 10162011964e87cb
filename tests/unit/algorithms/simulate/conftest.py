"""Shared small simulations (module-scoped: prepared once per test module)."""

from __future__ import annotations

import pytest

from braggflow.algorithms.simulate.params import with_overrides
from braggflow.algorithms.simulate.presets import preset
from braggflow.algorithms.simulate.sweep import prepare_simulation


def small_params(**overrides):  # type: ignore[no-untyped-def]
    base = {"scan.num_images": 6, "noise.poisson": False}
    base.update(overrides)
    return with_overrides(preset("small_256"), base)


@pytest.fixture(scope="session")
def make_small_params():  # type: ignore[no-untyped-def]
    return small_params


@pytest.fixture(scope="session")
def small_sim():  # type: ignore[no-untyped-def]
    """small_256, 12 images of 0.5 deg, a wide rocking curve (partials over several images)."""
    return prepare_simulation(
        small_params(**{"scan.num_images": 12, "crystal.mosaicity_sigma_deg": 0.15, "intensities.mean": 200.0})
    )
