"""Write mini-CBF images (Pilatus convention) with byte-offset compression.

A file is the CIF header with the Pilatus ``# `` lines (algorithms.md 2.1), then one MIME
binary section: ``Content-Type: application/octet-stream; conversions="x-CBF_BYTE_OFFSET"``,
``X-Binary-*`` keys, ``Content-MD5`` (base64 MD5 of the compressed bytes), a blank line, the
4 bytes ``0C 1A 04 D5``, the compressed stream and 4095 zero padding bytes. Lines end with
CRLF, as the detector software writes them.

The byte-offset encoder (algorithms.md 2.2) emits a 1-byte delta for -127..127, else 0x80
and a 2-byte delta for -32767..32767, else 0x80 0x00 0x80 and a 4-byte delta. A jump between
int32 values larger than 2**31 - 1 is written as its 32-bit wrap-around (d -/+ 2**32), which
every int32 decoder (CBFlib, fabio, braggflow) turns back into the exact value; the 8-byte
form is never written (fabio mis-reads it).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np

from braggflow._numba import jit

__all__ = ["PilatusHeader", "encode_byte_offset", "pilatus_header_lines", "write_cbf", "cbf_bytes"]

BINARY_START = b"\x0c\x1a\x04\xd5"
PADDING = 4095


@jit
def _encoded_size(flat):  # pragma: no cover - numba
    prev = np.int64(0)
    size = 0
    for i in range(flat.shape[0]):
        cur = np.int64(flat[i])
        d = cur - prev
        prev = cur
        if d > 2147483647:
            d -= 4294967296
        elif d < -2147483647:
            d += 4294967296
        if -127 <= d <= 127:
            size += 1
        elif -32767 <= d <= 32767:
            size += 3
        else:
            size += 7
    return size


@jit
def _encode(flat, out):  # pragma: no cover - numba
    prev = np.int64(0)
    k = 0
    for i in range(flat.shape[0]):
        cur = np.int64(flat[i])
        d = cur - prev
        prev = cur
        if d > 2147483647:
            d -= 4294967296
        elif d < -2147483647:
            d += 4294967296
        if -127 <= d <= 127:
            out[k] = np.uint8(d & 0xFF)
            k += 1
            continue
        out[k] = 0x80
        k += 1
        if -32767 <= d <= 32767:
            out[k] = np.uint8(d & 0xFF)
            out[k + 1] = np.uint8((d >> 8) & 0xFF)
            k += 2
            continue
        out[k] = 0x00
        out[k + 1] = 0x80
        k += 2
        for b in range(4):
            out[k + b] = np.uint8((d >> (8 * b)) & 0xFF)
        k += 4
    return k


def encode_byte_offset(data: np.ndarray) -> bytes:
    """Byte-offset compress an int32 array (any shape; C order) into bytes."""
    flat = np.ascontiguousarray(data, dtype=np.int32).reshape(-1)
    out = np.empty(_encoded_size(flat), dtype=np.uint8)
    n = _encode(flat, out)
    return out[:n].tobytes()


@dataclass(frozen=True, kw_only=True)
class PilatusHeader:
    """Values for the ``# `` header lines; units as written in the file are converted here.

    pixel_size_mm (fast, slow); beam_xy_px (fast, slow) pixels; distance_mm; wavelength_A;
    start_angle_deg, angle_increment_deg; times in seconds; count_cutoff counts.
    """

    detector: str = "PILATUS 6M, S/N 60-0000 braggflow simulated"
    timestamp: str = "2024-01-01T00:00:00.000"
    pixel_size_mm: tuple[float, float] = (0.172, 0.172)
    sensor_material: str = "Silicon"
    sensor_thickness_mm: float = 0.32
    exposure_time_s: float = 0.1
    exposure_period_s: float = 0.1
    count_cutoff: int = 1048500
    wavelength_A: float = 0.97625
    distance_mm: float = 264.84
    beam_xy_px: tuple[float, float] = (1231.5, 1263.5)
    flux: float = 0.0
    transmission: float = 1.0
    start_angle_deg: float = 0.0
    angle_increment_deg: float = 0.15
    polarization: float = 0.99
    oscillation_axis: str = "X, CW"
    header_convention: str = "PILATUS_1.2"


def pilatus_header_lines(h: PilatusHeader) -> list[str]:
    """The ``# `` lines of ``_array_data.header_contents`` in the detector's order."""
    p0, p1 = (v * 1e-3 for v in h.pixel_size_mm)
    return [
        f"# Detector: {h.detector}",
        f"# {h.timestamp}",
        f"# Pixel_size {p0 * 1e6:.0f}e-6 m x {p1 * 1e6:.0f}e-6 m",
        f"# {h.sensor_material} sensor, thickness {h.sensor_thickness_mm * 1e-3:.6f} m",
        f"# Exposure_time {h.exposure_time_s:.7f} s",
        f"# Exposure_period {h.exposure_period_s:.7f} s",
        "# Tau = 0 s",
        f"# Count_cutoff {int(h.count_cutoff)} counts",
        "# Threshold_setting: 0 eV",
        "# Gain_setting: simulated (vrf = 1.000)",
        "# N_excluded_pixels = 0",
        "# Excluded_pixels: (nil)",
        "# Flat_field: (nil)",
        "# Trim_file: (nil)",
        "# Image_path: (nil)",
        f"# Wavelength {h.wavelength_A:.5f} A",
        f"# Detector_distance {h.distance_mm * 1e-3:.6f} m",
        f"# Beam_xy ({h.beam_xy_px[0]:.2f}, {h.beam_xy_px[1]:.2f}) pixels",
        f"# Flux {h.flux:.6f}",
        f"# Filter_transmission {h.transmission:.4f}",
        f"# Start_angle {h.start_angle_deg:.4f} deg.",
        f"# Angle_increment {h.angle_increment_deg:.4f} deg.",
        "# Detector_2theta 0.0000 deg.",
        f"# Polarization {h.polarization:.3f}",
        "# Alpha 0.0000 deg.",
        "# Kappa 0.0000 deg.",
        f"# Phi {h.start_angle_deg:.4f} deg.",
        f"# Phi_increment {h.angle_increment_deg:.4f} deg.",
        "# Chi 0.0000 deg.",
        "# Chi_increment 0.0000 deg.",
        f"# Oscillation_axis {h.oscillation_axis}",
        "# N_oscillations 1",
    ]


def cbf_bytes(data: np.ndarray, header: PilatusHeader, *, name: str = "image") -> bytes:
    """The complete mini-CBF file for a (n_slow, n_fast) int32 image."""
    data = np.ascontiguousarray(data, dtype=np.int32)
    if data.ndim != 2:
        raise ValueError(f"a CBF image is 2-D, got shape {data.shape}")
    n_slow, n_fast = data.shape
    binary = encode_byte_offset(data)
    md5 = base64.b64encode(hashlib.md5(binary).digest()).decode("ascii")
    lines = [
        "###CBF: VERSION 1.5, CBFlib v0.7.8 - PILATUS detectors (braggflow simulated)",
        "",
        f"data_{name}",
        "",
        f'_array_data.header_convention "{header.header_convention}"',
        "_array_data.header_contents",
        ";",
        *pilatus_header_lines(header),
        ";",
        "",
        "_array_data.data",
        ";",
        "--CIF-BINARY-FORMAT-SECTION--",
        "Content-Type: application/octet-stream;",
        '     conversions="x-CBF_BYTE_OFFSET"',
        "Content-Transfer-Encoding: BINARY",
        f"X-Binary-Size: {len(binary)}",
        "X-Binary-ID: 1",
        'X-Binary-Element-Type: "signed 32-bit integer"',
        "X-Binary-Element-Byte-Order: LITTLE_ENDIAN",
        f"Content-MD5: {md5}",
        f"X-Binary-Number-of-Elements: {n_slow * n_fast}",
        f"X-Binary-Size-Fastest-Dimension: {n_fast}",
        f"X-Binary-Size-Second-Dimension: {n_slow}",
        f"X-Binary-Size-Padding: {PADDING}",
        "",
        "",
    ]
    head = "\r\n".join(lines).encode("ascii")
    tail = b"\x00" * PADDING + b"\r\n--CIF-BINARY-FORMAT-SECTION----\r\n;\r\n\r\n"
    return head + BINARY_START + binary + tail


def write_cbf(
    path: str | PathLike[str], data: np.ndarray, header: PilatusHeader, *, gz: bool = False
) -> Path:
    """Write one mini-CBF image atomically (``.gz`` appended to the name when gz=True)."""
    path = Path(path)
    if gz and path.suffix != ".gz":
        path = path.with_name(path.name + ".gz")
    stem = path.name.split(".cbf")[0]
    blob = cbf_bytes(data, header, name=stem)
    if gz:
        blob = gzip.compress(blob, compresslevel=1, mtime=0)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(blob)
    os.replace(tmp, path)
    return path
