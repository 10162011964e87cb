"""CBF images: mini-CBF (Pilatus, Eiger conversions, the DLS I23 12M) and their pixel data.

Header geometry is parsed here (the `#` mini-header); the byte-offset pixel data is
decoded with fabio's compiled decoder. Full imgCIF headers (an axis table) are handled by
the classes in :mod:`braggflow.formats.cbf_full`, registered under FormatCBF as well.
"""

from __future__ import annotations

import functools
import math
import os

import numpy as np
from fabio.ext.byte_offset import dec_cbf32

from braggflow.errors import InputDataError
from braggflow.formats import compression
from braggflow.formats._cif import BINARY_MARKER, numbers, parse_mime_header, parse_mini_header, parse_timestamp
from braggflow.formats.attenuation import mu_per_mm
from braggflow.formats.base import Format, ImageModels, register
from braggflow.formats.template import template_from_path
from braggflow.model import PARALLAX, SIMPLE, Beam, Detector, Goniometer, Panel, Scan

CBF_MAGIC = b"###CBF"
# (module fast, module slow, gap fast, gap slow), as dxtbx's FormatPilatusHelpers
PILATUS_MODULES = (487, 195, 7, 17)
EIGER_MODULES = ((1030, 514, 10, 37), (1028, 512, 12, 38))


# --- file access -------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def _header_cached(path: str, mtime: float, size: int) -> str:
    head = compression.read_until(path, BINARY_MARKER)
    return head.decode("latin-1")


def cbf_header(path: str) -> str:
    """All text in front of the binary data (cached per file version)."""
    try:
        st = os.stat(path)
    except OSError:
        raise InputDataError(path, "no such file") from None
    return _header_cached(path, st.st_mtime, st.st_size)


def read_cbf_array(path: str) -> np.ndarray:
    """Decode the byte-offset int32 image of a (mini or full) CBF file, [slow, fast]."""
    data = compression.read_all(path)
    start = data.find(BINARY_MARKER)
    if not data.startswith(CBF_MAGIC) or start < 0:
        raise InputDataError(path, "not a CBF file (no binary section)")
    mime = parse_mime_header(data[:start].decode("latin-1"))
    try:
        nbytes = int(mime["X-Binary-Size"])
        nfast = int(mime["X-Binary-Size-Fastest-Dimension"])
        nslow = int(mime["X-Binary-Size-Second-Dimension"])
    except (KeyError, ValueError):
        raise InputDataError(path, "CBF binary header lacks X-Binary-Size / dimensions") from None
    if "BYTE_OFFSET" not in mime.get("Content-Type", "").upper():
        raise InputDataError(path, f"unsupported CBF compression '{mime.get('Content-Type', '?')}' (only byte_offset)")
    payload = data[start + 4 : start + 4 + nbytes]
    if len(payload) < nbytes:
        raise InputDataError(path, f"truncated image: {len(payload)} of {nbytes} data bytes present")
    values = np.asarray(dec_cbf32(payload, nfast * nslow))
    if values.size != nfast * nslow:
        raise InputDataError(path, f"corrupt image data: decoded {values.size} of {nfast * nslow} pixels")
    return values.reshape(nslow, nfast)


def is_cbf(path: str) -> bool:
    return compression.read_head(path, len(CBF_MAGIC)) == CBF_MAGIC


def is_full_cbf(header: str) -> bool:
    """A header with an imgCIF axis description (dxtbx: `_diffrn.id` and `_diffrn_source`)."""
    return "_diffrn.id" in header and "_diffrn_source" in header


def detector_line(header: str) -> str:
    for line in header.splitlines():
        if line.startswith("# Detector"):
            return line
    return ""


# --- shared pieces of geometry -------------------------------------------------------------
def module_gap_mask(image_size: tuple[int, int], modules: tuple[int, int, int, int]) -> tuple[tuple[int, int, int, int], ...]:
    """Untrusted rectangles (x0, y0, x1, y1; half-open) covering the gaps between modules;
    empty if the image is not a whole number of modules plus gaps."""
    nx, ny = image_size
    mx, my, gx, gy = modules
    n_fast, rem_f = divmod(nx, mx)
    n_slow, rem_s = divmod(ny, my)
    if n_fast < 1 or n_slow < 1 or rem_f != (n_fast - 1) * gx or rem_s != (n_slow - 1) * gy:
        return ()
    rects = [((k + 1) * mx + k * gx, 0, (k + 1) * (mx + gx), ny) for k in range(n_fast - 1)]
    rects += [(0, (k + 1) * my + k * gy, nx, (k + 1) * (my + gy)) for k in range(n_slow - 1)]
    return tuple(rects)


def eiger_gap_mask(image_size: tuple[int, int]) -> tuple[tuple[int, int, int, int], ...]:
    for modules in EIGER_MODULES:
        widths = [modules[0] * j + modules[2] * (j - 1) for j in (1, 2, 3, 4)]
        if image_size[0] in widths:
            return module_gap_mask(image_size, modules)
    for modules in EIGER_MODULES:  # rotated mounting: try the transposed layout
        widths = [modules[0] * j + modules[2] * (j - 1) for j in (1, 2, 3, 4)]
        if image_size[1] in widths:
            rects = module_gap_mask((image_size[1], image_size[0]), modules)
            return tuple((y0, x0, y1, x1) for x0, y0, x1, y1 in rects)
    return ()


def sensor(mini: dict[str, str]) -> tuple[str, float]:
    """(material, thickness mm) from 'Silicon sensor, thickness 0.000320 m' (or CdTe)."""
    for key, material in (("Silicon", "Si"), ("CdTe", "CdTe")):
        if key in mini:
            vals = numbers(mini[key].split("thickness", 1)[-1])
            return material, (vals[0] * 1000.0 if vals else 0.0)
    return "", 0.0


def _float(mini: dict[str, str], key: str, path: str, default: float | None = None) -> float:
    vals = numbers(mini.get(key, ""))
    if not vals:
        if default is not None:
            return default
        raise InputDataError(path, f"mini-CBF header has no usable '{key}' line")
    return vals[0]


def image_number(path: str) -> int:
    """Image number from the file name (1 when the name carries none)."""
    number = template_from_path(path)[1]
    return 1 if number is None else number


def make_scan(number: int, start_deg: float, width_deg: float, exposure_s: float, epoch: float) -> Scan:
    return Scan(
        image_range=(number, number), oscillation_start_deg=start_deg, oscillation_width_deg=width_deg,
        exposure_times=np.array([exposure_s]), epochs=np.array([epoch]), batch_offset=number - 1,
    )


# --- mini-CBF ------------------------------------------------------------------------------
@register
class FormatCBF(Format):
    """Any CBF file (abstract root: '###CBF' magic)."""

    @classmethod
    def understand(cls, path: str) -> bool:
        return is_cbf(path)

    @classmethod
    def read_raw_array(cls, path: str, frame: int = 0) -> np.ndarray:
        if frame != 0:
            raise InputDataError(path, f"a CBF file holds one image; frame {frame} requested")
        return read_cbf_array(path)


@register
class FormatCBFMini(FormatCBF):
    """Mini-CBF: a Dectris `#` header (PILATUS_1.2 / SLS / '?' convention), no axis table."""

    abstract = False
    identifier_from_header = False
    gap_mask = "none"

    @classmethod
    def understand(cls, path: str) -> bool:
        header = cbf_header(path)
        if is_full_cbf(header):
            return False
        for line in header.splitlines():
            if line.startswith("_array_data.header_convention") and any(c in line for c in ("PILATUS", "SLS", "?", "GENERIC_MINI")):
                return True
            if line.startswith("# Detector") and "PILATUS" in line.upper():
                return True
        return False

    @classmethod
    def mini_header(cls, path: str) -> dict[str, str]:
        header = cbf_header(path)
        mini = parse_mini_header(header)
        mini.update(parse_mime_header(header))
        return mini

    @classmethod
    def experiment_models(cls, path: str) -> ImageModels:
        mini = cls.mini_header(path)
        beam = cls.beam(mini, path)
        return ImageModels(beam, cls.detector(mini, path, beam.wavelength), cls.goniometer(mini), cls.scan(mini, path))

    @classmethod
    def beam(cls, mini: dict[str, str], path: str) -> Beam:
        wavelength = _float(mini, "Wavelength", path)
        return Beam(
            direction=(0.0, 0.0, 1.0), wavelength=wavelength,
            flux=_float(mini, "Flux", path, 0.0), transmission=_float(mini, "Transmission", path, 1.0),
        )

    @classmethod
    def detector(cls, mini: dict[str, str], path: str, wavelength: float) -> Detector:
        distance_mm = _float(mini, "Detector_distance", path) * 1000.0
        bx, by = (numbers(mini.get("Beam_xy", "")) + [math.nan, math.nan])[:2]
        pixel = numbers(mini.get("Pixel_size", ""))
        if len(pixel) < 2 or math.isnan(by):
            raise InputDataError(path, "mini-CBF header lacks Pixel_size or Beam_xy")
        px, py = pixel[0] * 1000.0, pixel[1] * 1000.0
        size = (int(_float(mini, "X-Binary-Size-Fastest-Dimension", path)), int(_float(mini, "X-Binary-Size-Second-Dimension", path)))
        material, thickness = sensor(mini)
        mu = mu_per_mm(material, wavelength)
        panel = Panel(
            fast_axis=(1.0, 0.0, 0.0), slow_axis=(0.0, -1.0, 0.0), origin=(-bx * px, by * py, -distance_mm),
            pixel_size=(px, py), image_size=size,
            trusted_range=(0.0, _float(mini, "Count_cutoff", path, 1.0e6)),
            type="SENSOR_PAD", thickness=thickness, material=material, mu=mu,
            identifier=mini.get("Detector", "") if cls.identifier_from_header else "",
            mask=cls.gap_rectangles(size),
            px_mm_strategy=PARALLAX if material else SIMPLE,
        )
        return Detector((panel,))

    @classmethod
    def gap_rectangles(cls, size: tuple[int, int]) -> tuple[tuple[int, int, int, int], ...]:
        if cls.gap_mask == "pilatus":
            return module_gap_mask(size, PILATUS_MODULES)
        if cls.gap_mask == "eiger":
            return eiger_gap_mask(size)
        return ()

    @classmethod
    def goniometer(cls, mini: dict[str, str]) -> Goniometer:
        return Goniometer(rotation_axis=(1.0, 0.0, 0.0))

    @classmethod
    def scan(cls, mini: dict[str, str], path: str) -> Scan:
        epoch = parse_timestamp(mini.get("timestamp", "")) or 0.0
        return make_scan(
            image_number(path), _float(mini, "Start_angle", path, 0.0), _float(mini, "Angle_increment", path, 0.0),
            _float(mini, "Exposure_period", path, _float(mini, "Exposure_time", path, 0.0)), epoch,
        )


@register
class FormatCBFMiniPilatus(FormatCBFMini):
    """Pilatus mini-CBF: one panel, module gaps as untrusted rectangles (dxtbx default)."""

    gap_mask = "pilatus"

    @classmethod
    def understand(cls, path: str) -> bool:
        det = detector_line(cbf_header(path)).upper()
        return "EIGER" not in det and "TIMEPIX" not in det


def _serial_is(path: str, serial: str) -> bool:
    det = detector_line(cbf_header(path))
    return "PILATUS" in det.upper() and serial in cbf_header(path)


def _angles(mini: dict[str, str], *names: str) -> list[float]:
    return [(numbers(mini.get(n, "")) or [0.0])[0] for n in names]


@register
class FormatCBFMiniPilatusDLS6MSN100(FormatCBFMiniPilatus):
    """DLS I04 Pilatus 6M S/N 60-0100 (mini-kappa: phi, kappa, omega; scan about omega)."""

    @classmethod
    def understand(cls, path: str) -> bool:
        return _serial_is(path, "S/N 60-0100 Diamond")

    @classmethod
    def goniometer(cls, mini: dict[str, str]) -> Goniometer:
        axes = [(1.0, 0.0, 0.0), (0.914, 0.279, -0.297), (1.0, 0.0, 0.0)]
        return Goniometer.from_axes(axes, _angles(mini, "Phi", "Kappa", "Omega"), ["GON_PHI", "GON_KAPPA", "GON_OMEGA"], 2)


@register
class FormatCBFMiniPilatusDLS6MSN119(FormatCBFMiniPilatus):
    """DLS I24 Pilatus3 6M S/N 60-0119: vertical rotation axis (0, 1, 0), or (-1, 0, 0) when
    the header's Oscillation_axis says FAST (plate mode)."""

    @classmethod
    def understand(cls, path: str) -> bool:
        return _serial_is(path, "S/N 60-0119")

    @classmethod
    def goniometer(cls, mini: dict[str, str]) -> Goniometer:
        if "FAST" in mini.get("Oscillation_axis", "").upper():
            return Goniometer(rotation_axis=(-1.0, 0.0, 0.0))
        return Goniometer(rotation_axis=(0.0, 1.0, 0.0))


@register
class FormatCBFMiniEiger(FormatCBFMini):
    """Eiger images converted to mini-CBF: one panel, Eiger module gaps masked."""

    identifier_from_header = True
    gap_mask = "eiger"

    @classmethod
    def understand(cls, path: str) -> bool:
        return "EIGER" in detector_line(cbf_header(path)).upper()


@register
class FormatCBFMiniEigerDLS16MSN160(FormatCBFMiniEiger):
    """DLS I03/I04 Eiger 16M S/N 160-0001 on a SmarGon (phi, chi, omega; scan about omega)."""

    @classmethod
    def understand(cls, path: str) -> bool:
        return "S/N 160-0001" in cbf_header(path)

    @classmethod
    def goniometer(cls, mini: dict[str, str]) -> Goniometer:
        axes = [(1.0, 0.0, 0.0), (0.0, 0.0, -1.0), (1.0, 0.0, 0.0)]
        return Goniometer.from_axes(axes, _angles(mini, "Phi", "Chi", "Omega"), ["GON_PHI", "GON_CHI", "GON_OMEGA"], 2)


# the DLS I23 curved 12M and the full imgCIF classes register themselves on import
from braggflow.formats import cbf_full, cbf_p12m  # noqa: E402,F401

__all__ = [
    "FormatCBF",
    "FormatCBFMini",
    "FormatCBFMiniEiger",
    "FormatCBFMiniEigerDLS16MSN160",
    "FormatCBFMiniPilatus",
    "FormatCBFMiniPilatusDLS6MSN100",
    "FormatCBFMiniPilatusDLS6MSN119",
    "cbf_header",
    "eiger_gap_mask",
    "module_gap_mask",
    "read_cbf_array",
]
