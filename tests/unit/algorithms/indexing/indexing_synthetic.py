"""Synthetic strong-spot generator for indexing tests (models + prediction, no images)."""

from __future__ import annotations

import gemmi
import numpy as np
from scipy.spatial.transform import Rotation

from braggflow.algorithms.prediction import predict_reflections
from braggflow.model import Beam, Crystal, Detector, Experiment, ExperimentList, Goniometer, Panel, Scan
from braggflow.model.reflections import Flags, ReflectionTable

# one representative space group per Bravais type, with a cell generator
BRAVAIS = {
    "aP": ("P 1", lambda a, b, c: (a, b * 1.07, c * 1.13, 78.0, 84.0, 97.0)),
    "mP": ("P 1 2 1", lambda a, b, c: (a, b * 1.07, c * 1.13, 90.0, 104.0, 90.0)),
    "mC": ("C 1 2 1", lambda a, b, c: (a, b * 1.17, c * 1.13, 90.0, 111.0, 90.0)),
    "oP": ("P 2 2 2", lambda a, b, c: (a, b * 1.1, c * 1.21, 90.0, 90.0, 90.0)),
    "oC": ("C 2 2 2", lambda a, b, c: (a, b * 1.3, c * 1.13, 90.0, 90.0, 90.0)),
    "oI": ("I 2 2 2", lambda a, b, c: (a, b * 1.1, c * 1.21, 90.0, 90.0, 90.0)),
    "oF": ("F 2 2 2", lambda a, b, c: (a, b * 1.15, c * 1.3, 90.0, 90.0, 90.0)),
    "tP": ("P 4", lambda a, b, c: (a, a, c * 1.4, 90.0, 90.0, 90.0)),
    "tI": ("I 4", lambda a, b, c: (a, a, c * 1.4, 90.0, 90.0, 90.0)),
    "hP": ("P 6", lambda a, b, c: (a, a, c * 1.3, 90.0, 90.0, 120.0)),
    "hR": ("R 3", lambda a, b, c: (a, a, c * 2.2, 90.0, 90.0, 120.0)),
    "cP": ("P 2 3", lambda a, b, c: (a, a, a, 90.0, 90.0, 90.0)),
    "cI": ("I 2 3", lambda a, b, c: (a, a, a, 90.0, 90.0, 90.0)),
    "cF": ("F 2 3", lambda a, b, c: (a, a, a, 90.0, 90.0, 90.0)),
}


# d-spacings (A) of the strongest powder rings of hexagonal ice Ih, with relative spot counts
ICE_RING_D = (3.897, 3.669, 3.441, 2.671, 2.249, 2.072, 1.948, 1.918, 1.883, 1.721)
ICE_RING_WEIGHT = (3.0, 3.0, 3.0, 1.5, 1.5, 1.0, 1.0, 1.0, 1.0, 1.0)


def ice_ring_spots(experiment: Experiment, n: int, rng: np.random.Generator, *,
                   rel_width: float = 0.001) -> np.ndarray:
    """(m <= n, 3) pixel centroids (x, y, z) of spurious spots on ice powder rings: rings drawn
    with ICE_RING_WEIGHT, azimuth uniform in [0, 2 pi), z uniform over the scan, d scattered
    by rel_width (relative sigma). Rays missing the detector are dropped."""
    if n <= 0:
        return np.zeros((0, 3))
    beam, panel = experiment.beam, experiment.detector[0]
    w = np.asarray(ICE_RING_WEIGHT) / np.sum(ICE_RING_WEIGHT)
    d = np.asarray(ICE_RING_D)[rng.choice(len(ICE_RING_D), n, p=w)] * (1.0 + rel_width * rng.normal(size=n))
    two_theta = 2.0 * np.arcsin(np.clip(beam.wavelength / (2.0 * d), -1.0, 1.0))
    s0 = beam.unit_s0
    u = np.cross(s0, [0.0, 1.0, 0.0] if abs(s0[1]) < 0.9 else [1.0, 0.0, 0.0])
    u /= np.linalg.norm(u)
    v = np.cross(s0, u)
    psi = rng.uniform(0.0, 2.0 * np.pi, n)
    s1 = (np.cos(two_theta)[:, None] * s0 + np.sin(two_theta)[:, None]
          * (np.cos(psi)[:, None] * u + np.sin(psi)[:, None] * v)) / beam.wavelength
    xy_mm, hits = panel.get_ray_intersection(s1)
    xy = panel.millimeter_to_pixel(xy_mm[hits])
    z0, z1 = experiment.scan.array_range
    return np.column_stack([xy, rng.uniform(z0, z1, len(xy))])


def make_sweep(*, wavelength: float = 0.9795, distance: float = 200.0, n_images: int = 100,
               width_deg: float = 1.0, start_deg: float = 0.0, n_px: int = 2048, pixel: float = 0.172) -> Experiment:
    size = n_px * pixel
    panel = Panel(fast_axis=(1, 0, 0), slow_axis=(0, -1, 0), origin=(-size / 2 + 3.1, size / 2 - 1.7, -distance),
                  pixel_size=(pixel, pixel), image_size=(n_px, n_px), trusted_range=(0, 1e6))
    return Experiment(
        beam=Beam(direction=(0, 0, 1), wavelength=wavelength),
        detector=Detector((panel,)),
        goniometer=Goniometer(rotation_axis=(1, 0, 0)),
        scan=Scan(image_range=(1, n_images), oscillation_start_deg=start_deg, oscillation_width_deg=width_deg),
    )


def random_crystal(cell: tuple[float, ...], space_group: str, rng: np.random.Generator) -> Crystal:
    U = Rotation.random(random_state=rng.integers(1 << 31)).as_matrix()
    return Crystal.from_cell_and_u(gemmi.UnitCell(*cell), U, space_group)


def simulate_spots(experiment: Experiment, crystal: Crystal, d_min: float, rng: np.random.Generator, *,
                   sigma_px: float = 0.3, sigma_z: float = 0.2, keep_fraction: float = 0.7,
                   n_spurious: int = 0, max_spots: int | None = None, experiment_id: int = 0,
                   ice_fraction: float = 0.0) -> ReflectionTable:
    """Strong-spot table: predicted centroids + noise, random drop-out, spurious spots, and
    with ice_fraction > 0 extra spots on ice rings making up about that fraction of the
    (crystal + ice) spots."""
    sg = crystal.space_group
    pred = predict_reflections(experiment.replace(crystal=crystal), d_min)
    ops = sg.operations()
    absent = np.array([ops.is_systematically_absent(list(map(int, h))) for h in pred.miller_index], dtype=bool)
    keep = (~absent) & (rng.random(len(pred)) < keep_fraction)
    xyz = pred.xyzcal_px[keep].copy()
    if max_spots is not None and len(xyz) > max_spots:
        xyz = xyz[rng.choice(len(xyz), max_spots, replace=False)]
    xyz[:, :2] += rng.normal(0, sigma_px, (len(xyz), 2))
    xyz[:, 2] += rng.normal(0, sigma_z, len(xyz))
    panel_obj = experiment.detector[0]
    if n_spurious:
        nf, ns = panel_obj.image_size
        z0, z1 = experiment.scan.array_range
        spur = np.column_stack([rng.uniform(0, nf, n_spurious), rng.uniform(0, ns, n_spurious),
                                rng.uniform(z0, z1, n_spurious)])
        xyz = np.vstack([xyz, spur])
    if ice_fraction > 0:
        n_ice = int(round(ice_fraction / (1.0 - ice_fraction) * len(xyz)))
        xyz = np.vstack([xyz, ice_ring_spots(experiment, n_ice, rng)])
    n = len(xyz)
    var = np.column_stack([np.full(n, sigma_px**2), np.full(n, sigma_px**2), np.full(n, sigma_z**2)])
    bbox = np.column_stack([np.floor(xyz[:, 0]) - 2, np.floor(xyz[:, 0]) + 3, np.floor(xyz[:, 1]) - 2,
                            np.floor(xyz[:, 1]) + 3, np.floor(xyz[:, 2]), np.floor(xyz[:, 2]) + 1]).astype(np.int32)
    return ReflectionTable({
        "xyzobs.px.value": xyz, "xyzobs.px.variance": var, "panel": np.zeros(n, dtype=np.uint64),
        "id": np.full(n, experiment_id, dtype=np.int32), "bbox": bbox,
        "flags": np.full(n, int(Flags.strong), dtype=np.uint64),
        "intensity.sum.value": np.full(n, 100.0),
    }, experiment_identifiers={experiment_id: experiment.identifier})


def cell_errors(found: Crystal, truth: Crystal) -> tuple[float, float]:
    """(max relative basis-length error, misorientation deg) of a found lattice against the truth.

    The found basis (any setting, primitive or centred) is expressed in the true conventional
    basis; coefficients must be multiples of 1/6 (centring), else (inf, inf).
    """
    found_real, truth_real = found.real_space_vectors, truth.real_space_vectors
    C = found_real @ np.linalg.inv(truth_real)
    Cr = np.rint(C * 6) / 6
    if not np.allclose(C, Cr, atol=0.05) or abs(np.linalg.det(Cr)) < 1e-6:
        return np.inf, np.inf
    ideal = Cr @ truth_real
    rel = float(np.max(np.abs(np.linalg.norm(found_real, axis=1) - np.linalg.norm(ideal, axis=1))
                       / np.linalg.norm(ideal, axis=1)))
    u, _, vt = np.linalg.svd(np.linalg.solve(ideal, found_real))
    R = u @ vt
    angle = float(np.degrees(np.arccos(np.clip((np.trace(R) - 1) / 2, -1, 1))))
    return rel, angle


def make_experiments(expt: Experiment) -> ExperimentList:
    return ExperimentList([expt])
