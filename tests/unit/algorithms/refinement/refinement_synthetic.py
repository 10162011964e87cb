"""Synthetic rotation experiments and observations for the refinement tests."""

from __future__ import annotations

import gemmi
import numpy as np

from braggflow.algorithms.prediction import predict_reflections
from braggflow.model import Beam, Crystal, Detector, Experiment, ExperimentList, Goniometer, Panel, Scan
from braggflow.model._vec import rotation_matrix
from braggflow.model.reflections import Flags, ReflectionTable

PIXEL = 0.172


def tilted_panel(distance: float, tilt_deg: float = 0.0, size=(1000, 1000), offset=(0.0, 0.0), name="Panel") -> Panel:
    """A panel facing the beam at `distance`, rotated by tilt_deg about the lab y and x axes."""
    rot = rotation_matrix(np.array([0.0, 1.0, 0.0]), np.radians(tilt_deg)) @ rotation_matrix(
        np.array([1.0, 0.0, 0.0]), np.radians(0.5 * tilt_deg)
    )
    fast, slow = rot @ np.array([1.0, 0.0, 0.0]), rot @ np.array([0.0, -1.0, 0.0])
    half = 0.5 * np.array(size) * PIXEL
    centre = rot @ np.array([offset[0], offset[1], -distance])
    origin = centre - half[0] * fast - half[1] * slow
    return Panel(fast_axis=fast, slow_axis=slow, origin=origin, pixel_size=(PIXEL, PIXEL), image_size=size, name=name)


def multi_panel_detector(distance: float = 150.0) -> Detector:
    """2 x 2 panels with gaps and small individual tilts."""
    panels = []
    size = (500, 500)
    span = 500 * PIXEL + 2.0
    for k, (ox, oy) in enumerate([(-0.5, -0.5), (0.5, -0.5), (-0.5, 0.5), (0.5, 0.5)]):
        panels.append(tilted_panel(distance, tilt_deg=1.0 + 0.5 * k, size=size, offset=(ox * span, oy * span), name=f"P{k}"))
    return Detector(tuple(panels))


def make_experiment(
    *,
    cell=(42.0, 51.0, 63.0, 82.0, 97.0, 103.0),
    space_group: str = "P 1",
    detector: Detector | None = None,
    n_images: int = 450,
    width_deg: float = 0.2,
    seed: int = 3,
) -> Experiment:
    rng = np.random.default_rng(seed)
    beam = Beam(direction=[0.003, -0.002, 1.0], wavelength=0.9795)
    gonio = Goniometer(
        rotation_axis=[1.0, 0.0, 0.0],
        fixed_rotation=rotation_matrix(np.array([0.0, 0.0, 1.0]), 0.1),
        setting_rotation=rotation_matrix(np.array([0.0, 1.0, 0.0]), 0.02),
    )
    scan = Scan(image_range=(1, n_images), oscillation_start_deg=10.0, oscillation_width_deg=width_deg)
    axis = rng.normal(size=3)
    U = rotation_matrix(axis / np.linalg.norm(axis), rng.uniform(0, np.pi))
    crystal = Crystal.from_cell_and_u(gemmi.UnitCell(*cell), U, space_group)
    det = detector if detector is not None else Detector((tilted_panel(180.0, tilt_deg=3.0, size=(1400, 1400)),))
    return Experiment(beam=beam, detector=det, goniometer=gonio, scan=scan, crystal=crystal)


def observations(
    experiment: Experiment,
    d_min: float = 2.0,
    *,
    sigma_px: float = 0.3,
    sigma_images: float = 0.3,
    seed: int = 1,
    experiment_id: int = 0,
) -> ReflectionTable:
    """Predicted reflections with Gaussian centroid noise; variances are the true sigma^2."""
    rng = np.random.default_rng(seed)
    pred = predict_reflections(experiment, d_min)
    n = len(pred)
    scan = experiment.scan
    dphi = np.radians(scan.oscillation_width_deg)
    panel = pred.panel.astype(int)
    pix = np.array([experiment.detector[int(p)].pixel_size for p in panel])
    sig = np.column_stack([sigma_px * pix, np.full(n, sigma_images * dphi)])
    obs_mm = pred.xyzcal_mm + rng.normal(size=(n, 3)) * sig
    obs_px = np.empty_like(obs_mm)
    for p in np.unique(panel):
        sel = panel == p
        obs_px[sel, :2] = experiment.detector[int(p)].millimeter_to_pixel(obs_mm[sel, :2])
    obs_px[:, 2] = scan.array_index_from_angle(np.degrees(obs_mm[:, 2]))
    var_px = np.column_stack([np.full(n, sigma_px**2), np.full(n, sigma_px**2), np.full(n, sigma_images**2)])
    table = ReflectionTable(
        {
            "miller_index": pred.miller_index,
            "id": np.full(n, experiment_id, dtype=np.int32),
            "panel": pred.panel.astype(np.uint64),
            "entering": pred.entering,
            "xyzobs.mm.value": obs_mm,
            "xyzobs.mm.variance": sig**2,
            "xyzobs.px.value": obs_px,
            "xyzobs.px.variance": var_px,
            "flags": np.full(n, int(Flags.indexed | Flags.strong), dtype=np.uint64),
        }
    )
    return table


def single(experiment: Experiment) -> ExperimentList:
    return ExperimentList([experiment])


def perturbed(experiment: Experiment, *, beam_centre_mm=1.0, distance_mm=2.0, cell_frac=0.01, rot_deg=0.5) -> Experiment:
    """The starting model of the convergence tests: beam centre, distance, cell, orientation off."""
    det = experiment.detector
    panels = []
    for p in det.panels:
        shift = beam_centre_mm * p.fast_axis - beam_centre_mm * 0.7 * p.slow_axis + distance_mm * (-p.normal)
        panels.append(p.replace(origin=p.origin + shift))
    crystal = experiment.crystal
    c = crystal.unit_cell
    new_cell = gemmi.UnitCell(c.a * (1 + cell_frac), c.b * (1 + cell_frac), c.c * (1 - cell_frac), c.alpha, c.beta, c.gamma)
    if crystal.space_group.number == 1:
        new_cell = gemmi.UnitCell(new_cell.a, new_cell.b, new_cell.c, c.alpha + 0.3, c.beta - 0.2, c.gamma + 0.2)
    R = rotation_matrix(np.array([0.3, 0.5, 0.8]) / np.linalg.norm([0.3, 0.5, 0.8]), np.radians(rot_deg))
    new_crystal = Crystal.from_cell_and_u(new_cell, R @ crystal.U, crystal.space_group)
    return experiment.replace(detector=Detector(tuple(panels), det.hierarchy), crystal=new_crystal)
