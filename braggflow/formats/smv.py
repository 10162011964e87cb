"""SMV images (`{ HEADER_BYTES=...; KEY=value; }` then raw uint16): ADSC CCDs and the
Stockholm University TimePix quad (electron diffraction, RED-converted)."""

from __future__ import annotations

import calendar
import functools
import os
import time

import numpy as np

from braggflow.errors import InputDataError
from braggflow.formats import compression
from braggflow.formats.base import Format, ImageModels, register
from braggflow.formats.cbf import image_number, make_scan
from braggflow.model import SIMPLE, Beam, Detector, Goniometer, Panel

SMV_MAGIC = b"{\nHEADER_BYTES="


@functools.lru_cache(maxsize=256)
def _header_cached(path: str, mtime: float, size: int) -> dict[str, str]:
    head = compression.read_head(path, 512)
    if not head.startswith(b"{") or b"HEADER_BYTES" not in head[:40]:
        return {}
    nbytes = int(head[head.index(b"=") + 1 : head.index(b";")].strip())
    if nbytes > len(head):
        head = compression.read_head(path, nbytes)
    text = head[:nbytes].decode("latin-1").split("}", 1)[0]
    out = {}
    for item in text.strip("{ \n").split(";"):
        key, sep, value = item.strip().partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def smv_header(path: str) -> dict[str, str]:
    """{KEY: value} of an SMV header ({} if the file is not SMV)."""
    try:
        st = os.stat(path)
    except OSError:
        raise InputDataError(path, "no such file") from None
    try:
        return _header_cached(path, st.st_mtime, st.st_size)
    except ValueError:
        return {}


def _value(header: dict[str, str], key: str, path: str) -> float:
    try:
        return float(header[key])
    except (KeyError, ValueError):
        raise InputDataError(path, f"SMV header has no usable {key}") from None


def _epoch(header: dict[str, str]) -> float:
    text = header.get("DATE", "").replace("PST", "").replace("PDT", "").strip()
    for fmt in ("%a %b %d %H:%M:%S %Y", "%a %b %d %H:%M:%S %Z %Y"):
        try:
            return float(calendar.timegm(time.strptime(text, fmt)))
        except ValueError:
            continue
    return 0.0


@register
class FormatSMV(Format):
    """Any SMV file (abstract)."""

    @classmethod
    def understand(cls, path: str) -> bool:
        return bool(smv_header(path))

    @classmethod
    def read_raw_array(cls, path: str, frame: int = 0) -> np.ndarray:
        header = smv_header(path)
        nx, ny = int(_value(header, "SIZE1", path)), int(_value(header, "SIZE2", path))
        if header.get("TYPE", "unsigned_short") != "unsigned_short":
            raise InputDataError(path, f"unsupported SMV pixel TYPE {header.get('TYPE')} (only unsigned_short)")
        dtype = ">u2" if header.get("BYTE_ORDER", "little_endian").startswith("big") else "<u2"
        data = compression.read_all(path)
        start = int(_value(header, "HEADER_BYTES", path))
        need = start + 2 * nx * ny
        if len(data) < need:
            raise InputDataError(path, f"truncated image: {len(data)} of {need} bytes present")
        raw = np.frombuffer(data, dtype=dtype, count=nx * ny, offset=start).reshape(ny, nx).astype(np.int32)
        pedestal = int(float(header.get("IMAGE_PEDESTAL", 0)))
        return raw - pedestal if pedestal else raw

    @classmethod
    def scan(cls, header: dict[str, str], path: str):  # type: ignore[no-untyped-def]
        return make_scan(
            image_number(path), _value(header, "OSC_START", path), _value(header, "OSC_RANGE", path),
            float(header.get("TIME", 0.0)), _epoch(header),
        )


def adsc_gain(header: dict[str, str]) -> float:
    """dxtbx's guess of the ADSC gain (ADU per photon) from the image size and binning."""
    n1, n2, px = int(header.get("SIZE1", 0)), int(header.get("SIZE2", 0)), float(header.get("PIXEL_SIZE", 0))
    models = {(2304, 0.0816): ("Q4", None), (4096, 0.0512): ("Q210", None), (2048, 0.1024): ("Q210", "2x2"),
              (6144, 0.0512): ("Q315", None), (3072, 0.1024): ("Q315", "2x2"), (4168, 0.0648): ("Q270", None),
              (2084, 0.0324): ("Q270", "2x2")}
    if n1 != n2 or (n1, px) not in models:
        return 1.0
    model, binning = models[(n1, px)]
    if model == "Q270":
        return 2.8
    if model == "Q4":
        return 1.25
    bin_level = binning or header.get("BIN", "")
    bin_type = header.get("BIN_TYPE")
    if str(bin_level).upper() == "NONE" or bin_type != "HW":
        return 2.4
    return 2.4


@register
class FormatSMVADSC(FormatSMV):
    """ADSC CCD: BEAM_CENTER_X/Y are in mm and map to slow/fast (Mosflm convention)."""

    abstract = False

    @classmethod
    def understand(cls, path: str) -> bool:
        header = smv_header(path)
        wanted = ("BEAM_CENTER_X", "BEAM_CENTER_Y", "DISTANCE", "WAVELENGTH", "PIXEL_SIZE", "OSC_START", "OSC_RANGE", "SIZE1", "SIZE2", "BYTE_ORDER")
        beamline = header.get("BEAMLINE", "").upper()
        return all(k in header for k in wanted) and beamline not in ("TIMEPIX_SU", "FAKE") and "DTREK_DATE_TIME" not in header

    @classmethod
    def experiment_models(cls, path: str) -> ImageModels:
        h = smv_header(path)
        pixel = _value(h, "PIXEL_SIZE", path)
        pedestal = float(h.get("IMAGE_PEDESTAL", 0))
        beam_fast_mm, beam_slow_mm = _value(h, "BEAM_CENTER_Y", path), _value(h, "BEAM_CENTER_X", path)
        panel = Panel(
            fast_axis=(1.0, 0.0, 0.0), slow_axis=(0.0, -1.0, 0.0),
            origin=(-beam_fast_mm, beam_slow_mm, -_value(h, "DISTANCE", path)), pixel_size=(pixel, pixel),
            image_size=(int(_value(h, "SIZE1", path)), int(_value(h, "SIZE2", path))),
            trusted_range=(max(pedestal - 1.0, 0.0) if pedestal else 0.0, 65535.0 - pedestal),
            type="SENSOR_CCD", gain=adsc_gain(h), px_mm_strategy=SIMPLE,
        )
        beam = Beam(direction=(0.0, 0.0, 1.0), wavelength=_value(h, "WAVELENGTH", path))
        return ImageModels(beam, Detector((panel,)), Goniometer(rotation_axis=(1.0, 0.0, 0.0)), cls.scan(h, path))


@register
class FormatSMVADSCSN(FormatSMVADSC):
    """ADSC with a DETECTOR_SN (dxtbx's FormatSMVADSCSN; same geometry)."""

    @classmethod
    def understand(cls, path: str) -> bool:
        return "DETECTOR_SN" in smv_header(path)


class _TimePixSU(FormatSMV):
    """TimePix quad of Stockholm University (BEAMLINE=TimePix_SU); electrons: unpolarised beam."""

    axis = (-0.755, -0.656, 0.0)

    @classmethod
    def understand(cls, path: str) -> bool:
        header = smv_header(path)
        return header.get("BEAMLINE", "").upper() == "TIMEPIX_SU"

    @classmethod
    def experiment_models(cls, path: str) -> ImageModels:
        h = smv_header(path)
        beam = Beam(direction=(0.0, 0.0, 1.0), wavelength=_value(h, "WAVELENGTH", path), polarization_fraction=0.5)
        return ImageModels(beam, cls.detector(h, path), Goniometer(rotation_axis=cls.axis), cls.scan(h, path))


def _timepix_px_to_mm(px: float, pixel: float, panel: int) -> float:
    """Beam centre px -> mm across two chips whose edge pixels are 3x wide (dxtbx rule)."""
    wide = 3 * pixel
    if px <= 1:
        return px * wide
    mm = wide
    if px <= panel - 1:
        return mm + (px - 1) * pixel
    mm += (panel - 2) * pixel
    if px <= panel:
        return mm + (px - (panel - 1)) * wide
    mm += wide
    if px <= panel + 1:
        return mm + (px - panel) * wide
    mm += wide
    if px > 2 * panel - 1:
        return mm + (panel - 2) * pixel + (px - (2 * panel - 1)) * wide
    return mm + (px - panel - 1) * pixel


@register
class FormatSMVTimePix_SU_512x512(_TimePixSU):  # noqa: N801 - dxtbx's class name
    """512 x 512 TimePix quad: four 254 x 254 panels (the 3x-wide edge pixels are left out)."""

    abstract = False

    @classmethod
    def understand(cls, path: str) -> bool:
        h = smv_header(path)
        return super().understand(path) and h.get("SIZE1") == "512" and h.get("SIZE2") == "512" and float(h.get("PIXEL_SIZE", 0)) == 0.055

    @classmethod
    def detector(cls, h: dict[str, str], path: str) -> Detector:
        pixel = _value(h, "PIXEL_SIZE", path)
        bx = _timepix_px_to_mm(_value(h, "BEAM_CENTER_X", path), pixel, 256)
        by = _timepix_px_to_mm(_value(h, "BEAM_CENTER_Y", path), pixel, 256)
        fast, slow = np.array([1.0, 0.0, 0.0]), np.array([0.0, -1.0, 0.0])
        root = np.array([0.0, 0.0, -_value(h, "DISTANCE", path)]) - bx * fast - by * slow
        second = 3 * 0.165 + (511 - 257) * pixel
        panels = []
        for k, (x0, y0, xmm, ymm) in enumerate(((1, 1, 0.165, 0.165), (257, 1, second, 0.165), (1, 257, 0.165, second), (257, 257, second, second))):
            panels.append(Panel(
                fast_axis=fast, slow_axis=slow, origin=root + xmm * fast + ymm * slow, pixel_size=(pixel, pixel),
                image_size=(254, 254), trusted_range=(0.0, 65535.0), name=f"Panel{k}", type="SENSOR_PAD",
                thickness=0.3, material="Si", raw_image_offset=(x0, y0), px_mm_strategy=SIMPLE,
            ))
        return Detector(tuple(panels))


@register
class FormatSMVTimePix_SU_516x516(_TimePixSU):  # noqa: N801 - dxtbx's class name
    """516 x 516 TimePix quad with the wide edge pixels split: one panel."""

    abstract = False
    axis = (0.7826, -0.6226, 0.0)

    @classmethod
    def understand(cls, path: str) -> bool:
        h = smv_header(path)
        return super().understand(path) and h.get("SIZE1") == "516" and h.get("SIZE2") == "516"

    @classmethod
    def detector(cls, h: dict[str, str], path: str) -> Detector:
        pixel = _value(h, "PIXEL_SIZE", path)
        bx, by = _value(h, "BEAM_CENTER_X", path) * pixel, _value(h, "BEAM_CENTER_Y", path) * pixel
        panel = Panel(
            fast_axis=(1.0, 0.0, 0.0), slow_axis=(0.0, -1.0, 0.0), origin=(-bx, by, -_value(h, "DISTANCE", path)),
            pixel_size=(pixel, pixel), image_size=(int(_value(h, "SIZE1", path)), int(_value(h, "SIZE2", path))),
            trusted_range=(0.0, 65535.0), type="SENSOR_PAD", thickness=0.3, material="Si", px_mm_strategy=SIMPLE,
        )
        return Detector((panel,))


__all__ = ["FormatSMV", "FormatSMVADSC", "FormatSMVADSCSN", "FormatSMVTimePix_SU_512x512", "FormatSMVTimePix_SU_516x516", "smv_header"]
