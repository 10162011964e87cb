"""Full imgCIF CBF files: geometry from the `_axis` table (goniometer and detector chains).

Each axis moves a point in the frame of the axis it depends on: a rotation turns it by the
frame's angle about `vector` then adds `offset`; a translation adds displacement*vector +
offset. A pixel's lab position is the chain from the innermost detector element axis (whose
displacement is the pixel index times the pixel size) down to the root.
"""

from __future__ import annotations

import numpy as np

from braggflow.errors import InputDataError
from braggflow.formats._cif import parse_cif_categories, parse_mini_header, parse_timestamp
from braggflow.formats.attenuation import mu_per_mm
from braggflow.formats.base import ImageModels, register
from braggflow.formats.cbf import PILATUS_MODULES, FormatCBF, cbf_header, image_number, is_full_cbf, make_scan, module_gap_mask, sensor
from braggflow.model import PARALLAX, SIMPLE, Beam, Detector, Goniometer, Panel
from braggflow.model._vec import rotation_matrix


def _f(value: str | None, default: float = 0.0) -> float:
    if value is None or value in (".", "?"):
        return default
    try:
        return float(value)
    except ValueError:
        return default


class AxisTable:
    """The `_axis` rows plus this frame's angle/displacement of every axis."""

    def __init__(self, cats: dict[str, list[dict[str, str]]], path: str):
        self.path = path
        self.axes = {row["id"]: row for row in cats.get("_axis", []) if "id" in row}
        if not self.axes:
            raise InputDataError(path, "full CBF header has no _axis table")
        self.setting: dict[str, tuple[float, float]] = {}
        for row in cats.get("_diffrn_scan_axis", []):
            self.setting[row.get("axis_id", "")] = (_f(row.get("angle_start")), _f(row.get("displacement_start")))
        for row in cats.get("_diffrn_scan_frame_axis", []):
            self.setting[row.get("axis_id", "")] = (_f(row.get("angle")), _f(row.get("displacement")))
        self.increment = {row.get("axis_id", ""): _f(row.get("angle_increment")) for row in cats.get("_diffrn_scan_axis", [])}

    def vector(self, axis_id: str) -> np.ndarray:
        row = self.axes[axis_id]
        return np.array([_f(row.get(f"vector[{k}]")) for k in (1, 2, 3)])

    def offset(self, axis_id: str) -> np.ndarray:
        row = self.axes[axis_id]
        return np.array([_f(row.get(f"offset[{k}]")) for k in (1, 2, 3)])

    def parent(self, axis_id: str) -> str | None:
        parent = self.axes[axis_id].get("depends_on", ".")
        return None if parent in (".", "?", "") else parent

    def transform(self, axis_id: str | None, point: np.ndarray, displacement: dict[str, float]) -> np.ndarray:
        """Lab position of `point` given in the frame of `axis_id` (following depends_on)."""
        seen = set()
        while axis_id is not None:
            if axis_id in seen or axis_id not in self.axes:
                raise InputDataError(self.path, f"broken _axis depends_on chain at '{axis_id}'")
            seen.add(axis_id)
            row = self.axes[axis_id]
            angle, disp = self.setting.get(axis_id, (0.0, 0.0))
            if row.get("type", "").lower() == "rotation":
                point = rotation_matrix(self.vector(axis_id), np.radians(angle)) @ point
            elif row.get("type", "").lower() == "translation":
                point = point + displacement.get(axis_id, disp) * self.vector(axis_id)
            point = point + self.offset(axis_id)
            axis_id = self.parent(axis_id)
        return point

    def chain(self, equipment: str) -> list[str]:
        """Axes of `equipment` from the innermost (nothing depends on it) to the root."""
        ids = [a for a, row in self.axes.items() if row.get("equipment", "").lower() == equipment]
        parents = {self.parent(a) for a in ids}
        leaves = [a for a in ids if a not in parents]
        if not leaves:
            return []
        out, axis = [], leaves[0]
        while axis is not None and axis in ids:
            out.append(axis)
            axis = self.parent(axis)
        return out


def detector_frame(cats: dict[str, list[dict[str, str]]], table: AxisTable, path: str):  # type: ignore[no-untyped-def]
    """(fast, slow, origin, pixel sizes (mm), image size) of the single array."""
    rows = sorted(cats.get("_array_structure_list", []), key=lambda r: _f(r.get("precedence"), 9))
    if len(rows) < 2:
        raise InputDataError(path, "full CBF header has no _array_structure_list")
    fast_id, slow_id = rows[0]["axis_set_id"], rows[1]["axis_set_id"]
    size = (int(_f(rows[0].get("dimension"))), int(_f(rows[1].get("dimension"))))
    incr = {r.get("axis_id"): _f(r.get("displacement_increment")) for r in cats.get("_array_structure_list_axis", [])}
    start = {r.get("axis_id"): _f(r.get("displacement")) for r in cats.get("_array_structure_list_axis", [])}
    pixel = (abs(incr.get(fast_id, 0.0)), abs(incr.get(slow_id, 0.0)))
    if min(pixel) <= 0:
        raise InputDataError(path, "full CBF header gives no pixel size (_array_structure_list_axis)")
    leaf = slow_id if table.parent(slow_id) == fast_id else fast_id

    def point(i: float, j: float) -> np.ndarray:
        disp = {fast_id: start.get(fast_id, 0.0) + i * incr[fast_id], slow_id: start.get(slow_id, 0.0) + j * incr[slow_id]}
        return table.transform(leaf, np.zeros(3), disp)

    origin = point(0, 0)
    fast = point(1, 0) - origin
    slow = point(0, 1) - origin
    return fast / np.linalg.norm(fast), slow / np.linalg.norm(slow), origin, pixel, size


def goniometer_from_axes(table: AxisTable) -> tuple[Goniometer, float, float]:
    """(goniometer, scan start deg, scan width deg); a negative increment flips the axis."""
    names = table.chain("goniometer")
    if not names:
        return Goniometer(), 0.0, 0.0
    increments = [table.increment.get(n, 0.0) for n in names]
    moving = [k for k, inc in enumerate(increments) if inc != 0.0]
    scan_axis = max(moving, key=lambda k: abs(increments[k])) if moving else len(names) - 1
    axes = [tuple(table.vector(n)) for n in names]
    angles = [table.setting.get(n, (0.0, 0.0))[0] for n in names]
    start, width = angles[scan_axis], increments[scan_axis]
    if width < 0:  # same motion about the reversed axis with positive angles
        axes[scan_axis] = tuple(-v for v in axes[scan_axis])
        start, width = -start, -width
    gonio = Goniometer.from_axes(axes, angles, names, scan_axis)  # type: ignore[arg-type]
    return gonio, start, width


@register
class FormatCBFFull(FormatCBF):
    """A CBF with a full imgCIF description of the experiment."""

    abstract = False
    gap_mask = False

    @classmethod
    def understand(cls, path: str) -> bool:
        return is_full_cbf(cbf_header(path))

    @classmethod
    def experiment_models(cls, path: str) -> ImageModels:
        header = cbf_header(path)
        mini = parse_mini_header(header)
        cats = parse_cif_categories(header.split("_array_data.data", 1)[0])
        table = AxisTable(cats, path)
        beam = cls.beam(cats, table, mini, path)
        gonio, start, width = goniometer_from_axes(table)
        frame = (cats.get("_diffrn_scan_frame") or [{}])[0]
        exposure = _f(frame.get("integration_time"), _f(frame.get("exposure_time")))
        epoch = parse_timestamp(frame.get("date", "")) or parse_timestamp(mini.get("timestamp", "")) or 0.0
        scan = make_scan(image_number(path), start, width, exposure, epoch)
        return ImageModels(beam, cls.detector(cats, table, mini, path, beam.wavelength), gonio, scan)

    @classmethod
    def beam(cls, cats, table: AxisTable, mini: dict[str, str], path: str) -> Beam:  # type: ignore[no-untyped-def]
        rows = cats.get("_diffrn_radiation_wavelength", [])
        wavelength = _f(rows[0].get("wavelength")) if rows else 0.0
        if wavelength <= 0:
            raise InputDataError(path, "full CBF header has no _diffrn_radiation_wavelength")
        direction = table.vector("SOURCE") if "SOURCE" in table.axes else np.array([0.0, 0.0, 1.0])
        flux = _f((mini.get("Flux", "0").split() or ["0"])[0])
        return Beam(direction=direction, wavelength=wavelength, flux=flux)

    @classmethod
    def detector(cls, cats, table: AxisTable, mini: dict[str, str], path: str, wavelength: float) -> Detector:  # type: ignore[no-untyped-def]
        fast, slow, origin, pixel, size = detector_frame(cats, table, path)
        intens = (cats.get("_array_intensities") or [{}])[0]
        overload = _f(intens.get("overload"), 1.0e6)
        material, thickness = sensor(mini)
        mu = mu_per_mm(material, wavelength)
        panel = Panel(
            fast_axis=fast, slow_axis=slow, origin=origin, pixel_size=pixel, image_size=size,
            trusted_range=(0.0, overload), type="SENSOR_PAD", thickness=thickness, material=material, mu=mu,
            identifier=mini.get("Detector", ""), mask=module_gap_mask(size, PILATUS_MODULES) if cls.gap_mask else (),
            px_mm_strategy=PARALLAX if material else SIMPLE,
        )
        return Detector((panel,))


@register
class FormatCBFFullPilatus(FormatCBFFull):
    """Full CBF from a Pilatus: module gaps masked, sensor from the mini-header."""

    gap_mask = True

    @classmethod
    def understand(cls, path: str) -> bool:
        return any(line.startswith("# Detector") and "PILATUS" in line.upper() for line in cbf_header(path).splitlines())


__all__ = ["AxisTable", "FormatCBFFull", "FormatCBFFullPilatus", "detector_frame", "goniometer_from_axes"]
