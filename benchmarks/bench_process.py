"""End-to-end benchmark: braggflow versus DIALS 3.12 on the same simulated images.

usage:
  python benchmarks/bench_process.py [--dataset demo|thaumatin] [--num-images 60]
         [--workdir /tmp/bench_process] [--nproc 2] [--scale] [--process] [--reuse]
         [--markdown FILE]

For the dataset (simulated once into WORKDIR/<dataset>/images with its truth files) it runs
/work/shared/tools/run_chain.py twice, one chain after the other on the same images with the
same nproc: `--prefix dials` (Debian DIALS, clean environment) and `--prefix braggflow`
(the same per-step commands). Every step runs under /usr/bin/time -v (wall time, peak RSS).
--scale adds symmetry, scale and merge to both chains; --process also times
`braggflow.process` on the same images in a third folder; --same-input also runs
braggflow.integrate on DIALS's refined.expt/refl (both integrators on the same refined input). --reuse keeps a chain whose
steps.json is complete instead of rerunning it.

It prints the per-step table (wall s, peak RSS MB, DIALS/braggflow ratio), then the quality
of each chain against the truth (braggflow.validation.compare_files): cell error %,
misorientation, integrated counts, CC(I*lp, I_true) for summation and profile fitting
(overall, weak, strong, per resolution bin) and the spread of (I - k*counts)/sigma.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

from braggflow.validation import IntegrationComparison, compare_files

RUN_CHAIN = "/work/shared/tools/run_chain.py"
CLEAN_ENV = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
CHAIN = ["import", "find_spots", "index", "refine_bravais_settings", "reindex", "refine", "integrate", "export"]
SCALE_STEPS = [
    ("symmetry", ["symmetry", "integrated.expt", "integrated.refl"]),
    ("scale", ["scale", "symmetrized.expt", "symmetrized.refl"]),
    ("merge", ["merge", "scaled.expt", "scaled.refl"]),
]
DATASETS = {
    "demo": ("demo", {}),
    "thaumatin": ("pilatus6m_thaumatin", {"scan.num_images": 60}),
}


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def timed(cmd: list[str], workdir: Path, name: str, env: dict | None) -> dict:
    """Run one command under /usr/bin/time -v; wall, user, sys, peak RSS as run_chain.py records them."""
    tfile = workdir / f"{name}.time"
    t0 = time.monotonic()
    with open(workdir / f"{name}.stdout", "w") as out:
        rc = subprocess.call(["/usr/bin/time", "-v", "-o", str(tfile)] + cmd, cwd=workdir, env=env,
                             stdout=out, stderr=subprocess.STDOUT)
    wall = time.monotonic() - t0
    txt = tfile.read_text() if tfile.exists() else ""
    grab = lambda pat: (m := re.search(pat, txt)) and float(m.group(1))  # noqa: E731
    rss = grab(r"Maximum resident set size \(kbytes\): (\d+)")
    return {"name": name, "command": " ".join(shlex.quote(c) for c in cmd), "wall_s": round(wall, 2),
            "user_s": grab(r"User time \(seconds\): ([\d.]+)"), "sys_s": grab(r"System time \(seconds\): ([\d.]+)"),
            "max_rss_mb": round(rss / 1024.0, 1) if rss else None, "rc": rc}


def simulate(dataset: str, num_images: int | None, folder: Path) -> list[str]:
    images = folder / "images"
    if not (images / "truth.refl").exists():
        preset, over = DATASETS[dataset]
        if num_images is not None and dataset != "demo":
            over = {**over, "scan.num_images": num_images}
        cmd = ["braggflow.simulate", f"preset={preset}", f"output.directory={images}"] + [f"{k}={v}" for k, v in over.items()]
        t0 = time.monotonic()
        folder.mkdir(parents=True, exist_ok=True)  # the program's log and .phil go to its cwd
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=folder)
        print(f"simulated {dataset} into {images} in {time.monotonic() - t0:.1f} s")
    return sorted(str(p) for p in images.glob("image_*.cbf"))


def chain_done(workdir: Path, names: list[str]) -> bool:
    try:
        steps = json.loads((workdir / "steps.json").read_text())["steps"]
    except (OSError, ValueError, KeyError):
        return False
    return [s["name"] for s in steps if s["rc"] == 0] == names


def run_chain(prefix: str, workdir: Path, images: list[str], nproc: int, scale: bool, reuse: bool) -> list[dict]:
    names = CHAIN + ([n for n, _ in SCALE_STEPS] if scale else [])
    if reuse and chain_done(workdir, names):
        print(f"[{prefix}] reusing {workdir}/steps.json")
        return json.loads((workdir / "steps.json").read_text())["steps"]
    print(f"[{prefix}] {uptime()}")
    rc = subprocess.call([sys.executable, RUN_CHAIN, str(workdir), *images, "--prefix", prefix, "--nproc", str(nproc)])
    if rc != 0:
        sys.exit(f"{prefix} chain failed (rc={rc}); see {workdir}")
    data = json.loads((workdir / "steps.json").read_text())
    env = CLEAN_ENV if prefix == "dials" else None
    for name, args in SCALE_STEPS if scale else []:
        step = timed([f"{prefix}.{args[0]}"] + args[1:], workdir, name, env)
        print("%-26s %8.1f s  %8s MB  rc=%d" % (name, step["wall_s"], step["max_rss_mb"], step["rc"]), flush=True)
        data["steps"].append(step)
        (workdir / "steps.json").write_text(json.dumps(data, indent=1))
        if step["rc"] != 0:
            sys.exit(f"{prefix}.{name} failed; see {workdir}/{name}.stdout")
    return data["steps"]


def run_same_input(folder: Path, nproc: int) -> dict:
    """braggflow.integrate on DIALS's refined.expt/refl (the same refined input as dials.integrate)."""
    work = folder / "braggflow_on_dials_refined"
    work.mkdir(parents=True, exist_ok=True)
    for name in ("refined.expt", "refined.refl"):
        (work / name).write_bytes((folder / "dials" / name).read_bytes())
    step = timed(["braggflow.integrate", "refined.expt", "refined.refl", f"nproc={nproc}"], work, "integrate", None)
    print("%-26s %8.1f s  %8s MB  rc=%d" % ("integrate (DIALS refined)", step["wall_s"], step["max_rss_mb"], step["rc"]))
    if step["rc"] != 0:
        sys.exit(f"braggflow.integrate on DIALS's refined input failed; see {work}/integrate.stdout")
    return step


def run_process(workdir: Path, images: list[str], nproc: int, scale: bool) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = ["braggflow.process", *images, f"process.directory={workdir}", f"mp.nproc={nproc}",
           f"process.scale={scale}", "process.report=False", "process.force=True"]
    print(f"[process] {uptime()}")
    step = timed(cmd, workdir, "process", None)
    print("%-26s %8.1f s  %8s MB  rc=%d" % ("braggflow.process", step["wall_s"], step["max_rss_mb"], step["rc"]))
    return step


def fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def step_table(dials: list[dict], bf: list[dict], process: dict | None) -> list[str]:
    d, b = {s["name"]: s for s in dials}, {s["name"]: s for s in bf}
    lines = ["| step | DIALS wall s | DIALS peak MB | braggflow wall s | braggflow peak MB | DIALS / braggflow |",
             "|---|---:|---:|---:|---:|---:|"]
    for name in [s["name"] for s in dials]:
        ds, bs = d[name], b.get(name, {})
        ratio = ds["wall_s"] / bs["wall_s"] if bs.get("wall_s") else None
        lines.append(f"| {name} | {ds['wall_s']:.1f} | {fmt(ds['max_rss_mb'], '.0f')} | {fmt(bs.get('wall_s'), '.1f')} "
                     f"| {fmt(bs.get('max_rss_mb'), '.0f')} | {fmt(ratio, '.2f')} |")
    td, tb = sum(s["wall_s"] for s in dials), sum(s["wall_s"] for s in bf)
    pd, pb = max(s["max_rss_mb"] or 0 for s in dials), max(s["max_rss_mb"] or 0 for s in bf)
    lines.append(f"| **total** | **{td:.1f}** | {pd:.0f} (max) | **{tb:.1f}** | {pb:.0f} (max) | **{td / tb:.2f}** |")
    if process:
        lines.append(f"| braggflow.process (same stages) | | | {process['wall_s']:.1f} | {fmt(process['max_rss_mb'], '.0f')} "
                     f"| {td / process['wall_s']:.2f} |")
    return lines


def quality_table(results: dict[str, IntegrationComparison]) -> list[str]:
    names = list(results)
    rows: list[tuple[str, ...]] = []

    def add(label: str, get) -> None:  # noqa: ANN001
        rows.append((label, *(get(r) for r in results.values())))

    add("cell (truth setting)", lambda r: " ".join(f"{v:.4f}" for v in r.crystal.cell[:3]))
    add("cell error a, b, c (%)", lambda r: ", ".join(f"{e:+.4f}" for e in r.crystal.cell_error_pct))
    add("misorientation static / max over scan (deg)",
        lambda r: f"{r.crystal.misorientation_deg:.4f} / {r.crystal.misorientation_max_deg:.4f}")
    add("rows in integrated.refl", lambda r: str(r.n_rows))
    add("integrated: sum / prf", lambda r: f"{r.n_sum} / {r.n_prf}")
    add("matched to truth / fully recorded", lambda r: f"{r.n_matched} / {r.n_full}")
    for m in ("sum", "prf"):
        get = lambda r, m=m: r.methods.get(m)  # noqa: E731
        add(f"CC({m}) all full (n)", lambda r, g=get: f"{g(r).cc:.5f} ({g(r).n})")
        add(f"CC({m}) weak (n)", lambda r, g=get: f"{g(r).cc_weak:.4f} ({g(r).n_weak})")
        add(f"CC({m}) strong (n)", lambda r, g=get: f"{g(r).cc_strong:.5f} ({g(r).n_strong})")
        add(f"median I*lp/I_true ({m}, strong)", lambda r, g=get: f"{g(r).median_ratio:.4f}")
        add(f"(I-k*counts)/sigma ({m}): mean, sd, robust sd, >3 sigma",
            lambda r, g=get: (lambda z: f"{z.mean:+.2f}, {z.sd:.2f}, {z.robust_sd:.2f}, {100 * z.frac_beyond_3:.1f}% (k {z.k:.3f})")(g(r).residuals))
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def resolution_table(results: dict[str, IntegrationComparison]) -> list[str]:
    first = next(iter(results.values())).methods["sum"].by_resolution
    cols = [(n, m) for n in results for m in ("sum", "prf")]
    lines = ["| d range (A) | " + " | ".join(f"{n} CC({m})" for n, m in cols) + " | n (sum) |",
             "|---|" + "---:|" * (len(cols) + 1)]
    for i, b in enumerate(first):
        cells = []
        for n, m in cols:
            bins = results[n].methods[m].by_resolution
            cells.append(f"{bins[i].cc:.5f}" if i < len(bins) else "-")
        lines.append(f"| {b.d_max:.2f}-{b.d_min:.2f} | " + " | ".join(cells) + f" | {b.n} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", choices=sorted(DATASETS), default="demo")
    ap.add_argument("--num-images", type=int, default=None, help="thaumatin scan length (default 60 x 0.15 deg)")
    ap.add_argument("--workdir", default="/tmp/bench_process")
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--scale", action="store_true", help="also symmetry, scale, merge in both chains")
    ap.add_argument("--process", action="store_true", help="also time braggflow.process on the same images")
    ap.add_argument("--same-input", action="store_true",
                    help="also run braggflow.integrate on DIALS's refined.expt/refl and compare it too")
    ap.add_argument("--reuse", action="store_true", help="keep chains whose steps.json is complete")
    ap.add_argument("--markdown", help="also write the tables to this file")
    a = ap.parse_args()
    folder = Path(a.workdir).absolute() / a.dataset
    images = simulate(a.dataset, a.num_images, folder)
    start = uptime()
    dials = run_chain("dials", folder / "dials", images, a.nproc, a.scale, a.reuse)
    bf = run_chain("braggflow", folder / "braggflow", images, a.nproc, a.scale, a.reuse)
    proc = run_process(folder / "process", images, a.nproc, a.scale) if a.process else None
    same = run_same_input(folder, a.nproc) if a.same_input else None
    end = uptime()
    names = ["dials", "braggflow"] + (["braggflow_on_dials_refined"] if same else [])
    results = {name: compare_files(folder / "images", folder / name / "integrated.expt", folder / name / "integrated.refl")
               for name in names}
    w = results["dials"]
    out = [f"## {a.dataset}: {len(images)} images, nproc={a.nproc}", "",
           f"load before: `{start}`; after: `{end}`", "",
           *step_table(dials, bf, proc), "",
           *([f"braggflow.integrate on DIALS's refined.expt/refl: {same['wall_s']:.1f} s, peak {same['max_rss_mb']:.0f} MB "
              f"(dials.integrate {next(s['wall_s'] for s in dials if s['name'] == 'integrate'):.1f} s)", ""] if same else []),
           f"Weak: truth counts.expected < {w.weak_counts:.0f} photons; strong: > {w.strong_counts:.0f} "
           "(quantiles 0.25 / 0.5 of the fully recorded truth reflections).", "",
           *quality_table(results), "", "CC(I*lp, I_true) per resolution bin (fully recorded):", "",
           *resolution_table(results), ""]
    text = "\n".join(out)
    print(text)
    (folder / "summary.md").write_text(text)
    if a.markdown:
        Path(a.markdown).write_text(text)


if __name__ == "__main__":
    main()
