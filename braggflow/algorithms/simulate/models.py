"""The exact experiment models (beam, detector, goniometer, scan, crystal, profile) of a simulation.

Geometry follows the mini-CBF convention (algorithms.md 2.1): fast = (1, 0, 0),
slow = (0, -1, 0), beam along -z, origin = (-bx p_f, +by p_s, -D), so the direct beam meets
the panel at pixel position (bx, by). The truth profile model is
sigma_b = beam.divergence_sigma_deg and sigma_m = sqrt(mosaicity^2 + divergence^2).
"""

from __future__ import annotations

import math

import numpy as np

from braggflow.algorithms.simulate.params import SimulationParams, check_crystal
from braggflow.model import PARALLAX, SIMPLE, Beam, Crystal, Detector, Experiment, Goniometer, Panel, ProfileModel, Scan
from braggflow.model._vec import rotation_matrix

__all__ = ["build_experiment", "module_gap_rectangles", "orientation_matrix", "sensor_mu", "sigma_m_deg"]

def sensor_mu(material: str, wavelength: float) -> float:
    """mu (1/mm) of the sensor at this wavelength (the value dxtbx puts in mini-CBF models)."""
    from braggflow.formats.attenuation import mu_per_mm

    return float(mu_per_mm(material, wavelength))


def orientation_matrix(angles_deg: tuple[float, float, float]) -> np.ndarray:
    """U = Rz(c) Ry(b) Rx(a) for angles (a, b, c) in degrees."""
    a, b, c = (math.radians(v) for v in angles_deg)
    ex, ey, ez = np.eye(3)
    return rotation_matrix(ez, c) @ rotation_matrix(ey, b) @ rotation_matrix(ex, a)


def module_gap_rectangles(
    image_size: tuple[int, int], module_size: tuple[int, int], gap: tuple[int, int]
) -> tuple[tuple[int, int, int, int], ...]:
    """Untrusted rectangles (x0, y0, x1, y1; 0-based, half-open) between detector modules."""
    nf, ns = image_size
    rects = []
    for axis, (n, m, g) in enumerate(((nf, module_size[0], gap[0]), (ns, module_size[1], gap[1]))):
        start = m
        while start < n:
            stop = min(start + g, n)
            rects.append((start, 0, stop, ns) if axis == 0 else (0, start, nf, stop))
            start = stop + m
    return tuple(rects)


def sigma_m_deg(p: SimulationParams) -> float:
    """Rocking-curve sigma in the Kabsch e3 direction (degrees)."""
    return math.hypot(p.crystal.mosaicity_sigma_deg, p.beam.divergence_sigma_deg)


def build_experiment(p: SimulationParams) -> Experiment:
    """The exact models the images are simulated from (imageset left unset)."""
    cell, sg = check_crystal(p.crystal)
    d = p.detector
    beam = Beam(
        direction=np.array([0.0, 0.0, 1.0]),
        wavelength=p.beam.wavelength,
        sigma_divergence=p.beam.divergence_sigma_deg,
        polarization_fraction=p.beam.polarization_fraction,
        flux=p.beam.flux,
    )
    (pf, ps), (bx, by) = d.pixel_size_mm, d.beam_centre_px
    mu = d.mu_per_mm if d.mu_per_mm is not None else sensor_mu(d.material, p.beam.wavelength)
    panel = Panel(
        fast_axis=np.array([1.0, 0.0, 0.0]),
        slow_axis=np.array([0.0, -1.0, 0.0]),
        origin=np.array([-bx * pf, by * ps, -d.distance_mm]),
        pixel_size=d.pixel_size_mm,
        image_size=d.image_size,
        trusted_range=(0.0, float(d.count_cutoff)),
        thickness=d.thickness_mm,
        material=d.material,
        mu=mu,
        gain=d.gain,
        mask=module_gap_rectangles(d.image_size, d.module_size, d.module_gap) if d.module_gaps else (),
        px_mm_strategy=PARALLAX if (d.parallax and d.thickness_mm > 0) else SIMPLE,
    )
    s = p.scan
    scan = Scan(
        image_range=(s.first_image, s.first_image + s.num_images - 1),
        oscillation_start_deg=s.start_deg,
        oscillation_width_deg=s.width_deg,
        exposure_times=np.full(s.num_images, s.exposure_s),
        epochs=1.7e9 + np.arange(s.num_images) * s.exposure_s,
    )
    crystal = Crystal.from_cell_and_u(cell, orientation_matrix(p.crystal.orientation_deg), sg)
    crystal = crystal.replace(mosaicity=p.crystal.mosaicity_sigma_deg)
    return Experiment(
        beam=beam,
        detector=Detector((panel,)),
        goniometer=Goniometer(rotation_axis=np.array(s.rotation_axis, dtype=float)),
        scan=scan,
        crystal=crystal,
        profile=ProfileModel(sigma_b_deg=p.beam.divergence_sigma_deg, sigma_m_deg=sigma_m_deg(p)),
    )
