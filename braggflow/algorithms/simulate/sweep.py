"""A prepared simulation: models, true intensities, reflections, backgrounds and bad pixels,
and the two ways to get an image from it (expected float counts, or detector integers)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from braggflow.algorithms.simulate.background import background_image
from braggflow.algorithms.simulate.detector_effects import bad_pixel_codes, detector_counts
from braggflow.algorithms.simulate.intensities import TrueIntensities, model_intensities, wilson_intensities
from braggflow.algorithms.simulate.models import build_experiment
from braggflow.algorithms.simulate.params import SimulationParams, validate
from braggflow.algorithms.simulate.render import SimulatedReflections, render_spots, simulate_reflections
from braggflow.errors import ParameterError
from braggflow.model import Experiment, Panel

__all__ = ["Simulation", "prepare_simulation", "corner_d_min"]


def corner_d_min(panel: Panel, s0: np.ndarray) -> float:
    """Smallest d (A) at the panel's corners and edge midpoints."""
    nf, ns = panel.image_size
    pts = np.array([[x, y] for x in (0, nf / 2, nf) for y in (0, ns / 2, ns)], dtype=float)
    lab = panel.get_lab_coord(pts * np.array(panel.pixel_size))
    wavelength = 1.0 / np.linalg.norm(s0)
    s1 = lab / np.linalg.norm(lab, axis=1)[:, None] / wavelength
    q = np.linalg.norm(s1 - s0, axis=1)
    return float(1.0 / q.max())


@dataclass(frozen=True, eq=False)
class Simulation:
    params: SimulationParams
    experiment: Experiment
    intensities: TrueIntensities
    reflections: SimulatedReflections
    backgrounds: tuple[np.ndarray, ...]
    bad_pixels: tuple[np.ndarray, ...]  # int8 per panel: 1 gap, 2 dead
    d_min: float

    @property
    def num_images(self) -> int:
        return self.experiment.scan.num_images

    def image_number(self, k: int) -> int:
        return self.experiment.scan.image_range[0] + k

    def expected_image(self, k: int, *, background: bool = True, supersample: int = 3, kernel=None) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
        """Expected photons per pixel of image k (0-based), float64 per panel."""
        images = [b.copy() if background else np.zeros_like(b) for b in self.backgrounds]
        render_spots(images, self.reflections, k, n_sigma=self.params.n_sigma, supersample=supersample, kernel=kernel)
        return images

    def image(self, k: int) -> list[np.ndarray]:
        """The int32 pixel values of image k as the detector writes them."""
        expected = self.expected_image(k)
        noise = self.params.noise
        rng = np.random.default_rng([noise.seed, self.image_number(k)]) if noise.poisson else None
        d = self.params.detector
        return [
            detector_counts(e, rng, gain=d.gain, saturation=d.saturation, bad=b)
            for e, b in zip(expected, self.bad_pixels)
        ]

    def __repr__(self) -> str:
        return f"<Simulation {self.num_images} images, {len(self.reflections):,} reflections to {self.d_min:.2f} A>"


def _true_intensities(p: SimulationParams, experiment: Experiment, d_min: float) -> TrueIntensities:
    crystal = experiment.crystal
    i = p.intensities
    anom = i.anomalous_fraction if i.anomalous else None
    cell = crystal.unit_cell
    if i.source == "model":
        return model_intensities(i.model or "", cell, crystal.space_group, d_min, mean=i.mean, seed=i.seed, anomalous_fraction=anom)
    return wilson_intensities(cell, crystal.space_group, d_min, mean=i.mean, b_factor=i.b_factor, seed=i.seed, anomalous_fraction=anom)


def prepare_simulation(p: SimulationParams) -> Simulation:
    """Validate the parameters and compute everything except the images themselves."""
    validate(p)
    experiment = build_experiment(p)
    panel = experiment.detector[0]
    d_min = p.intensities.d_min or corner_d_min(panel, experiment.beam.s0)
    d_min = max(d_min, 0.5001 * p.beam.wavelength)
    intensities = _true_intensities(p, experiment, d_min)
    refl = simulate_reflections(
        experiment, intensities, d_min=d_min, scale=p.intensities.scale,
        min_zeta=p.intensities.min_zeta, psf_px=p.detector.point_spread_px,
    )
    if len(refl.partial_refl) == 0:
        raise ParameterError(
            "simulation.detector: no reflection reaches the detector during the scan; "
            "move it closer (distance_mm), check beam_centre_px, or widen the scan"
        )
    return Simulation(
        params=p,
        experiment=experiment,
        intensities=intensities,
        reflections=refl,
        backgrounds=tuple(background_image(pan, experiment.beam, p.background) for pan in experiment.detector),
        bad_pixels=tuple(bad_pixel_codes(pan, p.detector.dead_pixel_fraction, p.noise.seed) for pan in experiment.detector),
        d_min=d_min,
    )
