"""Symmetry, scaling and merging statistics on the real unmerged MTZ files in ../shared/data/mtz.

    python benchmarks/bench_scale_merge_real_mtz.py [/path/to/shared/data]

Prints, per dataset: the space group found, merging statistics before scaling (for gamma:
the Aimless-scaled data as published in the file, and the unscaled I*SCALEUSED), after
braggflow scaling (program defaults), and the correlation of merged intensities with the
published merged file where one exists. Numbers recorded in docs/scaling-and-merging.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import gemmi
import numpy as np

from braggflow.algorithms.merging.merge import merge_data
from braggflow.algorithms.merging.statistics import merging_statistics
from braggflow.algorithms.merging.unmerged_mtz import read_unmerged_mtz
from braggflow.algorithms.scaling.scaler import scale_data
from braggflow.algorithms.symmetry.driver import determine_symmetry
from braggflow.params import load_master
from braggflow.pipeline.programs.scale import options_from_params


def line(tag: str, st) -> str:  # noqa: ANN001
    o = st.overall
    return (f"  {tag:34s} Rmerge {o.r_merge:.4f} Rmeas {o.r_meas:.4f} Rpim {o.r_pim:.4f} <I/s> {o.i_over_sigma_mean:6.2f} "
            f"CC1/2 {st.cc_one_half_overall():.4f} (outer {st.outer.cc_one_half:.3f}) CCanom {o.cc_anom:+.3f} "
            f"nobs {o.n_obs} uniq {o.n_uniq} compl {100 * o.completeness:.1f}%")


def cc_with(merged, path: Path, column: str) -> str:  # noqa: ANN001
    ref = gemmi.read_mtz_file(str(path))
    arr = np.array(ref)
    labels = ref.column_labels()
    col = arr[:, labels.index(column)]
    table = {tuple(int(v) for v in r[:3]): c for r, c in zip(arr, col) if np.isfinite(c)}
    x, y = [], []
    for h, v in zip(merged.hkl, merged.imean):
        k = tuple(int(t) for t in h)
        if k in table and np.isfinite(v):
            x.append(v)
            y.append(table[k])
    x, y = np.array(x), np.array(y)
    return f"CC {np.corrcoef(x, y)[0, 1]:.4f} over {len(x)} (median ratio {np.median(x / y):.3f})"


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data") / "mtz"
    params = load_master("scale").extract()
    for name, ref in (("ccp4i2_gamma/HKLOUT_unmerged.mtz", ("ccp4i2_gamma/mergedForMakingCif.mtz", "F_SIGF_Iplus")),
                      ("ccp4i2_hypf/hypf_unmerged.mtz", None),
                      ("rs_hewl_24idc/HEWL_unmerged.mtz", ("rs_hewl_24idc/HEWL_SSAD_24IDC.mtz", "IMEAN"))):
        data = read_unmerged_mtz(root / name)
        print(f"{name}: {len(data)} observations, file space group {data.space_group.hm}")
        t = time.time()
        sym = determine_symmetry(data)
        print(f"  symmetry: {sym.space_group.hm} (alternatives {[s.hm for s in sym.absences.alternatives]}), "
              f"Laue likelihood {sym.laue.best.likelihood:.3f}, {time.time() - t:.1f} s")
        data = sym.data
        if np.any(data.scale != 1):
            print(line("published (Aimless-scaled I)", merging_statistics(data)))
            data = data.replace(intensity=data.intensity * data.scale, sigma=data.sigma * data.scale, scale=np.ones(len(data)))
        unscaled = merging_statistics(data)
        print(line("unscaled", unscaled))
        if ref:
            print("    merged vs published:", cc_with(merge_data(data, truncate=False), root / ref[0], ref[1]))
        t = time.time()
        opts = options_from_params(params, data.wavelength)
        res = scale_data(data, opts)
        st = merging_statistics(res.data)
        print(line(f"braggflow scaled ({time.time() - t:.0f} s)", st))
        print(f"    error model a={res.error_model.a:.3f} b={res.error_model.b:.4f}; outliers {int(res.outlier.sum())}; "
              f"lmax {opts.lmax if res.model.na else 0}, absorption params {res.model.na}")
        if ref:
            print("    merged vs published:", cc_with(merge_data(res.data, truncate=False), root / ref[0], ref[1]))


if __name__ == "__main__":
    main()
