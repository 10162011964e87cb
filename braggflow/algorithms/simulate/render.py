"""Where each reflection lands, how its counts split over images, and the pixel rendering.

Meaning of the truth (what a test can check):
- ``counts`` of a reflection = I_true x scale x L x P: the expected number of photons the
  whole spot deposits (all images, its full rocking curve), before noise, gain and
  overloads. L = 1 / (|zeta| sin 2theta) = 1 / |s1.(e x s0)| |s0||s1|, P the DIALS
  polarisation factor (algorithms.md 7.8), so ``lp = 1 / (L P)`` as DIALS stores it and
  counts x lp = scale x I_true.
- Image k (0-based within the scan) receives counts x fraction_k, with
  fraction_k = 1/2 [erf((phi_{k+1} - phi_c)/(sqrt2 sigma_phi)) - erf((phi_k - phi_c)/(sqrt2 sigma_phi))],
  sigma_phi = sigma_m / |zeta| (Kabsch e3); summed over all images the fractions are 1.
- On an image the counts are a 2-D Gaussian centred on xyzcal.px (x, y), covariance
  J diag(sigma_b^2) J^T + psf^2 I (J: pixels per radian of the Kabsch e1/e2 angles),
  normalised over a box of +-n_sigma sigma. Spot positions do not move during an image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from braggflow.algorithms.prediction import predict_reflections
from braggflow.algorithms.simulate import _kernels
from braggflow.algorithms.simulate.intensities import TrueIntensities
from braggflow.model import Experiment
from braggflow.model._vec import unit

__all__ = ["SimulatedReflections", "lorentz_polarization", "pixel_covariance", "simulate_reflections", "render_spots"]

ROCKING_N_SIGMA = 6.0


@dataclass(frozen=True, eq=False)
class SimulatedReflections:
    """One row per reflection event (a lattice point crossing the Ewald sphere once).

    miller_index (n, 3) int32; panel (n,) int64; s1 (n, 3); xyzcal_px, xyzcal_mm (n, 3)
    (phi in rad); d, zeta, lorentz, polarization, intensity (I_true), counts, sigma_phi_rad,
    partiality (fraction recorded on the scan's images) (n,); cov_px (n, 3) = sxx, sxy, syy.
    Partials, sorted by image: partial_refl, partial_image (0-based), partial_fraction (m,);
    image_offsets (num_images + 1,) so image k owns rows image_offsets[k]:image_offsets[k+1].
    """

    miller_index: np.ndarray
    panel: np.ndarray
    s1: np.ndarray
    xyzcal_px: np.ndarray
    xyzcal_mm: np.ndarray
    entering: np.ndarray
    d: np.ndarray
    zeta: np.ndarray
    lorentz: np.ndarray
    polarization: np.ndarray
    intensity: np.ndarray
    counts: np.ndarray
    sigma_phi_rad: np.ndarray
    cov_px: np.ndarray
    partiality: np.ndarray
    partial_refl: np.ndarray
    partial_image: np.ndarray
    partial_fraction: np.ndarray
    image_offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.miller_index)

    @property
    def lp(self) -> np.ndarray:
        """DIALS `lp` correction: 1 / (L P)."""
        return 1.0 / (self.lorentz * self.polarization)

    def on_image(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(reflection rows, expected counts) of the spots recorded on image k (0-based)."""
        sl = slice(self.image_offsets[k], self.image_offsets[k + 1])
        rows = self.partial_refl[sl]
        return rows, self.counts[rows] * self.partial_fraction[sl]

    def __repr__(self) -> str:
        return f"<SimulatedReflections {len(self):,} reflections, {len(self.partial_refl):,} partials>"


def lorentz_polarization(s1: np.ndarray, s0: np.ndarray, axis: np.ndarray, normal: np.ndarray, fraction: float):  # type: ignore[no-untyped-def]
    """(zeta, L, P) per reflection (algorithms.md 7.2 and 7.8)."""
    s1u, s0u = unit(s1), unit(s0)
    e1 = unit(np.cross(s1, s0))
    zeta = e1 @ axis
    lorentz = 1.0 / np.abs(s1u @ np.cross(axis, s0u))
    pol = (1 - 2 * fraction) * (1 - (s1u @ normal) ** 2) + fraction * (1 + (s1u @ s0u) ** 2)
    return zeta, lorentz, pol


def pixel_covariance(experiment: Experiment, s1: np.ndarray, panel: np.ndarray, sigma_b_rad: float, psf_px: float) -> np.ndarray:
    """(n, 3) sxx, sxy, syy (px^2) of the spot shape: sigma_b mapped through d(px)/d(c1, c2)."""
    s0 = experiment.beam.s0
    s1u = unit(s1)
    e1 = unit(np.cross(s1, s0))
    e2 = unit(np.cross(s1, e1))
    h = 1e-4
    out = np.zeros((len(s1), 3))
    for p in np.unique(panel):
        sel = panel == p
        pan = experiment.detector[int(p)]
        D = pan.D_matrix

        def px(v: np.ndarray) -> np.ndarray:
            w = v @ D.T
            return pan.millimeter_to_pixel(w[:, :2] / w[:, 2:3])

        j1 = (px(s1u[sel] + h * e1[sel]) - px(s1u[sel] - h * e1[sel])) / (2 * h)
        j2 = (px(s1u[sel] + h * e2[sel]) - px(s1u[sel] - h * e2[sel])) / (2 * h)
        var = sigma_b_rad**2
        out[sel, 0] = var * (j1[:, 0] ** 2 + j2[:, 0] ** 2) + psf_px**2
        out[sel, 1] = var * (j1[:, 0] * j1[:, 1] + j2[:, 0] * j2[:, 1])
        out[sel, 2] = var * (j1[:, 1] ** 2 + j2[:, 1] ** 2) + psf_px**2
    return out


def _padded_experiment(experiment: Experiment, max_sigma_phi_rad: float) -> Experiment:
    """The same experiment with the scan widened so that tails entering the scan are predicted."""
    scan = experiment.scan
    width = math.radians(scan.oscillation_width_deg)
    pad = int(math.ceil(min(ROCKING_N_SIGMA * max_sigma_phi_rad, math.pi) / width)) + 1
    i0, i1 = scan.image_range
    return experiment.replace(
        scan=scan.replace(
            image_range=(i0 - pad, i1 + pad),
            oscillation_start_deg=scan.oscillation_start_deg - pad * scan.oscillation_width_deg,
            exposure_times=np.zeros(0),
            epochs=np.zeros(0),
        )
    )


def simulate_reflections(
    experiment: Experiment,
    intensities: TrueIntensities,
    *,
    d_min: float,
    scale: float,
    min_zeta: float,
    psf_px: float,
) -> SimulatedReflections:
    """Predict every reflection whose rocking curve reaches the scan and split it over images."""
    sigma_m = math.radians(experiment.profile.sigma_m_deg)
    sigma_b = math.radians(experiment.profile.sigma_b_deg)
    wide = _padded_experiment(experiment, sigma_m / max(min_zeta, 1e-3))
    pred = predict_reflections(wide, d_min)
    value, found = intensities.lookup(pred.miller_index)
    beam, gonio = experiment.beam, experiment.goniometer
    zeta, lorentz, pol = lorentz_polarization(
        pred.s1, beam.s0, gonio.lab_rotation_axis, beam.polarization_normal, beam.polarization_fraction
    )
    keep = found & (np.abs(zeta) >= max(min_zeta, 1e-3))
    sigma_phi = sigma_m / np.abs(zeta)
    scan = experiment.scan
    phi0 = math.radians(scan.oscillation_start_deg)
    dphi = math.radians(scan.oscillation_width_deg)
    phi_c = pred.xyzcal_mm[:, 2]
    first = np.floor((phi_c - ROCKING_N_SIGMA * sigma_phi - phi0) / dphi).astype(np.int64)
    last = np.floor((phi_c + ROCKING_N_SIGMA * sigma_phi - phi0) / dphi).astype(np.int64)
    n = scan.num_images
    keep &= (last >= 0) & (first <= n - 1)
    idx = np.nonzero(keep)[0]
    first, last = np.clip(first[idx], 0, n - 1), np.clip(last[idx], 0, n - 1)
    lengths = last - first + 1
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    part_image = np.empty(offsets[-1], dtype=np.int64)
    part_fraction = np.empty(offsets[-1], dtype=np.float64)
    _kernels.rocking_fractions(
        np.ascontiguousarray(phi_c[idx]), np.ascontiguousarray(sigma_phi[idx]), phi0, dphi,
        first, last, offsets, part_image, part_fraction,
    )
    part_refl = np.repeat(np.arange(len(idx)), lengths)
    partiality = np.add.reduceat(part_fraction, offsets[:-1]) if len(idx) else np.zeros(0)
    order = np.argsort(part_image, kind="stable")
    image_offsets = np.searchsorted(part_image[order], np.arange(n + 1)).astype(np.int64)
    xyz_px = pred.xyzcal_px[idx].copy()
    xyz_px[:, 2] = scan.array_index_from_angle(np.degrees(phi_c[idx]))
    counts = value[idx] * scale * lorentz[idx] * pol[idx]
    return SimulatedReflections(
        miller_index=pred.miller_index[idx],
        panel=pred.panel[idx],
        s1=pred.s1[idx],
        xyzcal_px=xyz_px,
        xyzcal_mm=pred.xyzcal_mm[idx],
        entering=pred.entering[idx],
        d=pred.d[idx],
        zeta=zeta[idx],
        lorentz=lorentz[idx],
        polarization=pol[idx],
        intensity=value[idx],
        counts=counts,
        sigma_phi_rad=sigma_phi[idx],
        cov_px=pixel_covariance(experiment, pred.s1[idx], pred.panel[idx], sigma_b, psf_px),
        partiality=partiality,
        partial_refl=part_refl[order],
        partial_image=part_image[order],
        partial_fraction=part_fraction[order],
        image_offsets=image_offsets,
    )


def render_spots(
    images: list[np.ndarray], refl: SimulatedReflections, k: int, *, n_sigma: float, supersample: int = 3, kernel=None  # type: ignore[no-untyped-def]
) -> None:
    """Add the expected spot counts of image k (0-based) to the float64 panel images in place."""
    splat = kernel or _kernels.splat_gaussians
    rows, counts = refl.on_image(k)
    for p, image in enumerate(images):
        sel = refl.panel[rows] == p
        r = rows[sel]
        if len(r) == 0:
            continue
        xy = refl.xyzcal_px[r]
        cov = refl.cov_px[r]
        splat(
            image,
            np.ascontiguousarray(xy[:, 0]),
            np.ascontiguousarray(xy[:, 1]),
            np.ascontiguousarray(cov[:, 0]),
            np.ascontiguousarray(cov[:, 1]),
            np.ascontiguousarray(cov[:, 2]),
            np.ascontiguousarray(counts[sel]),
            float(n_sigma),
            int(supersample),
        )
