"""Image reading throughput: braggflow mini/full-CBF reading vs fabio on the same files.

    python benchmarks/bench_image_read.py [--repeat 3] [files...]

Default files: the 15 L-cysteine full CBFs (Pilatus 2M, uncompressed) and the 4 thaumatin
Pilatus3 6M mini-CBF stills (bzip2) from ../shared/data/images. Prints images/s and
Mpixel/s for: braggflow `Format.read` (decode only), braggflow `ImageSequence.read`
(decode + valid mask), `fabio.open(path).data`, and fabio's bare byte-offset decoder on
bytes already in memory.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import fabio
import numpy as np
from fabio.ext.byte_offset import dec_cbf32

from braggflow.formats import compression
from braggflow.formats.base import find_format
from braggflow.formats.imageset import ImageSequence

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "images"


def _time(fn, paths: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for p in paths:
            fn(p)
        best = min(best, time.perf_counter() - t0)
    return best


def bench(label: str, paths: list[str], repeat: int) -> None:
    fmt = find_format(paths[0])
    det = fmt.experiment_models(paths[0]).detector
    npix = sum(p.image_size[0] * p.image_size[1] for p in det.panels)
    seq = ImageSequence(fmt.name(), tuple(paths), (0,) * len(paths), (1, len(paths)), det)
    blobs = {p: compression.read_all(p) for p in paths}

    def bare(p: str) -> None:
        data = blobs[p]
        start = data.find(b"\x0c\x1a\x04\xd5") + 4
        np.asarray(dec_cbf32(data[start:], npix))

    runs = {
        "braggflow Format.read": lambda p: fmt.read(p, 0, det),
        "braggflow ImageSequence.read (+mask)": lambda p: seq.read(paths.index(p)),
        "fabio.open().data": lambda p: fabio.open(p).data,
        "fabio dec_cbf32 (bytes in memory)": bare,
    }
    print(f"\n{label}: {len(paths)} images, {npix / 1e6:.2f} Mpixel each, {fmt.name()}")
    for name, fn in runs.items():
        seconds = _time(fn, paths, repeat)
        print(f"  {name:40s} {len(paths) / seconds:8.1f} images/s  {len(paths) * npix / seconds / 1e6:8.1f} Mpixel/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if args.files:
        bench("files", [str(Path(f).resolve()) for f in args.files], args.repeat)
        return
    bench("L-cysteine full CBF (uncompressed)", sorted(str(p) for p in (SHARED / "l_cysteine_sweep4").glob("*.cbf")), args.repeat)
    bench("thaumatin mini-CBF (.bz2)", sorted(str(p) for p in (SHARED / "thaumatin_grid").glob("*.bz2")), args.repeat)


if __name__ == "__main__":
    main()
