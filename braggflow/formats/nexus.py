"""HDF5 images: NXmx (NeXus) and DECTRIS 'nearly NeXus' Eiger master files.

Geometry comes from the NXtransformations chains. NeXus uses the McStas frame (z along the
beam, y up); every vector and offset is turned into the DIALS/imgCIF frame with
diag(-1, 1, -1). Pixel data live in /entry/data (a dataset, a virtual dataset, or external
links data_000001, ...); files that are missing give a clear error when a frame is read.
"""

from __future__ import annotations

import os

import numpy as np

from braggflow.errors import InputDataError
from braggflow.formats import compression
from braggflow.formats.attenuation import mu_per_mm
from braggflow.formats.base import Format, ImageModels, register
from braggflow.formats.cbf import eiger_gap_mask
from braggflow.model import PARALLAX, SIMPLE, Beam, Detector, Goniometer, Panel, Scan
from braggflow.model._vec import rotation_matrix

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
MCSTAS_TO_IMGCIF = np.diag([-1.0, 1.0, -1.0])
_LENGTH = {"m": 1000.0, "meter": 1000.0, "metre": 1000.0, "mm": 1.0, "millimeter": 1.0, "um": 1.0e-3, "microns": 1.0e-3, "nm": 1e-6, "cm": 10.0}
_ANGLE = {"deg": 1.0, "degree": 1.0, "degrees": 1.0, "rad": 180.0 / np.pi, "radian": 180.0 / np.pi, "radians": 180.0 / np.pi}
_MATERIAL = {"silicon": "Si", "si": "Si", "cdte": "CdTe"}


def _h5py():  # type: ignore[no-untyped-def]
    import h5py
    import hdf5plugin  # noqa: F401 - registers bitshuffle/LZ4 filters with HDF5

    return h5py


def _open(path: str):  # type: ignore[no-untyped-def]
    try:
        return _h5py().File(path, "r")
    except OSError as exc:
        raise InputDataError(path, f"cannot open as HDF5 ({exc})") from None


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return _text(value.reshape(-1)[0]) if value.size else ""
    return str(value)


def _scaled(ds, table: dict[str, float], default_unit: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    unit = _text(ds.attrs.get("units", default_unit)).strip().lower() or default_unit
    return np.atleast_1d(np.asarray(ds[()], dtype=np.float64)) * table.get(unit, 1.0)


def _length_mm(ds, default_unit: str = "m") -> float:  # type: ignore[no-untyped-def]
    return float(_scaled(ds, _LENGTH, default_unit)[0])


# --- NXtransformations ------------------------------------------------------------------
def transformation(f, path: str, frame: int = 0) -> tuple[np.ndarray, str | None]:  # type: ignore[no-untyped-def]
    """(4x4 matrix of one transformation in McStas mm, its depends_on path or None)."""
    ds = f[path]
    kind = _text(ds.attrs.get("transformation_type", "")).lower()
    vector = np.asarray(ds.attrs.get("vector", (0.0, 0.0, 0.0)), dtype=np.float64).reshape(3)
    offset = np.asarray(ds.attrs.get("offset", (0.0, 0.0, 0.0)), dtype=np.float64).reshape(3)
    offset_unit = _text(ds.attrs.get("offset_units", ds.attrs.get("units", "mm"))).lower()
    matrix = np.eye(4)
    if kind == "rotation":
        angles = _scaled(ds, _ANGLE, "deg")
        matrix[:3, :3] = rotation_matrix(vector, np.radians(angles[min(frame, angles.size - 1)]))
        matrix[:3, 3] = offset * _LENGTH.get(offset_unit, 1.0) if offset_unit in _LENGTH else offset
    else:
        values = _scaled(ds, _LENGTH, "mm")
        matrix[:3, 3] = values[min(frame, values.size - 1)] * vector + offset * _LENGTH.get(offset_unit, 1.0)
    parent = _text(ds.attrs.get("depends_on", "."))
    if parent in (".", ""):
        return matrix, None
    if not parent.startswith("/"):
        parent = path.rsplit("/", 1)[0] + "/" + parent
    return matrix, parent


def chain_matrix(f, path: str | None, frame: int = 0) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Product of the chain starting at `path` (innermost first), McStas mm."""
    result = np.eye(4)
    seen = set()
    while path is not None:
        if path in seen or path not in f:
            raise InputDataError(f.filename, f"broken NXtransformations chain at '{path}'")
        seen.add(path)
        matrix, path = transformation(f, path, frame)
        result = matrix @ result
    return result


def _to_imgcif(v: np.ndarray) -> np.ndarray:
    return MCSTAS_TO_IMGCIF @ v


def rotation_axes(f, start: str | None) -> list[tuple[str, np.ndarray, np.ndarray]]:  # type: ignore[no-untyped-def]
    """(name, imgCIF axis, angles deg) of each rotation in the chain from `start`, innermost first."""
    out = []
    path = start
    while path is not None and path in f:
        ds = f[path]
        if _text(ds.attrs.get("transformation_type", "")).lower() == "rotation":
            vector = np.asarray(ds.attrs["vector"], dtype=np.float64).reshape(3)
            out.append((path.rsplit("/", 1)[-1], _to_imgcif(vector), _scaled(ds, _ANGLE, "deg")))
        path = transformation(f, path)[1]
    return out


def goniometer_and_scan(f, path: str) -> tuple[Goniometer, Scan]:  # type: ignore[no-untyped-def]
    start = _text(f["/entry/sample/depends_on"][()]) if "/entry/sample/depends_on" in f else None
    axes = rotation_axes(f, start) if start else []
    if not axes:
        raise InputDataError(path, "NXmx file has no rotation axes under /entry/sample/depends_on")
    scan_axis = max(range(len(axes)), key=lambda k: (axes[k][2].size, float(np.ptp(axes[k][2]))))
    angles = axes[scan_axis][2]
    width = float(angles[1] - angles[0]) if angles.size > 1 else 0.0
    names = [a[0] for a in axes]
    inc_name = f"/entry/sample/transformations/{names[scan_axis]}_increment_set"
    if angles.size <= 1 and inc_name in f:
        width = float(np.atleast_1d(f[inc_name][()])[0])
    gonio = Goniometer.from_axes([tuple(a[1]) for a in axes], [float(a[2][0]) for a in axes], names, scan_axis)  # type: ignore[misc]
    n = int(angles.size) if angles.size > 1 else _num_frames(f)
    det = "/entry/instrument/detector/count_time"
    exposure = float(np.atleast_1d(f[det][()])[0]) if det in f else 0.0
    scan = Scan(image_range=(1, n), oscillation_start_deg=float(angles[0]), oscillation_width_deg=width,
                exposure_times=np.full(n, exposure), epochs=np.zeros(n))
    return gonio, scan


def _num_frames(f) -> int:  # type: ignore[no-untyped-def]
    data = f.get("/entry/data")
    if data is not None and "data" in data:
        return int(data.get("data").shape[0])
    nimages = f.get("/entry/instrument/detector/detectorSpecific/nimages")
    return int(nimages[()]) if nimages is not None else 1


def _sensor(det, wavelength: float) -> tuple[str, float, float]:  # type: ignore[no-untyped-def]
    material = _MATERIAL.get(_text(det["sensor_material"][()]).strip().lower(), "") if "sensor_material" in det else ""
    thickness = _length_mm(det["sensor_thickness"], "m") if "sensor_thickness" in det else 0.0
    return material, thickness, mu_per_mm(material, wavelength)


def _pixel_mask_array(f) -> np.ndarray | None:  # type: ignore[no-untyped-def]
    for name in ("/entry/instrument/detector/pixel_mask", "/entry/instrument/detector/detectorSpecific/pixel_mask"):
        if name in f:
            return np.asarray(f[name][()]) != 0
    return None


class _HDF5(Format):
    multi_frame = True

    @classmethod
    def num_frames(cls, path: str) -> int:
        with _open(path) as f:
            return _num_frames(f)

    @classmethod
    def pixel_mask(cls, path: str, detector: Detector) -> tuple[np.ndarray | None, ...]:
        with _open(path) as f:
            mask = _pixel_mask_array(f)
        if mask is None:
            return tuple(None for _ in detector.panels)
        from braggflow.formats.base import split_panels

        return split_panels(mask, detector, path)

    @classmethod
    def read_raw_array(cls, path: str, frame: int = 0) -> np.ndarray:
        with _open(path) as f:
            data = read_frame(f, path, frame)
        if data.dtype.kind == "u":
            bad = data == np.iinfo(data.dtype).max  # gap / dead pixel flag 2^bits - 1
            data = np.clip(data, 0, np.iinfo(np.int32).max).astype(np.int32)
            data[bad] = -1
        return data.astype(np.int32, copy=False) if data.dtype.kind in "iu" else data.astype(np.float32)


def read_frame(f, path: str, frame: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """One frame from /entry/data, checking that every linked data file exists."""
    if "/entry/data" not in f:
        raise InputDataError(path, "no /entry/data group: this file holds no images")
    group = f["/entry/data"]
    folder = os.path.dirname(os.path.abspath(path))
    for key in group:
        link = group.get(key, getlink=True)
        if isinstance(link, _h5py().ExternalLink) and not os.path.exists(os.path.join(folder, link.filename)):
            raise InputDataError(path, f"image data file {link.filename} (linked as /entry/data/{key}) is missing")
    if "data" in group:
        ds = group["data"]
        if ds.is_virtual:
            for source in ds.virtual_sources():
                if source.file_name != "." and not os.path.exists(os.path.join(folder, source.file_name)):
                    raise InputDataError(path, f"image data file {source.file_name} (virtual dataset source) is missing")
        if not 0 <= frame < ds.shape[0]:
            raise InputDataError(path, f"frame {frame + 1} requested but the file has {ds.shape[0]}")
        return np.asarray(ds[frame])
    first = 0
    for key in sorted(k for k in group if k.startswith("data_")):
        ds = group[key]
        if frame < first + ds.shape[0]:
            return np.asarray(ds[frame - first])
        first += ds.shape[0]
    raise InputDataError(path, f"frame {frame + 1} requested but the file has {first}")


@register
class FormatHDF5(_HDF5):
    """Any HDF5 file (abstract root)."""

    @classmethod
    def understand(cls, path: str) -> bool:
        return compression.read_head(path, 8) == HDF5_MAGIC


@register
class FormatNXmx(FormatHDF5):
    """NeXus NXmx master file (geometry from NXtransformations, McStas -> imgCIF)."""

    abstract = False

    @classmethod
    def understand(cls, path: str) -> bool:
        with _open(path) as f:
            return "/entry/definition" in f and _text(f["/entry/definition"][()]).strip() == "NXmx" and "/entry/instrument" in f

    @classmethod
    def experiment_models(cls, path: str) -> ImageModels:
        with _open(path) as f:
            beam = nxmx_beam(f, path)
            gonio, scan = goniometer_and_scan(f, path)
            detector = nxmx_detector(f, path, beam.wavelength)
        return ImageModels(beam, detector, gonio, scan)


def nxmx_beam(f, path: str) -> Beam:  # type: ignore[no-untyped-def]
    name = "/entry/instrument/beam/incident_wavelength"
    if name not in f:
        name = "/entry/sample/beam/incident_wavelength"
    if name not in f:
        raise InputDataError(path, "NXmx file has no incident_wavelength")
    ds = f[name]
    wavelength = float(_scaled(ds, {"angstrom": 1.0, "a": 1.0, "nm": 10.0, "m": 1e10}, "angstrom")[0])
    flux_name = name.rsplit("/", 1)[0] + "/total_flux"
    flux = float(np.atleast_1d(f[flux_name][()])[0]) if flux_name in f else 0.0
    return Beam(direction=_to_imgcif(np.array([0.0, 0.0, -1.0])), wavelength=wavelength, flux=flux)


def nxmx_detector(f, path: str, wavelength: float) -> Detector:  # type: ignore[no-untyped-def]
    det = f["/entry/instrument/detector"]
    modules = [k for k in det if _text(det[k].attrs.get("NX_class", "")) == "NXdetector_module"]
    if not modules:
        raise InputDataError(path, "NXmx detector has no NXdetector_module")
    material, thickness, mu = _sensor(det, wavelength)
    saturation = float(np.atleast_1d(det["saturation_value"][()])[0]) if "saturation_value" in det else 1.0e6
    has_mask = _pixel_mask_array(f) is not None
    panels = []
    for name in modules:
        base = f"/entry/instrument/detector/{name}"
        fast_ds, slow_ds = f[base + "/fast_pixel_direction"], f[base + "/slow_pixel_direction"]
        parent = transformation(f, fast_ds.name)[1]
        m_parent = chain_matrix(f, parent)
        m_fast = m_parent @ transformation(f, fast_ds.name)[0]
        m_slow = chain_matrix(f, slow_ds.name)
        origin = _to_imgcif(m_fast[:3, :3] @ np.zeros(3) + m_parent[:3, 3])
        fast = _to_imgcif(m_parent[:3, :3] @ np.asarray(fast_ds.attrs["vector"], dtype=float))
        slow = _to_imgcif(m_parent[:3, :3] @ np.asarray(slow_ds.attrs["vector"], dtype=float))
        del m_slow
        pixel = (_length_mm(fast_ds, "m"), _length_mm(slow_ds, "m"))
        size = tuple(int(v) for v in np.asarray(f[base + "/data_size"][()]).reshape(-1)[:2])
        origin_px = np.asarray(f[base + "/data_origin"][()]).reshape(-1)[:2] if base + "/data_origin" in f else (0, 0)
        panels.append(Panel(
            fast_axis=fast, slow_axis=slow, origin=origin, pixel_size=pixel, image_size=size,  # type: ignore[arg-type]
            trusted_range=(0.0, saturation), name=base, type="SENSOR_PAD", thickness=thickness, material=material,
            mu=mu, raw_image_offset=(max(int(origin_px[0]), 0), max(int(origin_px[1]), 0)),
            mask=() if has_mask else eiger_gap_mask(size), px_mm_strategy=PARALLAX if material else SIMPLE,  # type: ignore[arg-type]
            identifier=_text(det["description"][()]) if "description" in det else "",
        ))
    return Detector(tuple(panels))


@register
class FormatHDF5EigerNearlyNexus(FormatHDF5):
    """DECTRIS Eiger master file without NXmx transformations (beam centre, distance)."""

    abstract = False

    @classmethod
    def understand(cls, path: str) -> bool:
        with _open(path) as f:
            return "/entry/instrument/detector/detectorSpecific" in f and "/entry/instrument/detector/beam_center_x" in f

    @classmethod
    def experiment_models(cls, path: str) -> ImageModels:
        with _open(path) as f:
            det = f["/entry/instrument/detector"]
            spec = det["detectorSpecific"]
            beam = nxmx_beam(f, path)
            size = (int(spec["x_pixels_in_detector"][()]), int(spec["y_pixels_in_detector"][()]))
            pixel = (_length_mm(det["x_pixel_size"]), _length_mm(det["y_pixel_size"]))
            bx, by = float(det["beam_center_x"][()]), float(det["beam_center_y"][()])
            distance = _length_mm(det["detector_distance"])
            material, thickness, mu = _sensor(det, beam.wavelength)
            cutoff = float(spec["countrate_correction_count_cutoff"][()]) if "countrate_correction_count_cutoff" in spec else 1.0e6
            panel = Panel(
                fast_axis=(1.0, 0.0, 0.0), slow_axis=(0.0, -1.0, 0.0), origin=(-bx * pixel[0], by * pixel[1], -distance),
                pixel_size=pixel, image_size=size, trusted_range=(0.0, cutoff), type="SENSOR_PAD", thickness=thickness,
                material=material, mu=mu, px_mm_strategy=PARALLAX if material else SIMPLE,
                identifier=_text(det["description"][()]) if "description" in det else "",
                mask=() if _pixel_mask_array(f) is not None else eiger_gap_mask(size),
            )
            gon = "/entry/sample/goniometer/"
            start = float(np.atleast_1d(f[gon + "omega"][()])[0]) if gon + "omega" in f else 0.0
            width = float(f[gon + "omega_range_average"][()]) if gon + "omega_range_average" in f else 0.0
            n = _num_frames(f)
            exposure = float(det["count_time"][()]) if "count_time" in det else 0.0
            scan = Scan(image_range=(1, n), oscillation_start_deg=start, oscillation_width_deg=width,
                        exposure_times=np.full(n, exposure), epochs=np.zeros(n))
        return ImageModels(beam, Detector((panel,)), Goniometer(rotation_axis=(1.0, 0.0, 0.0)), scan)


__all__ = ["FormatHDF5", "FormatHDF5EigerNearlyNexus", "FormatNXmx", "chain_matrix", "read_frame", "transformation"]
