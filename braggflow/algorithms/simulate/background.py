"""Expected background counts per pixel per image: flat + solvent ring + optional ice rings.

b(pixel) = [flat + A_w exp(-(q2 - q2_w)^2 / (2 w^2)) + sum_ice A_i exp(-(q2 - q2_i)^2 / (2 w_i^2))]
           x P(pixel) x Omega(pixel)
with q2 = 1/d^2 (A^-2), P the polarisation factor and Omega = (D / r)^3 the pixel's solid
angle relative to a pixel on the panel normal (r: sample-to-pixel distance, D: panel distance).
The background is the same on every image of the sweep.
"""

from __future__ import annotations

import numpy as np

from braggflow.algorithms.simulate.params import BackgroundParams
from braggflow.model import Beam, Panel
from braggflow.model._vec import unit

__all__ = ["ICE_RINGS", "background_image"]

# Hexagonal ice: (d spacing A, relative strength) of the strongest powder lines.
ICE_RINGS = (
    (3.897, 1.00), (3.669, 0.60), (3.441, 0.55), (2.671, 0.20), (2.249, 0.40),
    (2.072, 0.30), (1.947, 0.05), (1.918, 0.20), (1.883, 0.15), (1.721, 0.05),
)


def background_image(panel: Panel, beam: Beam, p: BackgroundParams) -> np.ndarray:
    """(n_slow, n_fast) float64 expected background counts of one image on this panel."""
    nf, ns = panel.image_size
    x = ((np.arange(nf) + 0.5) * panel.pixel_size[0])[None, :]
    y = ((np.arange(ns) + 0.5) * panel.pixel_size[1])[:, None]
    o, f, s = panel.origin, panel.fast_axis, panel.slow_axis
    s0u = unit(beam.s0)
    n = beam.polarization_normal

    def dot(v: np.ndarray) -> np.ndarray:  # lab . v for every pixel centre, separably
        return (o @ v + y * (s @ v)) + x * (f @ v)

    r2 = (o @ o + 2 * y * (o @ s) + y * y) + (2 * x * (o @ f) + x * x) + 2 * x * y * (f @ s)
    inv_r = 1.0 / np.sqrt(r2)
    cos2t = dot(s0u) * inv_r
    q2 = (2.0 - 2.0 * cos2t) / beam.wavelength**2
    value = np.full(q2.shape, p.flat)
    if p.solvent_ring > 0:
        value += p.solvent_ring * np.exp(-0.5 * ((q2 - 1.0 / p.solvent_d**2) / p.solvent_width) ** 2)
    if p.ice_rings and p.ice_ring_counts > 0:
        for d, strength in ICE_RINGS:
            near = np.abs(q2 - 1.0 / d**2) < 8 * p.ice_ring_width  # exp(-32) beyond: skip
            u = (q2[near] - 1.0 / d**2) / p.ice_ring_width
            value[near] += p.ice_ring_counts * strength * np.exp(-0.5 * u * u)
    fr = beam.polarization_fraction
    ns1 = dot(n) * inv_r
    pol = (1 - 2 * fr) * (1 - ns1**2) + fr * (1 + cos2t**2)
    omega = (panel.distance * inv_r) ** 3
    return value * pol * omega
