"""braggflow.index vs dials.index on the same imported.expt + strong.refl, in one run.

Run:  python benchmarks/bench_index_vs_dials.py [--datasets lcys,thaum] [--nproc 1 2]
          [--repeats 3] [--folder /tmp/bf_bench_6m] [--no-dials] [--out FILE.md]

Datasets (both programs read the very same files):

- lcys:  L-cysteine sweep 4, the DIALS 3.12 imported.expt and strong.refl in
         /work/shared/data/reflections/dials312_l_cysteine_sweep4 (30 spots, 15 x 0.1 deg).
- thaum: a simulated thaumatin-like sweep (braggflow.simulate preset pilatus6m_thaumatin,
         100 x 0.1 deg... as the preset says), imported and spot-found by DIALS 3.12
         (dials.import + dials.find_spots, cached in FOLDER/dials100, shared with
         bench_find_spots.py); ~42 000 spots.

Each program runs as a subprocess under /usr/bin/time -v (DIALS in a clean environment,
env -i PATH=/usr/bin:/bin HOME=...), with indexing.nproc = each --nproc value; wall and CPU
(user + system, children included) are medians over --repeats. Wall includes interpreter
start-up. On a shared machine wall time mostly measures the other jobs; CPU time much less.

From each program's indexed.expt / indexed.refl (read by braggflow's readers, so both are
measured the same way): the cell, % indexed (rows with id >= 0 and hkl != 0 over all rows),
and the RMSDs x px, y px, phi deg of xyzcal - xyzobs over indexed rows not flagged
centroid_outlier and inside Tukey fences (k = 3) in x, y and phi (the same rule for both:
braggflow does not flag outliers in indexed.refl, DIALS does). The dials.index log's own "RMSDs by experiment" (px, px, images; its
refinement subset) is printed beside for reference.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LCYS = Path("/work/shared/data/reflections/dials312_l_cysteine_sweep4")
DIALS_ENV = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
PRESET = "pilatus6m_thaumatin"
N_IMAGES = 100


def _run(cmd: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"failed ({res.returncode}): {' '.join(cmd)}\n{res.stdout[-1500:]}\n{res.stderr[-1500:]}")
    return res


def thaumatin_inputs(folder: Path) -> tuple[Path, Path]:
    """(imported.expt, strong.refl) of the simulated sweep, made by DIALS (cached)."""
    dials_dir = folder / f"dials{N_IMAGES}"
    expt, refl = dials_dir / "imported.expt", dials_dir / "strong.refl"
    if expt.exists() and refl.exists():
        return expt, refl
    sweep = folder / "sweep"
    if not (sweep / f"image_{N_IMAGES:05d}.cbf").exists():
        folder.mkdir(parents=True, exist_ok=True)
        print(f"simulating {N_IMAGES} images of {PRESET} into {sweep} (once) ...", flush=True)
        _run([sys.executable, "-m", "braggflow.pipeline.programs.simulate", f"simulation.preset={PRESET}",
              f"scan.num_images={N_IMAGES}", f"output.directory={sweep}", "output.nproc=2"], folder, _our_env())
    dials_dir.mkdir(parents=True, exist_ok=True)
    if not expt.exists():
        _run(["dials.import", f"template={sweep / 'image_#####.cbf'}", f"image_range=1,{N_IMAGES}"], dials_dir,
             DIALS_ENV)
    print("dials.find_spots on the simulated sweep (once) ...", flush=True)
    _run(["dials.find_spots", "imported.expt", "nproc=2"], dials_dir, DIALS_ENV)
    return expt, refl


def _our_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float, str]:
    t0 = time.perf_counter()
    res = subprocess.run(["/usr/bin/time", "-v", *cmd], cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        sys.exit(f"failed ({res.returncode}): {' '.join(cmd)}\n{res.stdout[-1500:]}\n{res.stderr[-1500:]}")
    cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", res.stderr))
    return wall, cpu, res.stdout


def measure(expt: Path, refl: Path, out: Path) -> dict:
    """Cell, % indexed, RMSDs (x px, y px, phi deg) from indexed.expt/indexed.refl in `out`."""
    from braggflow.formats.expt_io import read_experiments
    from braggflow.formats.refl_io import read_refl
    from braggflow.algorithms.indexing.spots import tukey_inliers
    from braggflow.model.reflections import Flags

    el = read_experiments(out / "indexed.expt")
    t = read_refl(out / "indexed.refl")
    ids = np.asarray(t["id"])
    hkl = np.asarray(t["miller_index"])
    indexed = (ids >= 0) & np.any(hkl != 0, axis=1)
    flags = np.asarray(t["flags"]).astype(np.uint64) if "flags" in t else np.zeros(len(t), dtype=np.uint64)
    use = indexed & ((flags & np.uint64(int(Flags.centroid_outlier))) == 0)
    d_px = np.asarray(t["xyzcal.px"])[use] - np.asarray(t["xyzobs.px.value"])[use]
    d_phi = np.degrees(np.asarray(t["xyzcal.mm"])[use, 2] - np.asarray(t["xyzobs.mm.value"])[use, 2])
    inl = tukey_inliers(d_px[:, 0]) & tukey_inliers(d_px[:, 1]) & tukey_inliers(d_phi)
    d_px, d_phi, use = d_px[inl], d_phi[inl], use.copy()
    use[np.nonzero(use)[0][~inl]] = False
    rms = np.sqrt(np.mean(np.square(d_px[:, :2]), axis=0)) if use.any() else (np.nan, np.nan)
    cell = el[0].crystal.unit_cell.parameters
    return {"cell": cell, "pct": 100.0 * indexed.sum() / max(len(t), 1), "n_idx": int(indexed.sum()),
            "rmsd": (float(rms[0]), float(rms[1]), float(np.sqrt(np.mean(d_phi**2))) if use.any() else np.nan),
            "n_rmsd": int(use.sum())}


def dials_log_rmsd(out: Path) -> str:
    log = (out / "dials.index.log").read_text() if (out / "dials.index.log").exists() else ""
    m = re.findall(r"RMSDs by experiment:.*?\|\s+0 \|\s+(\d+) \|\s+([\d.]+) \|\s+([\d.]+) \|\s+([\d.]+) \|", log, re.S)
    return f"{m[-1][1]}/{m[-1][2]} px/{m[-1][3]} img (n {m[-1][0]})" if m else "-"


def run_one(prog: str, expt: Path, refl: Path, nproc: int, repeats: int) -> dict:
    walls, cpus = [], []
    with tempfile.TemporaryDirectory(prefix=f"bench_index_{prog}_") as tmp:
        out = Path(tmp)
        for _ in range(repeats):
            if prog == "dials":
                cmd = ["dials.index", str(expt), str(refl), f"indexing.nproc={nproc}"]
                env = DIALS_ENV
            else:
                cmd = [sys.executable, "-m", "braggflow.pipeline.programs.index", str(expt), str(refl),
                       f"indexing.nproc={nproc}"]
                env = _our_env()
            wall, cpu, _ = timed(cmd, out, env)
            walls.append(wall)
            cpus.append(cpu)
        res = measure(expt, refl, out)
        res["log_rmsd"] = dials_log_rmsd(out) if prog == "dials" else "-"
    res.update(wall=statistics.median(walls), cpu=statistics.median(cpus), walls=walls)
    return res


def fmt_row(name: str, prog: str, nproc: int, r: dict, ref: dict | None) -> str:
    c = r["cell"]
    cell = f"{c[0]:.3f} {c[1]:.3f} {c[2]:.3f} {c[3]:.2f} {c[4]:.2f} {c[5]:.2f}"
    x = r["rmsd"]
    ratio = f"{ref['wall'] / r['wall']:.2f}" if ref is not None else "-"
    cratio = f"{ref['cpu'] / r['cpu']:.2f}" if ref is not None else "-"
    return (f"| {name} | {prog} | {nproc} | {r['wall']:.2f} | {r['cpu']:.2f} | {ratio} | {cratio} | {cell} |"
            f" {x[0]:.3f} / {x[1]:.3f} / {x[2]:.4f} ({r['n_rmsd']}) | {r['pct']:.1f} ({r['n_idx']}) | {r['log_rmsd']} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="lcys,thaum")
    ap.add_argument("--nproc", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--folder", type=Path, default=Path("/tmp/bf_bench_6m"))
    ap.add_argument("--no-dials", action="store_true")
    ap.add_argument("--out", type=Path, help="also write the table to this markdown file")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    dials = not args.no_dials and Path("/usr/bin/dials.index").exists()
    inputs = {"lcys": (LCYS / "imported.expt", LCYS / "strong.refl")}
    if "thaum" in args.datasets.split(","):
        inputs["thaum"] = thaumatin_inputs(args.folder)
    lines = [f"load average at start: {os.getloadavg()[0]:.2f}, repeats {args.repeats}, cores {os.cpu_count()}", "",
             "| data | program | nproc | wall s | CPU s | x DIALS wall | x DIALS CPU | cell (A, deg) |"
             " RMSD x px / y px / phi deg (n) | % indexed (n) | dials log RMSD |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for name in args.datasets.split(","):
        expt, refl = inputs[name]
        for nproc in args.nproc:
            ref = run_one("dials", expt, refl, nproc, args.repeats) if dials else None
            if ref is not None:
                lines.append(fmt_row(name, "dials.index", nproc, ref, None))
                print(lines[-1], flush=True)
            ours = run_one("braggflow", expt, refl, nproc, args.repeats)
            lines.append(fmt_row(name, "braggflow.index", nproc, ours, ref))
            print(lines[-1], flush=True)
    lines.append(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    print(lines[-1])
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
