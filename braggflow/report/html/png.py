"""A tiny PNG writer (zlib + struct) and colour maps, for heat maps embedded in SVG."""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np

__all__ = ["png_bytes", "png_data_uri", "colourise"]

# Anchors of a viridis-like map (perceptually ordered, prints in grey scale).
_VIRIDIS = np.array(
    [
        (68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142),
        (31, 158, 137), (53, 183, 121), (109, 205, 89), (180, 222, 44), (253, 231, 37),
    ],
    dtype=np.float64,
)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(rgba: np.ndarray) -> bytes:
    """PNG file bytes of an (h, w, 4) uint8 RGBA image (row 0 at the top)."""
    image = np.ascontiguousarray(rgba, dtype=np.uint8)
    if image.ndim != 3 or image.shape[2] != 4:
        raise ValueError(f"need an (h, w, 4) RGBA array, got shape {image.shape}")
    h, w = image.shape[:2]
    raw = np.concatenate([np.zeros((h, 1), dtype=np.uint8), image.reshape(h, w * 4)], axis=1)
    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw.tobytes(), 9)) + _chunk(b"IEND", b"")


def png_data_uri(rgba: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(rgba)).decode("ascii")


def colourise(values: np.ndarray, vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """(h, w) floats -> (h, w, 4) uint8 with the viridis-like map; NaN -> transparent."""
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    lo = float(np.nanmin(v[finite])) if vmin is None and finite.any() else (vmin or 0.0)
    hi = float(np.nanmax(v[finite])) if vmax is None and finite.any() else (vmax if vmax is not None else 1.0)
    scale = (hi - lo) if hi > lo else 1.0
    t = np.clip((np.where(finite, v, lo) - lo) / scale, 0.0, 1.0) * (len(_VIRIDIS) - 1)
    k = np.minimum(np.floor(t).astype(int), len(_VIRIDIS) - 2)
    f = (t - k)[..., None]
    rgb = (1 - f) * _VIRIDIS[k] + f * _VIRIDIS[k + 1]
    out = np.empty(v.shape + (4,), dtype=np.uint8)
    out[..., :3] = np.round(rgb).astype(np.uint8)
    out[..., 3] = np.where(finite, 255, 0)
    return out
