"""Bad simulator input: one-line ParameterError naming the parameter (exit code 2)."""

from __future__ import annotations

import pytest

from braggflow.algorithms.simulate.params import with_overrides
from braggflow.algorithms.simulate.presets import PRESETS, preset
from braggflow.algorithms.simulate.sweep import prepare_simulation
from braggflow.errors import ParameterError


@pytest.mark.parametrize(
    "overrides,fragment",
    [
        ({"crystal.unit_cell": (10, 10, 10, 120, 120, 120)}, "crystal.unit_cell"),
        ({"crystal.unit_cell": (-10, 10, 10, 90, 90, 90)}, "crystal.unit_cell"),
        ({"crystal.unit_cell": (40, 41, 60, 90, 90, 90), "crystal.space_group": "P 41 21 2"}, "incompatible"),
        ({"crystal.space_group": "Q 9 9"}, "crystal.space_group"),
        ({"crystal.mosaicity_sigma_deg": -0.1}, "crystal.mosaicity_sigma_deg"),
        ({"beam.divergence_sigma_deg": -0.01}, "beam.divergence_sigma_deg"),
        ({"detector.point_spread_px": -1.0}, "detector.point_spread_px"),
        ({"scan.width_deg": -0.5}, "scan.width_deg"),
        ({"beam.wavelength": 0.0}, "beam.wavelength"),
        ({"detector.beam_centre_px": (5000.0, 5000.0), "detector.distance_mm": 5000.0}, "no reflection"),
    ],
)
def test_bad_input_raises_one_line_parameter_error(overrides, fragment):  # type: ignore[no-untyped-def]
    p = with_overrides(preset("small_256"), {"scan.num_images": 2, **overrides})
    with pytest.raises(ParameterError) as info:
        prepare_simulation(p)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
    assert info.value.exit_code == 2


def test_unknown_override_and_preset_are_errors():  # type: ignore[no-untyped-def]
    with pytest.raises(ParameterError, match="unknown simulator parameter"):
        with_overrides(preset("demo"), {"detector.bogus": 1})
    with pytest.raises(ParameterError, match="choose one of"):
        preset("nope")
    with pytest.raises(ParameterError, match="needs 6 numbers"):
        with_overrides(preset("demo"), {"crystal.unit_cell": (1.0, 2.0)})


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_valid(name):  # type: ignore[no-untyped-def]
    from braggflow.algorithms.simulate.params import validate

    validate(preset(name))
