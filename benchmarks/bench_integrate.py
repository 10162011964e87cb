"""Benchmark braggflow integration against dials.integrate on a simulated sweep.

    python benchmarks/bench_integrate.py --preset demo --images 25 --workdir /tmp/bench_int

Steps: simulate (braggflow.simulate presets) -> DIALS import/find_spots/index/refine (known
cell and space group) -> dials.integrate and braggflow integration on the SAME refined.expt /
refined.refl, each under /usr/bin/time -v (wall time, peak RSS), nproc 1 and 2 -> match both
outputs to the truth (hkl + nearest frame) and print CC(I, I_true) and the spread of
(I - I_true)/sigma for summation and profile fitting, full reflections only. DIALS runs with a
clean environment (env -i PATH=/usr/bin:/bin HOME=/root). Only measured numbers are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

DIALS_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/root"}


def timed(cmd: list[str], cwd: Path, dials: bool) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of a command, via /usr/bin/time -v."""
    env = DIALS_ENV if dials else dict(os.environ)
    res = subprocess.run(["/usr/bin/time", "-v", *cmd], cwd=cwd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        sys.stderr.write(res.stdout[-3000:] + res.stderr[-3000:])
        raise SystemExit(f"failed: {' '.join(cmd)}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", res.stderr).group(1)
    parts = [float(x) for x in wall.split(":")]
    seconds = sum(v * 60 ** (len(parts) - 1 - i) for i, v in enumerate(parts))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", res.stderr).group(1)) / 1024
    return seconds, rss


def simulate(preset_name: str, images: int, workdir: Path) -> None:
    from braggflow.algorithms.simulate.params import with_overrides
    from braggflow.algorithms.simulate.presets import preset
    from braggflow.pipeline.programs.simulate import simulate_to_directory

    if (workdir / "truth.refl").exists():
        return
    params = with_overrides(preset(preset_name), {"scan.num_images": images})
    simulate_to_directory(params, workdir, nproc=2)


def dials_refine(workdir: Path) -> None:
    if (workdir / "refined.expt").exists():
        return
    from braggflow.formats.expt_io import read_experiments

    crystal = read_experiments(workdir / "truth.expt")[0].crystal
    cell = ",".join(f"{v:.4f}" for v in crystal.unit_cell.parameters)
    sg = crystal.space_group.hm.replace(" ", "")
    for cmd in (["dials.import", "template=image_#####.cbf"], ["dials.find_spots", "imported.expt", "nproc=2"],
                ["dials.index", "imported.expt", "strong.refl", f"unit_cell={cell}", f"space_group={sg}"],
                ["dials.refine", "indexed.expt", "indexed.refl"]):
        timed(cmd, workdir, dials=True)


BF_SCRIPT = """
import sys, json, time
from braggflow.formats.expt_io import read_experiments
from braggflow.formats.refl_io import read_refl, write_refl
from braggflow.algorithms.integration import integrate, IntegrateParams
import dataclasses
p = IntegrateParams()
p = dataclasses.replace(p, integration=dataclasses.replace(p.integration, mp=dataclasses.replace(p.integration.mp, nproc=int(sys.argv[1]))))
t = time.perf_counter()
res = integrate(read_experiments('refined.expt'), read_refl('refined.refl'), p)
write_refl(res.reflections, sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - t, "memory": res.memory, "timing": res.timing,
                  "profile": [e.sigma_b_deg for e in res.profile_estimates] + [e.sigma_m_deg for e in res.profile_estimates]}))
"""


def compare(table_path: Path, truth_path: Path) -> dict:
    from braggflow.algorithms.integration.references import _hkl_key
    from braggflow.formats.refl_io import read_refl
    from braggflow.model.reflections import Flags

    from scipy.spatial import cKDTree

    t, truth = read_refl(table_path), read_refl(truth_path)
    # match by position (x, y px; z frames): DIALS may index in a symmetry-related setting
    tree = cKDTree(truth["xyzcal.px"])
    dist, j = tree.query(t["xyzcal.px"], distance_upper_bound=1.5)
    true = np.where(np.isfinite(dist), truth["counts.expected"][np.minimum(j, len(truth) - 1)], np.nan)
    out = {"n_predicted": len(t)}
    full = (t["partiality"] > 0.99) & np.isfinite(true) if "partiality" in t else np.isfinite(true)
    for kind, bit in (("sum", Flags.integrated_sum), ("prf", Flags.integrated_prf)):
        ok = t.get_flags(bit)
        out[f"n_{kind}"] = int(ok.sum())
        sel = ok & full & (t[f"intensity.{kind}.variance"] > 0)
        v, var = t[f"intensity.{kind}.value"][sel], t[f"intensity.{kind}.variance"][sel]
        z = (v - true[sel]) / np.sqrt(var)
        weak = true[sel] < np.percentile(true[sel], 30)
        out[kind] = {"n_full_matched": int(sel.sum()), "cc": float(np.corrcoef(v, true[sel])[0, 1]),
                     "cc_weak30": float(np.corrcoef(v[weak], true[sel][weak])[0, 1]),
                     "z_sd": float(np.std(z)), "z_mean": float(np.mean(z))}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--images", type=int, default=25)
    ap.add_argument("--workdir", default="/tmp/bench_integrate")
    ap.add_argument("--nproc", default="1,2")
    ap.add_argument("--skip-dials", action="store_true")
    a = ap.parse_args()
    wd = Path(a.workdir)
    wd.mkdir(parents=True, exist_ok=True)
    simulate(a.preset, a.images, wd)
    dials_refine(wd)
    report = {"preset": a.preset, "images": a.images}
    for n in (int(x) for x in a.nproc.split(",")):
        if not a.skip_dials:
            s, rss = timed(["dials.integrate", "refined.expt", "refined.refl", f"nproc={n}",
                            f"output.reflections=dials_integrated_{n}.refl", f"output.experiments=dials_integrated_{n}.expt"], wd, dials=True)
            report[f"dials_nproc{n}"] = {"wall_s": s, "peak_rss_MB": rss, **compare(wd / f"dials_integrated_{n}.refl", wd / "truth.refl")}
        s, rss = timed([sys.executable, "-c", BF_SCRIPT, str(n), f"bf_integrated_{n}.refl"], wd, dials=False)
        report[f"braggflow_nproc{n}"] = {"wall_s": s, "peak_rss_MB": rss, **compare(wd / f"bf_integrated_{n}.refl", wd / "truth.refl")}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
