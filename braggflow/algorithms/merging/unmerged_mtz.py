"""Unmerged MTZ files <-> UnmergedData: :func:`read_unmerged_mtz` (Aimless, Mosflm, DIALS
export; with or without batch headers; partials combined) and :func:`write_unmerged_mtz`."""

from __future__ import annotations

from pathlib import Path

import gemmi
import numpy as np

from braggflow.algorithms.merging.unmerged import BatchInfo, UnmergedData
from braggflow.errors import InputDataError


# --- MTZ -------------------------------------------------------------------------------
def _find_label(mtz: gemmi.Mtz, *labels: str) -> str | None:
    names = mtz.column_labels()
    for label in labels:
        if label in names:
            return label
    return None


def _mosflm_u(batch: gemmi.Mtz.Batch) -> np.ndarray | None:
    u = np.array([batch.floats[i] for i in range(6, 15)], dtype=np.float64).reshape(3, 3).T
    if not np.all(np.isfinite(u)) or abs(abs(np.linalg.det(u)) - 1.0) > 0.05:
        return None
    return u


def read_unmerged_mtz(path: str | Path, intensity: str = "auto", combine_partials: bool = True) -> UnmergedData:
    """Read an unmerged MTZ (needs M/ISYM and BATCH columns).

    intensity: auto (I, or IPR when the file is unscaled and has it), profile (IPR), sum (I),
    or any column label. Scaled files (SCALEUSED) keep their scaled I and record the scale in
    ``scale``. Mosflm partials (M flag, MPART) are summed when ``combine_partials``.
    """
    path = str(path)
    try:
        mtz = gemmi.read_mtz_file(path)
    except (RuntimeError, OSError, ValueError) as exc:
        raise InputDataError(path, f"cannot read as MTZ ({exc})") from None
    labels = mtz.column_labels()
    if "M/ISYM" not in labels:
        raise InputDataError(path, "has no M/ISYM column: this is merged data, give an unmerged MTZ (e.g. from braggflow.export)")
    if "BATCH" not in labels:
        raise InputDataError(path, "has no BATCH column: unmerged data without batches cannot be scaled; export it with batches")
    if mtz.spacegroup is None:
        raise InputDataError(path, "has no space group in its header")
    scaled = "SCALEUSED" in labels
    if intensity == "auto":
        i_label = "IPR" if ("IPR" in labels and not scaled) else _find_label(mtz, "I", "IPR")
    elif intensity in ("profile", "prf"):
        i_label = "IPR"
    elif intensity in ("sum", "summation"):
        i_label = "I"
    else:
        i_label = intensity
    if i_label not in labels:
        raise InputDataError(path, f"has no intensity column '{i_label}' (columns: {' '.join(labels)})")
    s_label = {"I": "SIGI", "IPR": "SIGIPR"}.get(i_label, "SIG" + i_label)
    if s_label not in labels:
        raise InputDataError(path, f"has no sigma column '{s_label}' for '{i_label}'")
    mflag = None
    if "M/ISYM" in labels:
        mflag = (np.asarray(mtz.column_with_label("M/ISYM").array).astype(np.int64) >= 256)
    if not mtz.switch_to_original_hkl():
        raise InputDataError(path, "gemmi could not restore the original indices from M/ISYM")
    data = np.array(mtz, copy=True)
    col = {label: data[:, i] for i, label in enumerate(labels)}
    hkl = np.stack([col["H"], col["K"], col["L"]], axis=1).astype(np.int32)
    n = len(hkl)
    get = lambda label: col[label].astype(np.float64) if label in col else None  # noqa: E731
    wavelength = 0.0
    for ds in mtz.datasets:
        if ds.wavelength > 0:
            wavelength = float(ds.wavelength)
    batches: dict[int, BatchInfo] = {}
    for b in mtz.batches:
        batches[int(b.number)] = BatchInfo(float(b.floats[36]), float(b.floats[37]), _mosflm_u(b), int(b.dataset_id))
    if wavelength == 0.0:
        for b in mtz.batches:
            if b.wavelength > 0:
                wavelength = float(b.wavelength)
                break
    batch = col["BATCH"].astype(np.int32)
    dataset = np.zeros(n, np.int32)
    if batches:
        ids = sorted({bi.dataset for bi in batches.values()})
        lookup = {b: ids.index(bi.dataset) for b, bi in batches.items()}
        dataset = np.array([lookup.get(int(b), 0) for b in batch], dtype=np.int32)
    sig = get(s_label)
    inten = get(i_label)
    ok = np.isfinite(inten) & np.isfinite(sig)
    scale = get("SCALEUSED")
    result = UnmergedData(
        hkl=hkl, intensity=inten, sigma=sig, batch=batch, cell=mtz.cell, space_group=mtz.spacegroup,
        dataset=dataset, rot_deg=get("ROT"), xdet=get("XDET"), ydet=get("YDET"),
        partiality=get("FRACTIONCALC"), scale=scale, wavelength=wavelength, batches=batches, source=path,
    )
    if combine_partials and mflag is not None and mflag.any():
        result = _combine_partials(result, mflag)
        ok = np.isfinite(result.intensity) & np.isfinite(result.sigma)
    result = result.select(ok & (result.sigma > 0))
    if len(result) == 0:
        raise InputDataError(path, f"no observations with a positive {s_label}")
    if result.batches and wavelength > 0:
        result = attach_mtz_geometry(result)
    return result


def _combine_partials(data: UnmergedData, mflag: np.ndarray) -> UnmergedData:
    """Sum Mosflm partials: rows with the M flag that share original hkl and sit on
    consecutive batches form one reflection (I and variance summed, fractions summed).
    Totals with fraction 0.95-1.05 are kept; 0.5-0.95 are scaled up by 1/fraction (Aimless'
    defaults); the rest are dropped. The kept row has the batch of its largest part."""
    idx_p = np.flatnonzero(mflag)
    keep_full = np.flatnonzero(~mflag)
    if len(idx_p) == 0:
        return data
    h = data.hkl[idx_p]
    b = data.batch[idx_p]
    order = np.lexsort((b, h[:, 2], h[:, 1], h[:, 0], data.dataset[idx_p]))
    idx = idx_p[order]
    hs, bs = data.hkl[idx], data.batch[idx]
    new = np.ones(len(idx), bool)
    new[1:] = np.any(hs[1:] != hs[:-1], axis=1) | (bs[1:] - bs[:-1] > 1) | (data.dataset[idx][1:] != data.dataset[idx][:-1])
    group = np.cumsum(new) - 1
    ng = group[-1] + 1
    isum = np.bincount(group, data.intensity[idx], ng)
    vsum = np.bincount(group, data.sigma[idx] ** 2, ng)
    frac = np.bincount(group, np.nan_to_num(data.partiality[idx], nan=0.0), ng)
    # representative row: largest fraction within the group
    pf = np.nan_to_num(data.partiality[idx], nan=0.0)
    order2 = np.lexsort((-pf, group))
    first = np.ones(len(order2), bool)
    first[1:] = group[order2][1:] != group[order2][:-1]
    rep = idx[order2[first]]
    factor = np.where((frac >= 0.95) & (frac <= 1.05), 1.0, np.where((frac > 0.5) & (frac < 0.95), 1.0 / np.maximum(frac, 1e-9), np.nan))
    rows = np.concatenate([keep_full, rep])
    out = data.select(rows)
    nf = len(keep_full)
    out.intensity[nf:] = isum * factor
    out.sigma[nf:] = np.sqrt(vsum) * factor
    out.partiality[nf:] = frac
    good = np.isfinite(out.intensity)
    return out.select(good)


def _busing_levy_b(cell: gemmi.UnitCell) -> np.ndarray:
    r = cell.reciprocal()
    return np.array(
        [
            [r.a, r.b * np.cos(np.radians(r.gamma)), r.c * np.cos(np.radians(r.beta))],
            [0.0, r.b * np.sin(np.radians(r.gamma)), -r.c * np.sin(np.radians(r.beta)) * np.cos(np.radians(cell.alpha))],
            [0.0, 0.0, 1.0 / cell.c],
        ]
    )


def attach_mtz_geometry(data: UnmergedData) -> UnmergedData:
    """Crystal-frame s0/s1 directions from Mosflm U in the batch headers and ROT (Cambridge
    frame: beam along +x, rotation axis +z). Rows whose batch has no usable U get none."""
    if not data.batches or not np.any(np.isfinite(data.rot_deg)) or data.wavelength <= 0:
        return data
    B = _busing_levy_b(data.cell)
    s0c = np.full((len(data), 3), np.nan)
    s1c = np.full((len(data), 3), np.nan)
    s0_lab = np.array([1.0, 0.0, 0.0]) / data.wavelength
    for number in np.unique(data.batch):
        info = data.batches.get(int(number))
        if info is None or info.U is None:
            continue
        rows = np.flatnonzero(data.batch == number)
        phi = np.radians(np.where(np.isfinite(data.rot_deg[rows]), data.rot_deg[rows], 0.5 * (info.phi_start + info.phi_end)))
        c, s = np.cos(phi), np.sin(phi)
        # R(phi)^T s0: rotate the beam back into the phi=0 frame, then U^T into the crystal frame
        back = np.stack([c * s0_lab[0], -s * s0_lab[0], np.zeros_like(c)], axis=1)
        s0 = back @ info.U  # (U^T v) for each row
        r = (data.hkl[rows] @ B.T)  # B h in the crystal orthogonal frame
        s1 = s0 + r
        s0c[rows] = s0 / np.linalg.norm(s0, axis=1, keepdims=True)
        s1c[rows] = s1 / np.linalg.norm(s1, axis=1, keepdims=True)
    if not np.isfinite(s0c).all():
        return data
    return data.replace(s0c=s0c, s1c=s1c)


# --- writing ---------------------------------------------------------------------------
def write_unmerged_mtz(data: UnmergedData, path: str | Path, *, with_scale: bool = False, history: list[str] | None = None) -> None:
    """Write an unmerged MTZ (H K L M/ISYM BATCH I SIGI [SCALEUSED] [ROT XDET YDET]) with a
    minimal batch header per batch. The original indices go in; gemmi fills M/ISYM."""
    mtz = gemmi.Mtz(with_base=True)
    mtz.spacegroup = data.space_group
    mtz.set_cell_for_all(data.cell)
    mtz.add_dataset("braggflow")
    ds = mtz.datasets[-1]
    ds.project_name, ds.crystal_name, ds.wavelength = "braggflow", "XTAL", float(data.wavelength or 1.0)
    cols = [("M/ISYM", "Y"), ("BATCH", "B"), ("I", "J"), ("SIGI", "Q")]
    if with_scale:
        cols.append(("SCALEUSED", "R"))
    have_rot = bool(np.isfinite(data.rot_deg).all())
    have_xy = bool(np.isfinite(data.xdet).all() and np.isfinite(data.ydet).all())
    if have_rot:
        cols.append(("ROT", "R"))
    if have_xy:
        cols += [("XDET", "R"), ("YDET", "R")]
    for label, typ in cols:
        mtz.add_column(label, typ)
    n = len(data)
    arr = [data.hkl[:, 0], data.hkl[:, 1], data.hkl[:, 2], np.zeros(n), data.batch, data.intensity, data.sigma]
    if with_scale:
        arr.append(data.scale)
    if have_rot:
        arr.append(data.rot_deg)
    if have_xy:
        arr += [data.xdet, data.ydet]
    mtz.switch_to_original_hkl()
    mtz.set_data(np.stack(arr, axis=1).astype(np.float32))
    cell = data.cell
    for number in sorted({int(b) for b in np.unique(data.batch)}):
        b = gemmi.Mtz.Batch()
        b.number = number
        b.title = f"Batch {number}"
        b.cell = cell
        info = data.batches.get(number)
        b.ints[0], b.ints[1], b.ints[2] = 185, 29, 156  # header sizes as CCP4 writes them
        b.floats[36] = info.phi_start if info else 0.0
        b.floats[37] = info.phi_end if info else 0.0
        b.floats[47] = (info.phi_end - info.phi_start) if info else 0.0
        if info is not None and info.U is not None:
            for i, v in enumerate(np.asarray(info.U, float).T.reshape(-1)):  # Mosflm U, column-major
                b.floats[6 + i] = float(v)
            b.floats[38], b.floats[39], b.floats[40] = 0.0, 0.0, 1.0  # scan axis (Cambridge frame)
        b.dataset_id = 1
        b.wavelength = float(data.wavelength or 1.0)
        b.axes = ["AXIS"]
        mtz.batches.append(b)
    if not mtz.switch_to_asu_hkl():
        raise RuntimeError("gemmi did not fill M/ISYM (switch_to_original_hkl missing)")
    mtz.sort(5)
    mtz.history = list(history or ["From braggflow"])
    mtz.write_to_file(str(path))


__all__ = ["read_unmerged_mtz", "write_unmerged_mtz", "attach_mtz_geometry"]
