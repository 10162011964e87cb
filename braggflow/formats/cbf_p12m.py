"""The DLS I23 Pilatus 12M (S/N 120-0100): 24 rows of modules on a cylinder about the x axis.

Geometry as dxtbx FormatCBFMiniPilatusDLS12M (single-row mode, 24 panels of 2463 x 195):
rows are tilted 7.903 deg + 0.441 deg gap apart starting at -12.2 deg, 250 mm from the axis;
the beam centre in the header shifts the whole cylinder from the ideal (1075, 2594) px.
"""

from __future__ import annotations

import calendar
import math

import numpy as np

from braggflow.formats._cif import numbers, parse_timestamp
from braggflow.formats.attenuation import mu_per_mm
from braggflow.formats.base import register
from braggflow.formats.cbf import FormatCBFMiniPilatus, _angles, _float, _serial_is, sensor
from braggflow.model import PARALLAX, Detector, Goniometer, Panel

N_ROWS = 24
ROW_PIXELS = (2463, 195)
ROW_PITCH_PX = 195 + 17
MODULE_PX, CHIP_PX, GAP_PX = (487, 195), (60, 97), 7
PIXEL_MM = 0.172

# known dead modules: (valid after, list of (row, x0, y0, x1, y1) rectangles in panel pixels)
_BAD_MODULES = (
    (calendar.timegm((2020, 9, 8, 0, 0, 0)), ()),
    (calendar.timegm((2020, 2, 21, 0, 0, 0)), (
        (1, 4 * 494, 0, 4 * 494 + 487, 195), (17, 0, 0, 487, 195), (17, 4 * 494, 0, 4 * 494 + 487, 195),
        (15, 4 * 494 + 60, 0, 4 * 494 + 120, 97),
    )),
    (calendar.timegm((2019, 11, 26, 0, 0, 0)), ((17, 0, 0, 487, 195), (17, 4 * 494, 0, 4 * 494 + 487, 195))),
    (calendar.timegm((2019, 9, 3, 0, 0, 0)), ((15, 2 * 494, 0, 2 * 494 + 487, 195), (17, 0, 0, 487, 195))),
)


def bad_module_rectangles(epoch: float) -> dict[int, list[tuple[int, int, int, int]]]:
    for since, rects in _BAD_MODULES:
        if epoch > since:
            out: dict[int, list[tuple[int, int, int, int]]] = {}
            for row, *rect in rects:
                out.setdefault(row, []).append(tuple(rect))  # type: ignore[arg-type]
            return out
    return {}


def row_frames(beam_xy_px: tuple[float, float], distance_mm: float) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Lab (fast, slow, origin) of the 24 rows."""
    x, y, z = np.array([-1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, 1.0])
    shift_x = PIXEL_MM * (1075 - beam_xy_px[0])
    shift_y = PIXEL_MM * (2594 - beam_xy_px[1])
    root_origin = -distance_mm * z + shift_x * x + shift_y * y
    to_lab = np.column_stack([x, y, np.cross(x, y)])
    frames = []
    for j in range(N_ROWS):
        angle = math.radians(-12.2 + 0.5 * 7.903 + j * (7.903 + 0.441))
        fast = np.array([1.0, 0.0, 0.0])
        slow = np.array([0.0, math.sin(angle), math.cos(angle)])
        origin = 250.0 * np.cross(fast, slow) - 184.9 * fast - 16.8 * slow
        frames.append((to_lab @ fast, to_lab @ slow, root_origin + to_lab @ origin))
    return frames


@register
class FormatCBFMiniPilatusDLS12M(FormatCBFMiniPilatus):
    """DLS I23 curved Pilatus 12M: 24 panels (one per row of five modules)."""

    @classmethod
    def understand(cls, path: str) -> bool:
        return _serial_is(path, "S/N 120-0100")

    @classmethod
    def detector(cls, mini: dict[str, str], path: str, wavelength: float) -> Detector:
        bx, by = numbers(mini.get("Beam_xy", ""))[:2]
        distance_mm = _float(mini, "Detector_distance", path) * 1000.0
        material, thickness = sensor(mini)
        material = material or "Si"
        mu = mu_per_mm(material, wavelength)
        bad = bad_module_rectangles(parse_timestamp(mini.get("timestamp", "")) or 0.0)
        panels = []
        for j, (fast, slow, origin) in enumerate(row_frames((bx, by), distance_mm)):
            panels.append(Panel(
                fast_axis=fast, slow_axis=slow, origin=origin, pixel_size=(PIXEL_MM, PIXEL_MM),
                image_size=ROW_PIXELS, trusted_range=(0.0, 1.0e6), name=f"row-{j:02d}", type="SENSOR_PAD",
                thickness=thickness, material=material, mu=mu, raw_image_offset=(0, j * ROW_PITCH_PX),
                mask=tuple(bad.get(j, ())), px_mm_strategy=PARALLAX,
            ))
        return Detector(tuple(panels))

    @classmethod
    def goniometer(cls, mini: dict[str, str]) -> Goniometer:
        epoch = parse_timestamp(mini.get("timestamp", "")) or 0.0
        if epoch < 1459468800:  # reverse phi before 2016-04-01
            return Goniometer(rotation_axis=(-1.0, 0.0, 0.0))
        alpha = math.radians(50.0)
        axes = [(1.0, 0.0, 0.0), (math.cos(alpha), -math.sin(alpha), 0.0), (1.0, 0.0, 0.0)]
        return Goniometer.from_axes(axes, _angles(mini, "Phi", "Kappa", "Omega"), ["PHI", "KAPPA", "OMEGA"], 2)


__all__ = ["FormatCBFMiniPilatusDLS12M", "bad_module_rectangles", "row_frames"]
