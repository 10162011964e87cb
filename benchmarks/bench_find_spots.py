"""braggflow.find_spots vs decoding alone vs dials.find_spots on a simulated Pilatus 6M sweep.

Run:  python benchmarks/bench_find_spots.py [FOLDER] [--images 100] [--memory-images 400]
          [--nproc 1 2] [--repeats 3] [--no-dials] [--compare LABEL=SOURCE_ROOT ...]

FOLDER (default /tmp/bf_bench_6m) caches the simulated sweep (preset pilatus6m_thaumatin,
written once by braggflow.simulate, ~6 MB and ~0.5 s per image) and the imported .expt
files. In one run the script times

- decoding only, in this process: fabio, our ImageSequence.read_raw (decode) and
  ImageSequence.read (decode + valid mask), and read_raw in nproc threads;
- braggflow.find_spots and (if installed, clean environment) dials.find_spots, each as a
  subprocess under /usr/bin/time -v, for every nproc;
- braggflow.find_spots on --memory-images images (peak memory must not grow with them).

Every subprocess wall time includes interpreter start-up. "CPU s" is user + system time
(/usr/bin/time; includes reaped child processes, e.g. DIALS' workers); on a shared,
loaded machine wall times mostly measure the other jobs, CPU times much less so. "peak RSS" is /usr/bin/time's
maximum resident set (largest single process); "tree MB" is the peak of the summed RSS of
the process and all its descendants (joblib workers), sampled every 20 ms from /proc.
"x decode" is wall time / the single-process read_raw time of the same images; "x DIALS"
is wall time / dials.find_spots at the same nproc. Times are medians over --repeats. The
machine may be shared: the load average is printed at start and end. Decoding (cheap) is
always the median of at least 3 repeats.

--compare LABEL=ROOT also runs `python -m braggflow.pipeline.programs.find_spots` with
PYTHONPATH=ROOT (e.g. a copy of an older source tree) to measure before/after.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

PRESET = "pilatus6m_thaumatin"
DIALS_ENV = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}


def run_quiet(cmd: list[str], cwd: Path, env: dict | None = None) -> None:
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"failed ({res.returncode}): {' '.join(cmd)}\n{res.stderr[-2000:]}")


def ensure_sweep(folder: Path, n_images: int) -> Path:
    """Simulate the sweep once; later runs reuse the files."""
    sweep = folder / "sweep"
    if (sweep / f"image_{n_images:05d}.cbf").exists():
        return sweep
    if sweep.exists():
        shutil.rmtree(sweep)
    folder.mkdir(parents=True, exist_ok=True)
    print(f"simulating {n_images} images of {PRESET} into {sweep} (once) ...", flush=True)
    run_quiet(
        ["braggflow.simulate", f"simulation.preset={PRESET}", f"scan.num_images={n_images}",
         f"output.directory={sweep}", "output.nproc=2"],
        folder,
    )
    return sweep


def ensure_imports(folder: Path, sweep: Path, n: int, dials: bool) -> tuple[Path, Path | None]:
    template = str(sweep / "image_#####.cbf")
    ours = folder / f"bf{n}"
    ours.mkdir(exist_ok=True)
    if not (ours / "imported.expt").exists():
        run_quiet(["braggflow.import", f"input.template={template}",
                   f"scan.image_range=1,{n}"], ours)
    if not dials:
        return ours, None
    theirs = folder / f"dials{n}"
    theirs.mkdir(exist_ok=True)
    if not (theirs / "imported.expt").exists():
        run_quiet(["dials.import", f"template={template}", f"image_range=1,{n}"], theirs,
                  DIALS_ENV)
    return ours, theirs


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(c) for c in fh.read().split()]
    except OSError:
        pass
    return out


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree_rss_kb(root: int) -> int:
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _rss_kb(pid)
        todo += _children(pid)
    return total


def timed_run(cmd: list[str], cwd: Path, env: dict | None = None) -> dict:
    """Wall s, /usr/bin/time max RSS MB and sampled process-tree peak RSS MB of a command."""
    full = ["/usr/bin/time", "-v", *cmd]
    t0 = time.perf_counter()
    proc = subprocess.Popen(full, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_rss_kb(proc.pid))
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{out[-1500:]}\n{err[-1500:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", err))
    return {"wall": wall, "cpu": cpu, "rss_mb": int(rss.group(1)) / 1024 if rss else float("nan"),
            "tree_mb": peak[0] / 1024, "log": out}


def median_run(cmd, cwd, env, repeats: int) -> dict:
    runs = [timed_run(cmd, cwd, env) for _ in range(repeats)]
    return {"wall": statistics.median(r["wall"] for r in runs),
            "cpu": statistics.median(r["cpu"] for r in runs),
            "rss_mb": max(r["rss_mb"] for r in runs),
            "tree_mb": max(r["tree_mb"] for r in runs), "log": runs[-1]["log"],
            "walls": [r["wall"] for r in runs]}


def time_decoding(expt: Path, nprocs: list[int], repeats: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds to decode all images of the sweep (page cache warmed)."""
    from concurrent.futures import ThreadPoolExecutor

    import fabio

    from braggflow.formats.expt_io import read_experiments
    from braggflow.formats.imageset import open_imageset

    seq = open_imageset(read_experiments(expt)[0])
    n = len(seq)
    for path in seq.paths:  # warm the page cache
        Path(path).read_bytes()

    def med(fn) -> tuple[float, float]:
        walls, cpus = [], []
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        return statistics.median(walls), statistics.median(cpus)

    def threaded(k: int) -> None:
        with ThreadPoolExecutor(k) as pool:
            list(pool.map(seq.read_raw, range(n)))

    out = {
        "fabio.open().data": med(lambda: [fabio.open(p).data for p in seq.paths]),
        "ImageSequence.read_raw": med(lambda: [seq.read_raw(i) for i in range(n)]),
        "ImageSequence.read (+valid mask)": med(lambda: [seq.read(i) for i in range(n)]),
    }
    for k in nprocs:
        if k > 1:
            out[f"read_raw, {k} threads"] = med(lambda: threaded(k))
    return out


def spots_line(log: str) -> str:
    m = re.search(r"Saved (\d+) reflections", log)
    return m.group(1) if m else "?"


def same_spots(a: Path, b: Path) -> str:
    """'yes' when the two strong.refl files hold the same spots (bbox and centroid)."""
    from braggflow.formats.refl_io import read_refl

    ta, tb = read_refl(a), read_refl(b)
    if len(ta) != len(tb):
        return f"no ({len(ta)} vs {len(tb)})"

    def key(t):
        xyz = np.asarray(t["xyzobs.px.value"])
        order = np.lexsort((xyz[:, 0], xyz[:, 1], xyz[:, 2]))
        return xyz[order], np.asarray(t["bbox"])[order]

    (xa, ba), (xb, bb) = key(ta), key(tb)
    ok = np.array_equal(ba, bb) and np.allclose(xa, xb, rtol=0, atol=1e-9)
    return "yes" if ok else "no (values differ)"


def ours_cmd(nproc: int, out: str, root: str | None,
             extra: tuple[str, ...] = ()) -> tuple[list[str], dict | None]:
    args = ["imported.expt", f"nproc={nproc}", f"output.reflections={out}", *extra]
    if root is None:
        return ["braggflow.find_spots", *args], None
    env = dict(os.environ, PYTHONPATH=root)
    return [sys.executable, "-m", "braggflow.pipeline.programs.find_spots", *args], env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("folder", nargs="?", default="/tmp/bf_bench_6m")
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--memory-images", type=int, default=400)
    ap.add_argument("--nproc", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-dials", action="store_true")
    ap.add_argument("--compare", action="append", default=[], metavar="LABEL=ROOT")
    opts = ap.parse_args()
    folder = Path(opts.folder).resolve()
    dials = not opts.no_dials and shutil.which("dials.find_spots", path=DIALS_ENV["PATH"])
    n, n_mem = opts.images, max(opts.memory_images, opts.images)
    sweep = ensure_sweep(folder, n_mem)
    ours, theirs = ensure_imports(folder, sweep, n, bool(dials))
    ours_mem, _ = ensure_imports(folder, sweep, n_mem, False)
    mpix = n * 2527 * 2463 / 1e6
    load0 = os.getloadavg()
    print(f"{n} Pilatus 6M images (2463 x 2527, {mpix:.0f} Mpixel) in {sweep}; "
          f"{os.cpu_count()} CPUs; load average at start {load0[0]:.2f} {load0[1]:.2f} "
          f"{load0[2]:.2f}; medians of {opts.repeats}", flush=True)

    decode = time_decoding(ours / "imported.expt", opts.nproc, max(opts.repeats, 3))
    base_wall, base_cpu = decode["ImageSequence.read_raw"]
    rows = [(name, "-", w, c, float("nan"), float("nan"), "") for name, (w, c) in decode.items()]
    dials_time: dict[int, tuple[float, float]] = {}
    variants = [("braggflow.find_spots", None, ()),
                ("  (output.shoeboxes=False)", None, ("output.shoeboxes=False",))] + [
        (*c.split("=", 1), ()) for c in opts.compare
    ]
    for k in opts.nproc:
        if dials:
            r = median_run(["dials.find_spots", "imported.expt", f"nproc={k}"], theirs,
                           DIALS_ENV, opts.repeats)
            dials_time[k] = (r["wall"], r["cpu"])
            rows.append(("dials.find_spots", k, r["wall"], r["cpu"], r["rss_mb"], r["tree_mb"],
                         spots_line(r["log"])))
        for label, root, extra in variants:
            out = f"strong_{re.sub(r'[^A-Za-z0-9]+', '_', label).strip('_')}_{k}.refl"
            cmd, env = ours_cmd(k, out, root, extra)
            r = median_run(cmd, ours, env, opts.repeats)
            note = spots_line(r["log"])
            if dials:
                note += f", same as DIALS: {same_spots(ours / out, theirs / 'strong.refl')}"
            rows.append((label, k, r["wall"], r["cpu"], r["rss_mb"], r["tree_mb"], note))

    print(f"\n{'what':34s} {'nproc':>5s} {'wall s':>7s} {'CPU s':>6s} {'img/s':>6s} "
          f"{'Mpix/s':>7s} {'x decode':>8s} {'x DIALS':>7s} {'CPU x DIALS':>11s} "
          f"{'peak RSS':>8s} {'tree MB':>7s}  spots")
    for name, k, wall, cpu, rss, tree, note in rows:
        dw, dc = dials_time.get(k, (float("nan"), float("nan")))
        print(f"{name:34s} {k!s:>5s} {wall:7.2f} {cpu:6.2f} {n / wall:6.2f} {mpix / wall:7.1f} "
              f"{wall / base_wall:8.2f} {wall / dw:7.2f} {cpu / dc:11.2f} {rss:8.0f} {tree:7.0f}"
              f"  {note}")
    print(f"(x decode = wall / read_raw wall {base_wall:.2f} s; CPU of read_raw "
          f"{base_cpu:.2f} s: CPU x decode for nproc 1 = "
          + ", ".join(f"{r[0]} {r[3] / base_cpu:.1f}" for r in rows if r[1] == 1) + ")")

    print(f"\npeak memory of braggflow.find_spots, {n} vs {n_mem} images (one run each):")
    print(f"{'images':>6s} {'nproc':>5s} {'shoeboxes':>9s} {'wall s':>7s} {'CPU s':>6s} "
          f"{'peak RSS':>8s} {'tree MB':>8s} {'spots':>7s} {'refl MB':>7s}")
    mem: dict[tuple[int, int, bool], dict] = {}
    for images, where in ((n, ours), (n_mem, ours_mem)):
        for k in opts.nproc:
            for sb in (True, False):
                out = f"strong_mem_{k}_{int(sb)}.refl"
                extra = () if sb else ("output.shoeboxes=False",)
                r = timed_run(ours_cmd(k, out, None, extra)[0], where)
                mem[(images, k, sb)] = r
                size = (where / out).stat().st_size / 1e6
                print(f"{images:6d} {k:5d} {str(sb):>9s} {r['wall']:7.2f} {r['cpu']:6.2f} "
                      f"{r['rss_mb']:8.0f} {r['tree_mb']:8.0f} {spots_line(r['log']):>7s} "
                      f"{size:7.1f}")
    if n_mem > n:
        per_decode = base_wall / n
        print(f"\nper-image cost without start-up = (wall {n_mem} - wall {n}) / {n_mem - n} "
              f"images, vs read_raw {1e3 * per_decode:.1f} ms/image:")
        for k in opts.nproc:
            for sb in (True, False):
                a, b = mem[(n, k, sb)], mem[(n_mem, k, sb)]
                wall = (b["wall"] - a["wall"]) / (n_mem - n)
                cpu = (b["cpu"] - a["cpu"]) / (n_mem - n)
                start = a["wall"] - n * wall
                print(f"  nproc {k} shoeboxes {sb!s:5s}: {1e3 * wall:6.1f} ms/image wall "
                      f"({wall / per_decode:4.2f} x decode), {1e3 * cpu:6.1f} ms/image CPU, "
                      f"fixed part {start:5.2f} s")
    load1 = os.getloadavg()
    print(f"\nload average at end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")


if __name__ == "__main__":
    main()
