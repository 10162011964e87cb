"""Merge scaled observations into IMEAN, I(+)/I(−) (+ French–Wilson amplitudes) and write
the merged MTZ (the column set dials.merge writes)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gemmi
import numpy as np

from braggflow.algorithms.merging.french_wilson import FrenchWilsonResult, french_wilson
from braggflow.algorithms.merging.statistics import group_keys, merge_groups, prepare_for_statistics
from braggflow.algorithms.merging.unmerged import UnmergedData
from braggflow.errors import InputDataError

__all__ = ["MergedData", "merge_data", "write_merged_mtz"]


@dataclass
class MergedData:
    hkl: np.ndarray  # ASU
    d: np.ndarray
    imean: np.ndarray
    sigimean: np.ndarray
    n: np.ndarray
    i_plus: np.ndarray  # nan where unobserved
    sig_plus: np.ndarray
    n_plus: np.ndarray
    i_minus: np.ndarray
    sig_minus: np.ndarray
    n_minus: np.ndarray
    cell: gemmi.UnitCell
    space_group: gemmi.SpaceGroup
    wavelength: float
    fw: FrenchWilsonResult | None = None
    fw_plus: FrenchWilsonResult | None = None
    fw_minus: FrenchWilsonResult | None = None


def merge_data(data: UnmergedData, *, use_internal_variance: bool = False, d_min: float | None = None, d_max: float | None = None, truncate: bool = True) -> MergedData:
    data = prepare_for_statistics(data, d_min, d_max)
    if len(data) == 0:
        raise InputDataError(data.source or "data", "no observations to merge in the resolution range")
    g = merge_groups(group_keys(data, False), data.intensity, data.sigma, data.asu_hkl, data.plus, internal_variance=use_internal_variance)
    m = len(g.key)
    ak = group_keys(data, True)
    ga = merge_groups(ak, data.intensity, data.sigma, data.asu_hkl, data.plus, internal_variance=use_internal_variance)
    base = ga.key >> 1
    minus = (ga.key & 1).astype(bool)
    # centric groups carry key bit 0 but hold both mates: count them as I(+) only
    pos = np.searchsorted(g.key, base << 1)
    arrays = {k: np.full(m, np.nan) for k in ("ip", "sp", "im", "sm")}
    n_plus = np.zeros(m, int)
    n_minus = np.zeros(m, int)
    sel = ~minus
    arrays["ip"][pos[sel]] = ga.mean[sel]
    arrays["sp"][pos[sel]] = ga.sigma[sel]
    n_plus[pos[sel]] = ga.n[sel]
    arrays["im"][pos[minus]] = ga.mean[minus]
    arrays["sm"][pos[minus]] = ga.sigma[minus]
    n_minus[pos[minus]] = ga.n[minus]
    d = np.asarray(data.cell.calculate_d_array(np.ascontiguousarray(g.hkl, dtype=np.int32)), float)
    out = MergedData(g.hkl, d, g.mean, g.sigma, g.n, arrays["ip"], arrays["sp"], n_plus, arrays["im"], arrays["sm"], n_minus,
                     data.cell, data.space_group, data.wavelength)
    if truncate:
        out.fw = french_wilson(g.mean, g.sigma, g.hkl, d, data.space_group)
        for sign in ("plus", "minus"):
            i = getattr(out, f"i_{sign}")
            s = getattr(out, f"sig_{sign}")
            ok = np.isfinite(i) & (s > 0)
            F = np.full(m, np.nan)
            SF = np.full(m, np.nan)
            if ok.any():
                r = french_wilson(i[ok], s[ok], g.hkl[ok], d[ok], data.space_group)
                F[ok], SF[ok] = r.F, r.sigF
            setattr(out, f"fw_{sign}", FrenchWilsonResult(F, SF, F, SF, ~ok))
    return out


def write_merged_mtz(merged: MergedData, path: str | Path, *, history: list[str] | None = None) -> None:
    mtz = gemmi.Mtz(with_base=True)
    mtz.spacegroup = merged.space_group
    mtz.set_cell_for_all(merged.cell)
    mtz.add_dataset("braggflow")
    ds = mtz.datasets[-1]
    ds.project_name, ds.crystal_name, ds.wavelength = "braggflow", "XTAL", float(merged.wavelength or 1.0)
    cols = [("IMEAN", "J", merged.imean), ("SIGIMEAN", "Q", merged.sigimean),
            ("I(+)", "K", merged.i_plus), ("SIGI(+)", "M", merged.sig_plus),
            ("I(-)", "K", merged.i_minus), ("SIGI(-)", "M", merged.sig_minus),
            ("N(+)", "I", merged.n_plus.astype(float)), ("N(-)", "I", merged.n_minus.astype(float))]
    if merged.fw is not None:
        cols += [("F", "F", merged.fw.F), ("SIGF", "Q", merged.fw.sigF)]
    if merged.fw_plus is not None and merged.fw_minus is not None:
        cols += [("F(+)", "G", merged.fw_plus.F), ("SIGF(+)", "L", merged.fw_plus.sigF),
                 ("F(-)", "G", merged.fw_minus.F), ("SIGF(-)", "L", merged.fw_minus.sigF)]
    for label, typ, _ in cols:
        mtz.add_column(label, typ)
    arr = np.column_stack([merged.hkl.astype(float)] + [c[2] for c in cols]).astype(np.float32)
    mtz.set_data(arr)
    mtz.history = list(history or ["From braggflow.merge"])
    mtz.sort(3)
    mtz.write_to_file(str(path))
