"""Indexing success matrix over the 14 Bravais lattice types (synthetic spots, no images).

    python benchmarks/bench_indexing_matrix.py [--trials 1] [--n-points 256] [--seed 1]
        [--ice both|none|only] [--ice-range 0.1 0.3] [--nproc 1] [--types aP,mP,...]

For each Bravais type and trial: random orientation, random base length 10-300 A, predicted
spots with 0.3 px / 0.2 frame noise, 30 % dropped, 5 % spurious spots; index in P1 and check
the lattice (cell error after matching bases, misorientation). Prints success rate, cell
error and misorientation per type. Success: rel. cell error < 0.1 % and misorientation < 0.05 deg.
With ice, spurious spots on the ten strongest hexagonal-ice powder rings (3.90-1.72 A,
uniform in azimuth and phi) are added, 10-30 % of all spots (uniform random per case); the
same crystals and seeds are used with and without ice.
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


def make_case(bravais: str, rng: np.random.Generator, ice_fraction: float = 0.0, base: float | None = None):
    """(experiment, strong spots, true crystal) of one synthetic case."""
    sg, cell_fn = BRAVAIS[bravais]
    a = float(base if base is not None else np.exp(rng.uniform(np.log(10.0), np.log(300.0))))
    cell = cell_fn(a, a, a)
    truth = random_crystal(cell, sg, rng)
    width = 0.5 if max(cell[:3]) > 150 else 1.0
    expt = make_sweep(n_images=int(60 / width), width_deg=width)
    d_min = max(1.5, max(cell[:3]) / 60.0)
    refl = simulate_spots(expt, truth, d_min, rng, max_spots=20000)
    n_spur = len(refl) // 20
    refl = simulate_spots(expt, truth, d_min, rng, n_spurious=n_spur, max_spots=20000, ice_fraction=ice_fraction)
    return expt, refl, truth


def run_case(bravais: str, rng: np.random.Generator, n_points: int, base: float | None = None,
             ice_fraction: float = 0.0, nproc: int = 1):
    expt, refl, truth = make_case(bravais, rng, ice_fraction, base)
    cell = truth.unit_cell.parameters
    params = IndexingParams(nproc=nproc,
                            fft3d=FFT3DParams(reciprocal_space_grid=ReciprocalSpaceGridParams(n_points=n_points)))
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
    ap.add_argument("--trials", type=int, default=1)
    ap.add_argument("--n-points", type=int, default=256)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ice", choices=("both", "none", "only"), default="both")
    ap.add_argument("--nproc", type=int, default=1)
    ap.add_argument("--types", default=",".join(BRAVAIS), help="comma-separated Bravais types")
    ap.add_argument("--ice-range", type=float, nargs=2, default=(0.1, 0.3), metavar=("LO", "HI"),
                    help="ice-ring spots as a fraction of all spots, drawn uniformly per case")
    args = ap.parse_args(argv)
    modes = {"both": (False, True), "none": (False,), "only": (True,)}[args.ice]
    for ice in modes:
        run_matrix(args, ice)
    return 0


def run_matrix(args: argparse.Namespace, ice: bool) -> None:
    rng = np.random.default_rng(args.seed)
    n_ok = n_all = 0
    t_all = time.perf_counter()
    print(f"== {'with' if ice else 'without'} ice rings ==")
    print(f"{'type':4} {'ok':>5} {'max cell err':>13} {'max misor deg':>14} {'mean s':>7}  cells")
    for bravais in args.types.split(","):
        rows = []
        for _ in range(args.trials):
            case_rng = np.random.default_rng(rng.integers(1 << 62))
            ice_fraction = float(rng.uniform(*args.ice_range))  # drawn in both modes: same crystals either way
            rows.append(run_case(bravais, case_rng, args.n_points, ice_fraction=ice_fraction if ice else 0.0,
                                 nproc=args.nproc))
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
    print(f"success rate ({'with' if ice else 'without'} ice): {n_ok}/{n_all} = {100.0 * n_ok / n_all:.1f}%"
          f"  ({time.perf_counter() - t_all:.0f} s)")


if __name__ == "__main__":
    raise SystemExit(main())
