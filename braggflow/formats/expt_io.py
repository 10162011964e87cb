"""Read and write DIALS experiment lists (``.expt`` / ``.json``), algorithms.md 1.8.

Layout written (the one DIALS 3.12 writes itself, ``json.dump(indent=2)``)::

    {"__id__": "ExperimentList",
     "experiment": [{"__id__": "Experiment", "identifier": ..., "beam": 0, ..., "imageset": 0}],
     "imageset": [...], "beam": [...], "detector": [...], "goniometer": [...],
     "scan": [...], "crystal": [...], "profile": [...], "scaling_model": [...]}

Models shared by several experiments (the same Python object) are written once and
referenced by index. DIALS 3.12 conventions kept on writing: beams without ``__id__``/
``probe`` (``probe`` is added only for non-X-ray beams), scans with the top-level
``oscillation: [start, width]``, ``exposure_time`` and ``epochs`` (newer files with
``properties`` are read too), Hall symbols in cctbx style (" P 4 2", reference Hall plus
"(change of basis)" for other settings), a trusted range whose inclusive lower bound 0 is
written as DIALS 3.12's exclusive -1 (read back as 0), image paths written absolute (as
``dials.import`` does) unless ``relative_paths=True``; relative paths in a file are resolved
against the file's folder, as DIALS does. Flat detectors get DIALS's identity root group;
a non-trivial hierarchy is composed down to lab-frame panel vectors on reading and kept
(``Detector.hierarchy``) so that panels are written back in their parent's frame.

Mask/gain/pedestal/dx/dy paths point at DIALS pickles: a ``.pickle`` mask path is kept,
everything else is written ``null`` (braggflow keeps its own masks in ``.npz`` files).

Exact rewrite: every model read from a file remembers the file's values (and keys braggflow
does not model, e.g. ``projection_2d``, ``s0_at_scan_points``, ``recalculated_unit_cell``).
While the model is unchanged they are written back verbatim, so reading and re-writing a file
reproduces its numbers bit for bit; a model made by ``replace()`` is written from its fields.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from os import PathLike
from pathlib import Path

import gemmi
import numpy as np

from braggflow.errors import InputDataError
from braggflow.model import (
    SIMPLE,
    Beam,
    Crystal,
    Detector,
    Experiment,
    ExperimentList,
    Goniometer,
    ImageSetRef,
    Panel,
    ProfileModel,
    Scan,
)
from braggflow.model._vec import unit

__all__ = ["read_experiments", "write_experiments", "experiments_from_dict", "experiments_to_dict", "hall_symbol"]

_MODELS = ("imageset", "beam", "detector", "goniometer", "scan", "crystal", "profile", "scaling_model")
_EXPERIMENT_KEYS = ("beam", "detector", "goniometer", "scan", "crystal", "profile", "scaling_model", "imageset")
_CACHE = "_expt_json"  # (dict as braggflow writes the model, dict with the file's exact values)


class _Bad(Exception):
    """Internal: malformed content; the message is completed with the file name."""


# ---------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------
def read_experiments(path: str | PathLike[str]) -> ExperimentList:
    """Read a DIALS experiment list; InputDataError(path, ...) if it cannot."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputDataError(path, "no such file; check the path of the experiment list") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputDataError(path, f"cannot read the file ({exc.__class__.__name__}); check it is a DIALS .expt") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputDataError(path, f"is not valid JSON (line {exc.lineno}: {exc.msg}); give a DIALS .expt file") from None
    return experiments_from_dict(data, path.absolute().parent, source=path)


def write_experiments(
    experiments: list[Experiment], path: str | PathLike[str], *, relative_paths: bool = False
) -> None:
    """Write ``experiments`` as a DIALS experiment list (atomic: temp file, then rename)."""
    path = Path(path)
    text = json.dumps(experiments_to_dict(experiments, path.absolute().parent, relative_paths=relative_paths), indent=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)  # DIALS writes no final newline
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def experiments_from_dict(
    d: object, base_dir: str | PathLike[str], *, source: object = None
) -> ExperimentList:
    """ExperimentList from a parsed ``.expt`` dict; relative image paths resolve against base_dir."""
    where = source if source is not None else "<experiment list>"
    if not isinstance(d, dict) or d.get("__id__") != "ExperimentList":
        raise InputDataError(where, 'is not a DIALS experiment list (no "__id__": "ExperimentList"); give an .expt file')
    readers: dict[str, Callable[[dict], object]] = {
        "beam": _beam_from_dict,
        "detector": _detector_from_dict,
        "goniometer": _goniometer_from_dict,
        "scan": _scan_from_dict,
        "crystal": _crystal_from_dict,
        "profile": _profile_from_dict,
        "scaling_model": dict,
        "imageset": lambda m: _imageset_from_dict(m, Path(base_dir)),
    }
    try:
        models = {key: [readers[key](_need_dict(m, key)) for m in d.get(key) or []] for key in _MODELS}
        out = ExperimentList()
        for i, e in enumerate(d.get("experiment") or []):
            e = _need_dict(e, "experiment")
            kwargs = {key: _pick(models[key], e[key], key, i) for key in _EXPERIMENT_KEYS if e.get(key) is not None}
            out.append(Experiment(identifier=str(e.get("identifier") or ""), **kwargs))
    except InputDataError:
        raise
    except (_Bad, KeyError, IndexError, TypeError, ValueError, RuntimeError, np.linalg.LinAlgError) as exc:
        what = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise InputDataError(where, f"malformed experiment list: {what}; re-create it with dials/braggflow import") from None
    return out


def experiments_to_dict(
    experiments: list[Experiment], base_dir: str | PathLike[str] | None = None, *, relative_paths: bool = False
) -> dict:
    """The ``.expt`` dict of ``experiments``; image paths relative to base_dir if relative_paths."""
    writers: dict[str, Callable[[object], dict]] = {
        "beam": lambda m: _recall(m, _beam_to_dict(m)),
        "detector": lambda m: _recall(m, _detector_to_dict(m)),
        "goniometer": lambda m: _recall(m, _goniometer_to_dict(m)),
        "scan": lambda m: _recall(m, _scan_to_dict(m)),
        "crystal": lambda m: _recall(m, _crystal_to_dict(m)),
        "profile": lambda m: _recall(m, _profile_to_dict(m)),
        "scaling_model": lambda m: _plain(m),
        "imageset": lambda m: _imageset_to_dict(m, base_dir if relative_paths else None),
    }
    lists: dict[str, list] = {key: [] for key in _MODELS}
    seen: dict[str, list] = {key: [] for key in _MODELS}
    rows = []
    for e in experiments:
        row: dict = {"__id__": "Experiment", "identifier": e.identifier}
        for key in _EXPERIMENT_KEYS:
            model = getattr(e, key)
            if model is None:
                continue
            index = next((j for j, m in enumerate(seen[key]) if m is model), None)
            if index is None:
                index = len(seen[key])
                seen[key].append(model)
                lists[key].append(writers[key](model))
            row[key] = index
        rows.append(row)
    return {"__id__": "ExperimentList", "experiment": rows, **lists}


# ---------------------------------------------------------------------------------------
# helpers: exact values, plain JSON
# ---------------------------------------------------------------------------------------
def _need_dict(value: object, key: str) -> dict:
    if not isinstance(value, dict):
        raise _Bad(f"an entry of '{key}' is not a JSON object")
    return value


def _pick(models: list, index: object, key: str, i: int) -> object:
    if not isinstance(index, int) or not 0 <= index < len(models):
        raise _Bad(f"experiment {i} refers to {key} {index!r} but the file has {len(models)}")
    return models[index]


def _plain(value: object) -> object:
    """JSON-ready copy: numpy scalars/arrays to Python numbers/lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    return value


def _floats(value: object) -> object:
    """Like _plain but every number becomes a float (vectors and matrices); strings stay."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_floats(v) for v in value]
    return value if isinstance(value, str) else float(value)  # type: ignore[arg-type]


def _remember(model: object, d: dict, exact_keys: tuple[str, ...], known: tuple[str, ...] = ()) -> object:
    """Attach the file's exact values to a model just read (see the module docstring)."""
    written = _to_dict_of(model)
    exact = dict(written)
    for key in exact_keys:
        if key in d and key in exact:
            exact[key] = _floats(d[key])
    for key, value in d.items():
        if key not in exact and key not in known:
            exact[key] = value
    object.__setattr__(model, _CACHE, (written, exact))
    return model


def _recall(model: object, written: dict) -> dict:
    cache = getattr(model, _CACHE, None)
    return cache[1] if cache is not None and cache[0] == written else written


def _to_dict_of(model: object) -> dict:
    for cls, fn in (
        (Beam, _beam_to_dict), (Detector, _detector_to_dict), (Goniometer, _goniometer_to_dict),
        (Scan, _scan_to_dict), (Crystal, _crystal_to_dict), (ProfileModel, _profile_to_dict),
    ):
        if isinstance(model, cls):
            return fn(model)  # type: ignore[operator]
    raise TypeError(type(model).__name__)


# ---------------------------------------------------------------------------------------
# beam
# ---------------------------------------------------------------------------------------
def _beam_from_dict(d: dict) -> Beam:
    if d.get("__id__", "monochromatic") != "monochromatic":
        raise _Bad(f"beam type '{d['__id__']}' is not supported (only monochromatic beams)")
    beam = Beam(
        direction=d["direction"],
        wavelength=float(d["wavelength"]),
        divergence=float(d.get("divergence", 0.0)),
        sigma_divergence=float(d.get("sigma_divergence", 0.0)),
        polarization_normal=d.get("polarization_normal", (0.0, 1.0, 0.0)),
        polarization_fraction=float(d.get("polarization_fraction", 0.999)),
        flux=float(d.get("flux", 0.0)),
        transmission=float(d.get("transmission", 1.0)),
        probe=str(d.get("probe", "x-ray")),
        sample_to_source_distance=float(d.get("sample_to_source_distance", 0.0)),
    )
    return _remember(beam, d, ("direction",), ("__id__", "probe", "sample_to_source_distance"))  # type: ignore[return-value]


def _beam_to_dict(b: Beam) -> dict:
    out = {
        "direction": _floats(b.direction),
        "wavelength": float(b.wavelength),
        "divergence": float(b.divergence),
        "sigma_divergence": float(b.sigma_divergence),
        "polarization_normal": _floats(b.polarization_normal),
        "polarization_fraction": float(b.polarization_fraction),
        "flux": float(b.flux),
        "transmission": float(b.transmission),
    }
    if b.probe != "x-ray":
        out["probe"] = b.probe
    if b.sample_to_source_distance != 0.0:
        out["sample_to_source_distance"] = float(b.sample_to_source_distance)
    return out


# ---------------------------------------------------------------------------------------
# detector (panels + hierarchy)
# ---------------------------------------------------------------------------------------
_IDENTITY_FRAME = (np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]), np.zeros(3))


def _compose(parent: tuple, fast: object, slow: object, origin: object) -> tuple:
    """Lab (fast, slow, origin) of a frame stored in its parent's frame (f_p, s_p, o_p)."""
    f_p, s_p, o_p = parent
    basis = np.column_stack([f_p, s_p, unit(np.cross(f_p, s_p))])
    return basis @ np.asarray(fast, float), basis @ np.asarray(slow, float), o_p + basis @ np.asarray(origin, float)


def _decompose(parent: tuple, fast: np.ndarray, slow: np.ndarray, origin: np.ndarray) -> tuple:
    """Inverse of _compose: a lab frame expressed in the parent's frame."""
    f_p, s_p, o_p = parent
    inv = np.linalg.inv(np.column_stack([f_p, s_p, unit(np.cross(f_p, s_p))]))
    return inv @ fast, inv @ slow, inv @ (origin - o_p)


def _panel_parents(hierarchy: dict | None, n_panels: int) -> list[tuple] | None:
    """Lab frame of each panel's parent group, or None if the hierarchy is flat/unusable."""
    if not isinstance(hierarchy, dict) or "children" not in hierarchy:
        return None
    parents: list = [None] * n_panels
    root = _compose(_IDENTITY_FRAME, hierarchy["fast_axis"], hierarchy["slow_axis"], hierarchy["origin"])
    stack = [(hierarchy, root)]
    trivial = all(np.allclose(a, b, atol=1e-12) for a, b in zip(root, _IDENTITY_FRAME))
    while stack:
        group, frame = stack.pop()
        for child in group.get("children", []):
            if "panel" in child:
                i = int(child["panel"])
                if not 0 <= i < n_panels or parents[i] is not None:
                    raise _Bad(f"detector hierarchy refers to panel {i} twice or out of range")
                parents[i] = frame
            else:
                trivial = False
                stack.append((child, _compose(frame, child["fast_axis"], child["slow_axis"], child["origin"])))
    if any(p is None for p in parents):
        raise _Bad("detector hierarchy does not contain every panel")
    return None if trivial else parents


def _panel_from_dict(d: dict, parent: tuple) -> Panel:
    fast, slow, origin = _compose(parent, d["fast_axis"], d["slow_axis"], d["origin"])
    t_min, t_max = (float(v) for v in d.get("trusted_range", (0.0, 1.0e6)))
    return Panel(
        fast_axis=fast,
        slow_axis=slow,
        origin=origin,
        pixel_size=tuple(d["pixel_size"]),  # type: ignore[arg-type]
        image_size=tuple(d["image_size"]),  # type: ignore[arg-type]
        trusted_range=(0.0 if t_min == -1.0 else t_min, t_max),
        name=str(d.get("name", "Panel")),
        type=str(d.get("type", "SENSOR_UNKNOWN")),
        thickness=float(d.get("thickness", 0.0)),
        material=str(d.get("material", "")),
        mu=float(d.get("mu", 0.0)),
        gain=float(d.get("gain", 1.0)),
        pedestal=float(d.get("pedestal", 0.0)),
        identifier=str(d.get("identifier", "")),
        raw_image_offset=tuple(d.get("raw_image_offset", (0, 0))),  # type: ignore[arg-type]
        mask=tuple(tuple(r) for r in d.get("mask", ())),  # type: ignore[arg-type]
        px_mm_strategy=str((d.get("px_mm_strategy") or {}).get("type", SIMPLE)),
    )


def _panel_to_dict(p: Panel, parent: tuple) -> dict:
    fast, slow, origin = _decompose(parent, p.fast_axis, p.slow_axis, p.origin)
    t_min, t_max = p.trusted_range
    return {
        "name": p.name,
        "type": p.type,
        "fast_axis": _floats(fast),
        "slow_axis": _floats(slow),
        "origin": _floats(origin),
        "raw_image_offset": [int(v) for v in p.raw_image_offset],
        "image_size": [int(v) for v in p.image_size],
        "pixel_size": _floats(p.pixel_size),
        "trusted_range": [-1.0 if t_min == 0.0 else float(t_min), float(t_max)],
        "thickness": float(p.thickness),
        "material": p.material,
        "mu": float(p.mu),
        "identifier": p.identifier,
        "mask": [[int(v) for v in r] for r in p.mask],
        "gain": float(p.gain),
        "pedestal": float(p.pedestal),
        "px_mm_strategy": {"type": p.px_mm_strategy},
    }


def _identity_root(n_panels: int) -> dict:
    root = _panel_to_dict(Panel(*_IDENTITY_FRAME, (0.0, 0.0), (0, 0), (0.0, 0.0), name="", type=""), _IDENTITY_FRAME)
    root["trusted_range"] = [0.0, 0.0]
    root["children"] = [{"panel": i} for i in range(n_panels)]
    return root


def _detector_from_dict(d: dict) -> Detector:
    raw_panels = [_need_dict(p, "panels") for p in d["panels"]]
    if not raw_panels:
        raise _Bad("a detector has no panels")
    hierarchy = d.get("hierarchy")
    parents = _panel_parents(hierarchy, len(raw_panels)) or [_IDENTITY_FRAME] * len(raw_panels)
    detector = Detector(tuple(_panel_from_dict(p, f) for p, f in zip(raw_panels, parents)), hierarchy)
    written = _detector_to_dict(detector)
    exact = {**written, "panels": [dict(w) for w in written["panels"]]}
    for w, p in zip(exact["panels"], raw_panels):
        w.update({k: _floats(p[k]) for k in ("fast_axis", "slow_axis", "origin")})
        w.update({k: v for k, v in p.items() if k not in w})
    object.__setattr__(detector, _CACHE, (written, exact))
    return detector


def _detector_to_dict(det: Detector) -> dict:
    try:
        parents = _panel_parents(det.hierarchy, len(det.panels))
    except (_Bad, KeyError, TypeError, ValueError):
        parents = None
    if parents is None:
        panels = [_panel_to_dict(p, _IDENTITY_FRAME) for p in det.panels]
        return {"panels": panels, "hierarchy": _identity_root(len(panels))}
    panels = [_panel_to_dict(p, f) for p, f in zip(det.panels, parents)]
    return {"panels": panels, "hierarchy": _plain(det.hierarchy)}


# ---------------------------------------------------------------------------------------
# goniometer
# ---------------------------------------------------------------------------------------
def _goniometer_from_dict(d: dict) -> Goniometer:
    if "axes" in d:
        gonio = Goniometer.from_axes(
            [tuple(a) for a in d["axes"]], [float(a) for a in d["angles"]],
            [str(n) for n in d.get("names", [""] * len(d["axes"]))], int(d["scan_axis"]),
        )
    else:
        gonio = Goniometer(
            rotation_axis=d.get("rotation_axis", (1.0, 0.0, 0.0)),
            fixed_rotation=d.get("fixed_rotation", np.eye(3)),
            setting_rotation=d.get("setting_rotation", np.eye(3)),
        )
    if d.get("setting_rotation_at_scan_points"):
        sp = np.asarray(d["setting_rotation_at_scan_points"], dtype=np.float64).reshape(-1, 3, 3)
        gonio = gonio.replace(setting_rotation_at_scan_points=sp)
    return _remember(gonio, d, ("rotation_axis", "axes"))  # type: ignore[return-value]


def _goniometer_to_dict(g: Goniometer) -> dict:
    out: dict
    if g.is_multi_axis and Goniometer.from_axes(list(g.axes), list(g.angles), list(g.names), g.scan_axis).is_similar_to(g, tol=1e-12):
        out = {"axes": _floats(g.axes), "angles": _floats(g.angles), "names": list(g.names), "scan_axis": int(g.scan_axis)}
    else:
        out = {
            "rotation_axis": _floats(g.rotation_axis),
            "fixed_rotation": _floats(g.fixed_rotation.ravel()),
            "setting_rotation": _floats(g.setting_rotation.ravel()),
        }
    if g.setting_rotation_at_scan_points is not None:
        out["setting_rotation_at_scan_points"] = [_floats(m.ravel()) for m in np.asarray(g.setting_rotation_at_scan_points)]
    return out


# ---------------------------------------------------------------------------------------
# scan
# ---------------------------------------------------------------------------------------
def _scan_from_dict(d: dict) -> Scan:
    props = d.get("properties")
    if isinstance(props, dict):  # newer dxtbx: per-image properties
        starts = props["oscillation"]
        width = props["oscillation_width"][0] if props.get("oscillation_width") else starts[1] - starts[0]
        start, exposure, epochs = starts[0], props.get("exposure_time", []), props.get("epochs", [])
    else:
        start, width = d["oscillation"]
        exposure, epochs = d.get("exposure_time", []), d.get("epochs", [])
    scan = Scan(
        image_range=tuple(d["image_range"]),  # type: ignore[arg-type]
        oscillation_start_deg=float(start),
        oscillation_width_deg=float(width),
        exposure_times=np.asarray(exposure, dtype=np.float64),
        epochs=np.asarray(epochs, dtype=np.float64),
        batch_offset=int(d.get("batch_offset", 0)),
        valid_image_ranges=dict(d.get("valid_image_ranges") or {}),
    )
    return _remember(scan, d, (), ("properties",))  # type: ignore[return-value]


def _scan_to_dict(s: Scan) -> dict:
    return {
        "image_range": [int(v) for v in s.image_range],
        "batch_offset": int(s.batch_offset),
        "oscillation": [float(s.oscillation_start_deg), float(s.oscillation_width_deg)],
        "exposure_time": _floats(s.exposure_times),
        "epochs": _floats(s.epochs),
        "valid_image_ranges": _plain(s.valid_image_ranges),
    }


# ---------------------------------------------------------------------------------------
# crystal, profile
# ---------------------------------------------------------------------------------------
def _space_group_from_hall(hall: str) -> gemmi.SpaceGroup:
    try:
        sg = gemmi.find_spacegroup_by_ops(gemmi.symops_from_hall(hall.strip()))
    except (RuntimeError, ValueError) as exc:
        raise _Bad(f"cannot read the Hall symbol '{hall}' ({exc})") from None
    if sg is None:
        raise _Bad(f"space group '{hall}' is a setting gemmi does not tabulate; reindex to a standard setting")
    return sg


def hall_symbol(sg: gemmi.SpaceGroup) -> str:
    """The Hall symbol as cctbx/DIALS writes it: ' P 4 2', '-P 1', ' P 2y (z,x,y)', ' P 31 2 (x,y,z+1/3)'.

    cctbx writes the reference setting's Hall symbol plus "(change of basis)" for other
    settings; where that cannot be rebuilt from gemmi's tables, gemmi's own (equivalent) Hall
    symbol for the setting is used.
    """
    hall = _xyz_shift(gemmi.find_spacegroup_by_number(sg.number).hall)
    if not sg.is_reference_setting():
        hall = f"{hall} ({sg.basisop.triplet()})"
    if _ops(hall) != _ops(sg.hall):
        hall = sg.hall
    return hall if hall.startswith("-") else " " + hall


def _ops(hall: str) -> set[str]:
    return {op.triplet() for op in gemmi.symops_from_hall(hall)}


def _xyz_shift(hall: str) -> str:
    """gemmi's origin-shift vector in 1/12 ("P 31 2 (0 0 4)") in cctbx form ("P 31 2 (x,y,z+1/3)")."""
    if "(" not in hall:
        return hall
    head, vec = hall.split("(")
    shift = [gemmi.Op.DEN * int(v) // 12 for v in vec.rstrip(")").split()]
    return f"{head.strip()} ({gemmi.Op('x,y,z').translated(shift).triplet()})"


def _crystal_from_dict(d: dict) -> Crystal:
    real = np.array([d["real_space_a"], d["real_space_b"], d["real_space_c"]], dtype=np.float64)
    sp = d.get("A_at_scan_points")
    cov = d.get("B_covariance")
    crystal = Crystal(
        A=np.linalg.inv(real),
        space_group=_space_group_from_hall(str(d.get("space_group_hall_symbol", " P 1"))),
        A_at_scan_points=None if not sp else np.asarray(sp, dtype=np.float64).reshape(-1, 3, 3),
        B_covariance=None if not cov else np.asarray(cov, dtype=np.float64).reshape(-1),
        mosaicity=None if d.get("mosaicity") is None else float(d["mosaicity"]),
    )
    keys = ("__id__", "real_space_a", "real_space_b", "real_space_c", "space_group_hall_symbol")
    return _remember(crystal, d, keys)  # type: ignore[return-value]


def _crystal_to_dict(c: Crystal) -> dict:
    real = c.real_space_vectors
    out = {
        "__id__": "crystal",
        "real_space_a": _floats(real[0]),
        "real_space_b": _floats(real[1]),
        "real_space_c": _floats(real[2]),
        "space_group_hall_symbol": hall_symbol(c.space_group),
    }
    if c.A_at_scan_points is not None:
        out["A_at_scan_points"] = [_floats(a.ravel()) for a in c.A_at_scan_points]
    if c.B_covariance is not None:
        out["B_covariance"] = _floats(c.B_covariance)
    if c.mosaicity is not None:
        out["mosaicity"] = float(c.mosaicity)
    return out


def _profile_from_dict(d: dict) -> ProfileModel:
    if d.get("__id__", "gaussian_rs") != "gaussian_rs":
        raise _Bad(f"profile model '{d['__id__']}' is not supported (only gaussian_rs)")
    # scan-varying sigmas (lists) are summarised by their mean; the file's lists are kept
    sigma_b, sigma_m = (float(np.mean(d[k])) for k in ("sigma_b", "sigma_m"))
    profile = ProfileModel(sigma_b_deg=sigma_b, sigma_m_deg=sigma_m, n_sigma=float(d.get("n_sigma", 3.0)))
    return _remember(profile, d, ("sigma_b", "sigma_m"))  # type: ignore[return-value]


def _profile_to_dict(p: ProfileModel) -> dict:
    return {"__id__": "gaussian_rs", "n_sigma": float(p.n_sigma), "sigma_b": float(p.sigma_b_deg), "sigma_m": float(p.sigma_m_deg)}


# ---------------------------------------------------------------------------------------
# imageset
# ---------------------------------------------------------------------------------------
def _resolve(path: object, base_dir: Path) -> str | None:
    """DIALS rule: expand ~ and $VARS; a relative path is taken from the .expt file's folder."""
    if not path or not isinstance(path, str):
        return None
    p = os.path.expanduser(os.path.expandvars(path))
    return os.path.normpath(os.path.join(base_dir, p))


def _imageset_from_dict(d: dict, base_dir: Path) -> ImageSetRef:
    kind = {"ImageSequence": "ImageSequence", "ImageSweep": "ImageSequence", "ImageSet": "ImageSet", "ImageGrid": "ImageSet"}.get(
        str(d.get("__id__")), None
    )
    if kind is None:
        raise _Bad(f"imageset type '{d.get('__id__')}' is not supported (ImageSequence or ImageSet)")
    sfi = d.get("single_file_indices")
    return ImageSetRef(
        kind=kind,
        template=_resolve(d.get("template"), base_dir),
        paths=tuple(p for p in (_resolve(x, base_dir) for x in d.get("images", [])) if p),
        single_file_indices=None if sfi is None else tuple(int(i) for i in sfi),
        mask=_resolve(d.get("mask"), base_dir),
        params=dict(d.get("params") or {"dynamic_shadowing": False, "multi_panel": False}),
    )


def _imageset_to_dict(ref: ImageSetRef, relative_to: str | PathLike[str] | None) -> dict:
    def path(p: str | None) -> str | None:
        if not p:
            return None
        p = os.path.abspath(p)
        return os.path.relpath(p, relative_to) if relative_to is not None else p

    out: dict = {"__id__": ref.kind}
    if ref.kind == "ImageSequence":
        out["template"] = path(ref.template)
    else:
        out["images"] = [path(p) for p in ref.paths]
    if ref.single_file_indices is not None:
        out["single_file_indices"] = [int(i) for i in ref.single_file_indices]
    mask = ref.mask if ref.mask and ref.mask.endswith(".pickle") else None
    out.update({"mask": path(mask), "gain": None, "pedestal": None, "dx": None, "dy": None})
    out["params"] = _plain(ref.params)
    return out
