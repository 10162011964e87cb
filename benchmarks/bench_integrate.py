"""Benchmark braggflow integration against dials.integrate on a simulated Pilatus 6M sweep.

    nice python benchmarks/bench_integrate.py --preset pilatus6m_thaumatin --images 60 \
        --long-images 240 --workdir /tmp/bench_integrate [--markdown out.md]

One run does:
1. simulate ``--images`` images (braggflow.simulate preset; cached in WORKDIR) and refine them
   with DIALS (import / find_spots / index with the known cell / refine; cached);
2. on that SAME refined.expt / refined.refl, for each nproc (default 1, 2): dials.integrate
   (clean environment) and braggflow integration, each under /usr/bin/time -v (wall, user +
   system CPU, peak RSS), and both outputs matched to the truth (CC(I, I_true) and the spread
   of (I - I_true)/sigma, full reflections); braggflow also reports the wall time of each pass
   over the images and the per-phase seconds of its block tasks (read = decode + valid mask,
   extract, process = mask + background + summation + profile fitting, join = split
   reflections joined in the caller's thread), the frames decoded and the reflections joined;
3. peak memory versus sweep length: braggflow (truth models, truth-derived reference spots, no
   DIALS step) on the ``--images`` sweep and on a ``--long-images`` sweep simulated into
   WORKDIR_long, at nproc 1 and 2.
``--executors N`` instead only times the main-pass block tasks N times each serially, in 2 joblib
threads and in 2 warm loky processes (if threads keep up with GIL-free processes, the GIL is not
what limits nproc 2). A warm-up braggflow run first fills the numba cache. Load averages are printed at the start
and the end; ratios are only meaningful within one run. Only measured numbers are printed.
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


def loadavg() -> str:
    return " / ".join(open("/proc/loadavg").read().split()[:3])


def timed(cmd: list[str], cwd: Path, dials: bool) -> dict:
    """wall s, cpu s (user + system), peak RSS MB and stdout of a command (/usr/bin/time -v)."""
    env = DIALS_ENV if dials else dict(os.environ)
    res = subprocess.run(["/usr/bin/time", "-v", *cmd], cwd=cwd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        sys.stderr.write(res.stdout[-3000:] + res.stderr[-3000:])
        raise SystemExit(f"failed: {' '.join(cmd)}")
    err = res.stderr
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", err).group(1)
    parts = [float(x) for x in wall.split(":")]
    seconds = sum(v * 60 ** (len(parts) - 1 - i) for i, v in enumerate(parts))
    cpu = float(re.search(r"User time \(seconds\): (\S+)", err).group(1)) + \
        float(re.search(r"System time \(seconds\): (\S+)", err).group(1))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1)) / 1024
    return {"wall_s": seconds, "cpu_s": cpu, "peak_rss_MB": rss, "stdout": res.stdout}


def simulate(preset_name: str, images: int, workdir: Path) -> None:
    from braggflow.algorithms.simulate.params import with_overrides
    from braggflow.algorithms.simulate.presets import preset
    from braggflow.pipeline.programs.simulate import simulate_to_directory

    if (workdir / "truth.refl").exists():
        return
    workdir.mkdir(parents=True, exist_ok=True)
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


def truth_reference(workdir: Path) -> None:
    """truth_models.expt (no profile) and truth_indexed.refl (the stronger half of the truth
    reflections as indexed spots) for the memory-versus-length runs."""
    if (workdir / "truth_indexed.refl").exists():
        return
    from braggflow.formats.expt_io import read_experiments, write_experiments
    from braggflow.formats.refl_io import read_refl, write_refl
    from braggflow.model.reflections import Flags, ReflectionTable

    truth = read_refl(workdir / "truth.refl")
    t = truth.select(truth["counts.expected"] > np.percentile(truth["counts.expected"], 50))
    idx = ReflectionTable({"miller_index": t["miller_index"], "id": t["id"], "xyzobs.px.value": t["xyzcal.px"],
                           "flags": np.full(len(t), int(Flags.indexed), np.uint64)},
                          experiment_identifiers=truth.experiment_identifiers)
    el = read_experiments(workdir / "truth.expt")
    write_experiments(type(el)([e.replace(profile=None) for e in el]), workdir / "truth_models.expt")
    write_refl(idx, workdir / "truth_indexed.refl")


# argv: nproc, experiments, reflections, output .refl
BF_SCRIPT = """
import sys, json, time, dataclasses
from braggflow.formats.expt_io import read_experiments
from braggflow.formats.refl_io import read_refl, write_refl
from braggflow.algorithms.integration import integrate, IntegrateParams
from braggflow.algorithms.integration import blocks
passes = []
original = blocks.run_tasks
def recording(tasks, nproc, progress=None):
    t = time.perf_counter()
    res = original(tasks, nproc, progress)
    ph = {}
    for r in res:
        for k, v in r.get("phases", {}).items():
            ph[k] = round(ph.get(k, 0.0) + v, 2)
    passes.append({"mode": tasks[0].mode, "tasks": len(tasks), "wall_s": round(time.perf_counter() - t, 2),
                   "task_s": round(sum(r["seconds"] for r in res), 2), "phases_s": ph,
                   "frames_read": sum(r["frames_read"] for r in res), "joined": res[-1].get("joined", 0)})
    return res
for name, module in list(sys.modules.items()):
    if name.startswith("braggflow.algorithms.integration.") and getattr(module, "run_tasks", None) is original:
        setattr(module, "run_tasks", recording)
p = IntegrateParams()
p = dataclasses.replace(p, integration=dataclasses.replace(p.integration, mp=dataclasses.replace(p.integration.mp, nproc=int(sys.argv[1]))))
el, refl = read_experiments(sys.argv[2]), read_refl(sys.argv[3])
t = time.perf_counter()
res = integrate(el, refl, p)
seconds = time.perf_counter() - t
write_refl(res.reflections, sys.argv[4])
print(json.dumps({"integrate_s": round(seconds, 2), "timing": {k: round(v, 2) for k, v in res.timing.items()},
                  "passes": passes, "memory": res.memory, "n_frames": el[0].scan.num_images}))
"""


# argv: experiments, reflections, repeats. Main-pass tasks of an nproc-2 run, then serial /
# 2 joblib threads / 2 warm loky processes on the same tasks (is the GIL the limit?)
AB_SCRIPT = """
import sys, time, os, dataclasses
from joblib import Parallel, delayed
from braggflow.formats.expt_io import read_experiments
from braggflow.formats.refl_io import read_refl
from braggflow.algorithms.integration import integrate, IntegrateParams
from braggflow.algorithms.integration import blocks
captured = {}
original = blocks.run_tasks
def recording(tasks, nproc, progress=None):
    captured[tasks[0].mode] = tasks
    return original(tasks, nproc, progress)
for name, module in list(sys.modules.items()):
    if name.startswith("braggflow.algorithms.integration.") and getattr(module, "run_tasks", None) is original:
        setattr(module, "run_tasks", recording)
p = IntegrateParams()
p = dataclasses.replace(p, integration=dataclasses.replace(p.integration, mp=dataclasses.replace(p.integration.mp, nproc=2)))
integrate(read_experiments(sys.argv[1]), read_refl(sys.argv[2]), p)
tasks, _ = blocks.split_plan(captured["integrate"])
pool = Parallel(n_jobs=2, backend="loky")
pool(delayed(os.getpid)() for _ in range(4))
for rep in range(int(sys.argv[3])):
    for name in ("serial", "threads", "processes"):
        load = os.getloadavg()[0]
        t = time.perf_counter()
        if name == "serial":
            res = [blocks.run_block(x) for x in tasks]
        elif name == "threads":
            res = Parallel(n_jobs=2, prefer="threads")(delayed(blocks.run_block)(x) for x in tasks)
        else:
            res = pool(delayed(blocks.run_block)(x) for x in tasks)
        print(f"{name} tasks {len(tasks)} wall {time.perf_counter() - t:.2f} s, load {load:.2f}", flush=True)
"""


def braggflow(nproc: int, expt: str, refl: str, out: str, cwd: Path) -> dict:
    r = timed([sys.executable, "-c", BF_SCRIPT, str(nproc), expt, refl, out], cwd, dials=False)
    r.update(json.loads(r.pop("stdout").strip().splitlines()[-1]))
    return r


def compare(table_path: Path, truth_path: Path) -> dict:
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
        out[kind] = {"n_full_matched": int(sel.sum()), "cc": float(np.corrcoef(v, true[sel])[0, 1]),
                     "z_sd": float(np.std(z)), "z_mean": float(np.mean(z))}
    return out


def markdown(report: dict) -> str:
    lines = [f"load average at start {report['load_start']}, at end {report['load_end']}", "",
             "| program | nproc | wall s | CPU s | peak RSS MB | wall / DIALS same nproc | wall nproc1 / wall nproc2 | n sum | n prf | CC sum | CC prf |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for prog in ("dials", "braggflow"):
        for n in report["nproc"]:
            r = report.get(f"{prog}_nproc{n}")
            if r is None:
                continue
            d = report.get(f"dials_nproc{n}")
            ratio = f"{r['wall_s'] / d['wall_s']:.3f}" if d else ""
            one, two = report.get(f"{prog}_nproc1"), report.get(f"{prog}_nproc2")
            speed = f"{one['wall_s'] / two['wall_s']:.2f}" if (n == 2 and one and two) else ""
            lines.append(f"| {prog} | {n} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['peak_rss_MB']:.0f} | {ratio} | {speed} | "
                         f"{r['n_sum']} | {r['n_prf']} | {r['sum']['cc']:.5f} | {r['prf']['cc']:.5f} |")
    lines += ["", "braggflow passes over the images (wall s of the pass; summed task phases in s):", "",
              "| nproc | pass | tasks | wall s | read | extract | process | accumulate | join | frames decoded | joined |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for n in report["nproc"]:
        r = report.get(f"braggflow_nproc{n}")
        for ps in (r or {}).get("passes", []):
            ph = ps["phases_s"]
            lines.append(f"| {n} | {ps['mode']} | {ps['tasks']} | {ps['wall_s']:.2f} | " +
                         " | ".join(f"{ph.get(k, 0.0):.2f}" for k in ("read", "extract", "process", "accumulate", "join")) +
                         f" | {ps['frames_read']} / {r['n_frames']} | {ps['joined']} |")
    if report.get("length"):
        lines += ["", "Peak memory versus sweep length (braggflow, truth models):", "",
                  "| images | nproc | wall s | CPU s | peak RSS MB | main-pass shoebox peak MB | frames decoded (main pass) |",
                  "|---|---|---|---|---|---|---|"]
        for r in report["length"]:
            lines.append(f"| {r['images']} | {r['nproc']} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['peak_rss_MB']:.0f} | "
                         f"{r['memory'].get('main_pass_peak_shoebox_MB', 0):.1f} | {r['memory'].get('main_pass_frames_read', 0)} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="pilatus6m_thaumatin")
    ap.add_argument("--images", type=int, default=60)
    ap.add_argument("--long-images", type=int, default=240, help="0: skip the memory-versus-length runs")
    ap.add_argument("--workdir", default="/tmp/bench_integrate")
    ap.add_argument("--nproc", default="1,2")
    ap.add_argument("--skip-dials", action="store_true")
    ap.add_argument("--markdown", help="also write the tables to this file")
    ap.add_argument("--executors", type=int, default=0, metavar="N",
                    help="only time the main-pass tasks N times each: serial, 2 threads, 2 processes")
    a = ap.parse_args()
    wd = Path(a.workdir)
    nprocs = [int(x) for x in a.nproc.split(",")]
    simulate(a.preset, a.images, wd)
    dials_refine(wd)
    if a.executors:
        subprocess.run([sys.executable, "-c", AB_SCRIPT, "refined.expt", "refined.refl", str(a.executors)], cwd=wd, check=True)
        return
    long_wd = Path(f"{a.workdir}_long{a.long_images}")
    if a.long_images:
        simulate(a.preset, a.long_images, long_wd)
    report: dict = {"preset": a.preset, "images": a.images, "nproc": nprocs, "load_start": loadavg()}
    braggflow(1, "refined.expt", "refined.refl", "bf_warmup.refl", wd)  # numba cache
    for n in nprocs:
        if not a.skip_dials:
            r = timed(["dials.integrate", "refined.expt", "refined.refl", f"nproc={n}",
                       f"output.reflections=dials_integrated_{n}.refl", f"output.experiments=dials_integrated_{n}.expt"], wd, dials=True)
            r.pop("stdout")
            report[f"dials_nproc{n}"] = {**r, **compare(wd / f"dials_integrated_{n}.refl", wd / "truth.refl")}
        r = braggflow(n, "refined.expt", "refined.refl", f"bf_integrated_{n}.refl", wd)
        report[f"braggflow_nproc{n}"] = {**r, **compare(wd / f"bf_integrated_{n}.refl", wd / "truth.refl")}
    report["length"] = []
    if a.long_images:
        for images, d in ((a.images, wd), (a.long_images, long_wd)):
            truth_reference(d)
            for n in nprocs:
                r = braggflow(n, "truth_models.expt", "truth_indexed.refl", f"bf_truth_{n}.refl", d)
                report["length"].append({"images": images, "nproc": n, **r})
    report["load_end"] = loadavg()
    print(json.dumps(report, indent=1))
    text = markdown(report)
    print(text)
    if a.markdown:
        Path(a.markdown).write_text(text + "\n")


if __name__ == "__main__":
    main()
