"""The only module that touches gemmi.Mtz: build, write and summarise unmerged MTZ files.

Order matters (algorithms.md 8.5): datasets and columns first, then
`switch_to_original_hkl()` BEFORE `set_data` (it only marks the data as holding original
indices), then batches, then `switch_to_asu_hkl()` which fills M/ISYM -- its return value is
checked, since without the mark it does nothing and every M/ISYM stays 0.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import gemmi
import numpy as np

from braggflow.errors import InputDataError, StageFailed

from .result import BatchHeader, MtzExportResult, MtzSummary, SummaryColumn, SummaryCrystal, SummaryDataset

__all__ = ["COLUMN_TYPE_NAMES", "build_mtz", "mmcif_text", "read_summary", "write_mtz_file"]

COLUMN_TYPE_NAMES = {
    "H": "index h,k,l",
    "Y": "M/ISYM, packed partial/reject flag and symmetry number",
    "B": "BATCH number",
    "J": "intensity",
    "Q": "standard deviation",
    "R": "real",
    "I": "integer",
    "F": "amplitude",
}


def _batch(header: BatchHeader) -> gemmi.Mtz.Batch:
    b = gemmi.Mtz.Batch()
    b.number = header.number
    b.title = f"Batch {header.number}"
    ints = {12: 1, 14: 2, 15: 1, 17: 1, 19: 1, 20: header.dataset_id}  # ncryst, ldtype 3D, jsaxs, ngonax, ndet, set
    ints.update({i: -1 for i in range(4, 10)})  # lbcell: nothing flagged as refined/fixed
    for i, value in ints.items():
        b.ints[i] = value
    f = np.zeros(len(b.floats), dtype=np.float64)
    f[0:6] = header.cell
    f[6:15] = np.asarray(header.umat).T.ravel()
    f[21] = header.mosaicity_deg
    f[36] = header.phi_start_deg
    f[37] = header.phi_start_deg + header.phi_range_deg
    f[38:41] = header.axis
    f[43] = 1.0  # batch scale
    f[47] = header.phi_range_deg
    f[59:62] = header.axis  # e1
    source = np.asarray(header.source, dtype=np.float64)
    f[80 + int(np.argmin(source))] = -1.0  # idealised source vector
    f[83:86] = source
    f[86] = header.wavelength
    f[111] = header.distance_mm
    f[114] = header.image_size[0]
    f[116] = header.image_size[1]
    for i, value in enumerate(f.tolist()):
        b.floats[i] = value
    b.axes = ["AXIS"]
    b.dataset_id = header.dataset_id
    return b


def build_mtz(result: MtzExportResult) -> gemmi.Mtz:
    """A gemmi.Mtz holding `result`, indices moved to the ASU with M/ISYM filled, sorted."""
    mtz = gemmi.Mtz(with_base=False)
    mtz.title = result.title
    sg = gemmi.find_spacegroup_by_ops(result.space_group.operations())
    if sg is None:
        raise InputDataError("experiments", f"space group {result.space_group.hall} is not a tabulated setting; reindex first")
    mtz.spacegroup = sg
    for number, wavelength in enumerate(result.wavelengths, start=1):
        ds = mtz.add_dataset(result.dataset_name)
        ds.id = number  # no HKL_base dataset: ids start at 1, as DIALS writes (batches refer to them)
        ds.project_name, ds.crystal_name, ds.wavelength = result.project_name, result.crystal_name, wavelength
    mtz.set_cell_for_all(gemmi.UnitCell(*result.cell))
    for column in result.columns:
        mtz.add_column(column.label, column.type)
    if not mtz.switch_to_original_hkl():
        raise StageFailed("MTZ writer: gemmi refused to mark the data as original indices")
    data = np.column_stack([np.asarray(c.values, dtype=np.float32) for c in result.columns]) if result.columns else None
    mtz.set_data(np.ascontiguousarray(data, dtype=np.float32))
    for header in result.batches:
        mtz.batches.append(_batch(header))
    if not mtz.switch_to_asu_hkl():
        raise StageFailed("MTZ writer: gemmi did not fill M/ISYM (switch_to_asu_hkl returned False)")
    mtz.sort(5)
    mtz.history = list(result.history)
    return mtz


def write_mtz_file(result: MtzExportResult, path: str | os.PathLike[str]) -> None:
    """Write atomically: a temporary file next to `path`, then rename."""
    mtz = build_mtz(result)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        mtz.write_to_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _summary_columns(mtz: gemmi.Mtz, dataset_id: int) -> tuple[SummaryColumn, ...]:
    out = []
    n = mtz.nreflections
    for col in mtz.columns:
        if col.dataset_id != dataset_id:
            continue
        values = np.asarray(col.array, dtype=np.float64)
        valid = values[~np.isnan(values)]
        out.append(
            SummaryColumn(
                label=col.label,
                n_valid=int(valid.size),
                percent_valid=100.0 * valid.size / n if n else 0.0,
                min_value=float(valid.min()) if valid.size else 0.0,
                max_value=float(valid.max()) if valid.size else 0.0,
                type=col.type,
            )
        )
    return tuple(out)


def _summary_crystals(mtz: gemmi.Mtz) -> tuple[SummaryCrystal, ...]:
    crystals: dict[tuple[str, str], list[gemmi.Mtz.Dataset]] = {}
    for ds in mtz.datasets:
        crystals.setdefault((ds.crystal_name, ds.project_name), []).append(ds)
    out = []
    for i, ((name, project), datasets) in enumerate(crystals.items(), start=1):
        sets = tuple(
            SummaryDataset(name=d.dataset_name, id=d.id, wavelength=d.wavelength, columns=_summary_columns(mtz, d.id))
            for d in datasets
        )
        out.append(SummaryCrystal(name=name, project=project, id=i, cell=tuple(datasets[0].cell.parameters), datasets=sets))
    return tuple(out)


def read_summary(path: str | os.PathLike[str]) -> MtzSummary:
    """The iotbx-style summary of an MTZ file on disk."""
    try:
        mtz = gemmi.read_mtz_file(str(Path(path)))
    except (RuntimeError, OSError) as exc:
        raise InputDataError(path, f"cannot read as MTZ ({exc})") from None
    sg = mtz.spacegroup
    mtz.update_reso()
    return MtzSummary(
        title=mtz.title,
        space_group_symbol=sg.short_name() if sg else "",
        space_group_number=sg.number if sg else 0,
        space_group_name=f"{sg.xhm()} (No. {sg.number})" if sg else "",
        point_group_symbol=sg.point_group_hm() if sg else "",
        n_batches=len(mtz.batches),
        n_reflections=mtz.nreflections,
        resolution_range=(mtz.resolution_low(), mtz.resolution_high()),
        history=tuple(mtz.history),
        crystals=_summary_crystals(mtz),
    )


def mmcif_text(result: MtzExportResult) -> str:
    """Unmerged mmCIF (`_diffrn_refln` loop) of `result`, through gemmi's mtz2cif."""
    mtz = build_mtz(result)
    writer = gemmi.MtzToCif()
    writer.wavelength = float(result.wavelengths[0]) if result.wavelengths else 0.0
    return writer.write_cif_to_string(mtz)
