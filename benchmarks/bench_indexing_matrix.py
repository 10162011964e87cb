"""Indexing success matrix over the 14 Bravais lattice types (synthetic spots, no images).

    python benchmarks/bench_indexing_matrix.py [--trials 3] [--n-points 256] [--seed 1]

For each Bravais type and trial: random orientation, random base length 10-300 A, predicted
spots with 0.3 px / 0.2 frame noise, 30 % dropped, 5 % spurious spots; index in P1 and check
the lattice (cell error after matching bases, misorientation). Prints success rate, cell
error and misorientation per type. Success: rel. cell error < 0.1 % and misorientation < 0.05 deg.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit" / "algorithms" / "indexing"))

from indexing_synthetic import BRAVAIS, cell_errors, make_sweep, random_crystal, simulate_spots  # noqa: E402

from braggflow.algorithms.indexing import IndexingParams, index  # noqa: E402
from braggflow.algorithms.indexing.params import FFT3DParams, ReciprocalSpaceGridParams  # noqa: E402
from braggflow.errors import StageFailed  # noqa: E402
from braggflow.model import ExperimentList  # noqa: E402


def run_case(bravais: str, rng: np.random.Generator, n_points: int, base: float | None = None):
    sg, cell_fn = BRAVAIS[bravais]
    a = float(base if base is not None else np.exp(rng.uniform(np.log(10.0), np.log(300.0))))
    cell = cell_fn(a, a, a)
    truth = random_crystal(cell, sg, rng)
    width = 0.5 if max(cell[:3]) > 150 else 1.0
    expt = make_sweep(n_images=int(60 / width), width_deg=width)
    d_min = max(1.5, max(cell[:3]) / 60.0)
    refl = simulate_spots(expt, truth, d_min, rng, max_spots=20000)
    n_spur = len(refl) // 20
    refl = simulate_spots(expt, truth, d_min, rng, n_spurious=n_spur, max_spots=20000)
    params = IndexingParams(fft3d=FFT3DParams(reciprocal_space_grid=ReciprocalSpaceGridParams(n_points=n_points)))
    t0 = time.perf_counter()
    try:
        res = index(ExperimentList([expt]), refl, params)
    except StageFailed as exc:
        return dict(ok=False, cell=cell, err=np.inf, angle=np.inf, t=time.perf_counter() - t0, msg=str(exc)[:80])
    err, angle = cell_errors(res.experiments[0].crystal, truth)
    ok = err < 1e-3 and angle < 0.05
    return dict(ok=ok, cell=cell, err=err, angle=angle, t=time.perf_counter() - t0, msg="", n=len(refl))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--n-points", type=int, default=256)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    n_ok = n_all = 0
    print(f"{'type':4} {'ok':>5} {'max cell err':>13} {'max misor deg':>14} {'mean s':>7}  cells")
    for bravais in BRAVAIS:
        rows = [run_case(bravais, rng, args.n_points) for _ in range(args.trials)]
        ok = sum(r["ok"] for r in rows)
        n_ok += ok
        n_all += len(rows)
        err = max(r["err"] for r in rows)
        ang = max(r["angle"] for r in rows)
        t = np.mean([r["t"] for r in rows])
        cells = ", ".join(f"{r['cell'][0]:.0f}" + ("" if r["ok"] else "(FAIL)") for r in rows)
        print(f"{bravais:4} {ok:>2}/{len(rows):<2} {err:13.2e} {ang:14.4f} {t:7.1f}  {cells}")
        for r in rows:
            if r["msg"]:
                print("     ", r["msg"])
    print(f"success rate: {n_ok}/{n_all} = {100.0 * n_ok / n_all:.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
