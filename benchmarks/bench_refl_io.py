"""Time .refl write/read for an integrate-sized table and a shoebox-heavy strong table.

Run from the repository root: python -m benchmarks.bench_refl_io [n_rows]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from braggflow.formats.refl_io import read_refl, write_refl
from braggflow.model.reflections import ReflectionTable
from braggflow.model.shoebox import Shoeboxes


def integrated_like(n: int) -> ReflectionTable:
    rng = np.random.default_rng(0)
    cols: dict[str, np.ndarray] = {f"double.{i}": rng.random(n) for i in range(18)}
    cols.update({f"vec3.{i}": rng.random((n, 3)) for i in range(7)})
    cols.update(flags=np.zeros(n, np.uint64), id=np.zeros(n, np.int32),
                miller_index=rng.integers(-50, 50, (n, 3)), bbox=np.zeros((n, 6), np.int32))
    return ReflectionTable(cols, experiment_identifiers={0: "bench"})


def strong_like(n: int) -> ReflectionTable:
    rng = np.random.default_rng(1)
    x0 = rng.integers(0, 2000, n)
    y0 = rng.integers(0, 2000, n)
    z0 = rng.integers(0, 100, n)
    bbox = np.stack([x0, x0 + 7, y0, y0 + 7, z0, z0 + 2], axis=1)  # 98 px each
    sb = Shoeboxes.allocate(np.zeros(n, np.uint64), bbox)
    sb.data[:] = rng.random(len(sb.data))
    return ReflectionTable({"bbox": bbox, "panel": np.zeros(n, np.uint64), "shoebox": sb})


def time_round_trip(label: str, table: ReflectionTable, folder: Path) -> None:
    path = folder / f"{label}.refl"
    t0 = time.perf_counter()
    write_refl(table, path)
    t1 = time.perf_counter()
    back = read_refl(path)
    t2 = time.perf_counter()
    assert back.equals(table)
    size = path.stat().st_size / 2**20
    print(f"{label:10s} {len(table):>9,} rows {size:8.1f} MiB  "
          f"write {t1 - t0:6.2f} s  read {t2 - t1:6.2f} s")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500_000
    with tempfile.TemporaryDirectory() as tmp:
        time_round_trip("integrated", integrated_like(n), Path(tmp))
        time_round_trip("strong+sb", strong_like(n // 5), Path(tmp))


if __name__ == "__main__":
    main()
