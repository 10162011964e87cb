"""Geometry for MTZ batch headers: the Cambridge frame, Mosflm U and batch numbering.

algorithms.md 8.2/8.4, following DIALS 3.12 `dials.util.export_mtz` / `batch_handling`:

- Cambridge frame: one proper rotation R taking the rotation-axis datum to +z and the unit
  s0 into the xz-plane with positive x (rstbx `align_reference_frame`). Every lab vector and
  matrix is left-multiplied by R (F, S conjugated), so UB_lab -> R UB_lab.
- Mosflm U = UB_lab(phi = 0) . B_M^-1 with the Busing-Levy B_M (a* along x); for a
  scan-varying crystal U and B are taken at the image centre (half the rotation from U0 to
  U1; B averaged).
- Batch numbers: image number + batch offset; overlapping sweeps move to the next "x01".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gemmi
import numpy as np
from scipy.spatial.transform import Rotation

from braggflow.errors import InputDataError
from braggflow.model import Experiment, ExperimentList, b_matrix, cell_from_real_space

__all__ = [
    "BatchGeometry",
    "batch_geometry",
    "best_unit_cell",
    "calculate_batch_offsets",
    "cambridge_rotation",
    "mosflm_b",
    "mosflm_u",
    "next_epoch",
    "resolve_batch_offsets",
]


def cambridge_rotation(axis_datum: np.ndarray, unit_s0: np.ndarray) -> np.ndarray:
    """(3, 3) proper rotation R with R.axis = +z and R.s0 in the xz-plane, x > 0."""
    z = np.asarray(axis_datum, dtype=np.float64)
    z = z / np.linalg.norm(z)
    s0 = np.asarray(unit_s0, dtype=np.float64)
    x = s0 - np.dot(s0, z) * z
    norm = float(np.linalg.norm(x))
    if norm < 1e-3 * float(np.linalg.norm(s0)):
        raise InputDataError("experiments", "the rotation axis is parallel to the beam; no Cambridge frame exists")
    x = x / norm
    y = np.cross(z, x)
    return np.array([x, y, z])


def mosflm_b(cell: gemmi.UnitCell) -> np.ndarray:
    """Busing-Levy (Mosflm) B: upper triangular, a* along x (1/A)."""
    r = cell.reciprocal()
    ca, sb, cb = np.cos(np.radians(cell.alpha)), np.sin(np.radians(r.beta)), np.cos(np.radians(r.beta))
    cg, sg = np.cos(np.radians(r.gamma)), np.sin(np.radians(r.gamma))
    return np.array(
        [
            [r.a, r.b * cg, r.c * cb],
            [0.0, r.b * sg, -r.c * sb * ca],
            [0.0, 0.0, 1.0 / cell.c],
        ]
    )


def mosflm_u(ub_lab: np.ndarray, cell: gemmi.UnitCell) -> np.ndarray:
    """Mosflm U = UB_lab . B_M^-1 (orthonormal when UB_lab matches the cell)."""
    return np.asarray(ub_lab, dtype=np.float64) @ np.linalg.inv(mosflm_b(cell))


def _u_and_b(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    b = b_matrix(cell_from_real_space(np.linalg.inv(a)))
    return a @ np.linalg.inv(b), b


def _centre_of_image(a0: np.ndarray, a1: np.ndarray) -> tuple[np.ndarray, gemmi.UnitCell]:
    """(U B, cell) at the image centre from the A matrices at the image's two edges."""
    u0, b0 = _u_and_b(a0)
    u1, b1 = _u_and_b(a1)
    rotvec = Rotation.from_matrix(u1 @ u0.T).as_rotvec()
    u_centre = Rotation.from_rotvec(rotvec / 2).as_matrix() @ u0
    b_centre = (b0 + b1) / 2
    return u_centre @ b_centre, cell_from_real_space(np.linalg.inv(b_centre))


@dataclass(frozen=True)
class BatchGeometry:
    """Per-image header geometry of one experiment, in the Cambridge frame.

    cells : (n, 6) unit cell per image; umat : (n, 3, 3) Mosflm U per image;
    phi_start_deg, phi_range_deg : (n,); axis : (3,) scan axis (S e_d);
    source : (3,) sample-to-source direction; distance_mm : directed distance of panel 0;
    image_size : (n_fast, n_slow) of panel 0.
    """

    cells: np.ndarray
    umat: np.ndarray
    phi_start_deg: np.ndarray
    phi_range_deg: np.ndarray
    axis: np.ndarray
    source: np.ndarray
    distance_mm: float
    image_size: tuple[int, int]


def _image_range(experiment: Experiment) -> tuple[int, int]:
    return experiment.scan.image_range if experiment.scan is not None else (0, 0)


def batch_geometry(experiment: Experiment, force_static_model: bool = False) -> BatchGeometry:
    """Cells, Mosflm U matrices and angles for every image of `experiment`."""
    crystal, gonio, scan = experiment.crystal, experiment.goniometer, experiment.scan
    datum = gonio.rotation_axis if gonio is not None else np.array([1.0, 0.0, 0.0])
    r = cambridge_rotation(datum, experiment.beam.unit_s0)
    s_f = gonio.setting_rotation @ gonio.fixed_rotation if gonio is not None else np.eye(3)
    i0, i1 = _image_range(experiment)
    n = i1 - i0 + 1
    starts, widths = np.zeros(n), np.zeros(n)
    if scan is not None:
        starts = np.asarray(scan.angle_from_array_index(np.arange(i0, i1 + 1) - 1), dtype=np.float64)
        widths = np.full(n, scan.oscillation_width_deg)
    varying = not force_static_model and crystal.num_scan_points > 0 and gonio is not None and scan is not None
    cells, umats = np.zeros((n, 6)), np.zeros((n, 3, 3))
    for i in range(n):
        if varying:
            k = i + i0 - scan.image_range[0]
            ub, cell = _centre_of_image(crystal.A_at_scan_points[k], crystal.A_at_scan_points[k + 1])
        else:
            ub, cell = crystal.A, crystal.unit_cell
        cells[i] = cell.parameters
        umats[i] = mosflm_u(r @ s_f @ ub, cell)
    panel = experiment.detector.panels[0]
    axis = r @ gonio.lab_rotation_axis if gonio is not None else np.zeros(3)
    return BatchGeometry(
        cells=cells,
        umat=umats,
        phi_start_deg=starts,
        phi_range_deg=widths,
        axis=axis,
        source=r @ experiment.beam.direction,
        distance_mm=float(np.dot(panel.normal, panel.origin)),
        image_size=panel.image_size,
    )


def best_unit_cell(experiments: ExperimentList) -> gemmi.UnitCell:
    """The median of each cell parameter over the experiments (DIALS determine_best_unit_cell)."""
    params = np.array([e.crystal.unit_cell.parameters for e in experiments])
    return gemmi.UnitCell(*np.median(params, axis=0))


def next_epoch(value: int) -> int:
    """The next number ending in 01 above `value` and not consecutive with it."""
    if value % 100 == 99:
        return value + 2
    if value % 100 == 0:
        return value + 101
    return value - value % 100 + 101


def calculate_batch_offsets(image_ranges: Sequence[tuple[int, int]]) -> list[int]:
    """Offsets giving each sweep a unique, non-overlapping, non-consecutive batch range."""
    existing: list[tuple[int, int]] = []
    to_shift: list[int] = []
    offsets = [0] * len(image_ranges)
    maximum = 0
    for i, (first, last) in enumerate(image_ranges):
        lo, hi = (first + 1, last + 1) if first == 0 else (first, last)
        if any(lo < high + 1 and hi >= low - 1 for low, high in existing):
            to_shift.append(i)
            continue
        offsets[i] = lo - first
        existing.append((lo, hi))
        maximum = max(maximum, hi)
    for i in to_shift:
        first, last = image_ranges[i]
        start = next_epoch(maximum)
        offsets[i] = start - first
        maximum = start + (last - first)
    return offsets


def resolve_batch_offsets(experiments: ExperimentList) -> list[int]:
    """Keep distinct stored scan batch offsets, else calculate new ones (DIALS export_mtz)."""
    stored = [e.scan.batch_offset for e in experiments if e.scan is not None]
    ranges = [_image_range(e) for e in experiments]
    if len(set(stored)) <= 1:
        offsets = calculate_batch_offsets(ranges)
        distinct = {o + r[0] for o, r in zip(offsets, ranges)}
    else:
        offsets = [e.scan.batch_offset if e.scan is not None else 0 for e in experiments]
        distinct = set(stored)
    if len(distinct) != len(offsets):
        dup = sorted({o for o in offsets if offsets.count(o) > 1})
        raise InputDataError("experiments", f"duplicate batch offsets {dup}; give each sweep its own scan.batch_offset")
    return offsets
