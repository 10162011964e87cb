"""Time the spot-finding threshold kernels on a Pilatus-6M-sized synthetic image.

Run:  python benchmarks/bench_spotfinding_kernels.py [--repeats N] [--cbf FILE ...]
Prints seconds per image (median of N timed runs after a warm-up) and Mpixel/s for the numba
kernels and their numpy twins, and for the fused integer kernel
(`_fused_kernels.fused_strong_pixels`: valid mask formed on the fly from a static mask and
the trusted range, int32 input) that find_spots uses for integer images. With --cbf, the
fused kernel is also timed on those images (e.g. /tmp/bf_bench_6m/sweep/image_00001.cbf,
read with fabio; trusted range 0..1e6, DIALS default parameters with gain 1).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from braggflow.algorithms.spotfinding import _fused_kernels, _kernels, _reference

NY, NX = 2527, 2463  # Pilatus 6M (slow, fast)


def synthetic_image(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Poisson background (mean 2) with 2000 small spots and Pilatus module gaps at -1."""
    rng = np.random.default_rng(seed)
    img = rng.poisson(2.0, (NY, NX)).astype(np.float64)
    ys, xs = rng.integers(3, NY - 3, 2000), rng.integers(3, NX - 3, 2000)
    for y, x, amp in zip(ys, xs, rng.integers(20, 2000, 2000)):
        img[y - 1 : y + 2, x - 1 : x + 2] += amp * np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16
    for x0 in range(487, NX, 494):  # 7-px gaps between 487-px modules
        img[:, x0 : x0 + 7] = -1
    for y0 in range(195, NY, 212):  # 17-px gaps between 195-px modules
        img[y0 : y0 + 17, :] = -1
    return img, img >= 0


def bench(fn, args, repeats: int) -> float:
    """Median wall seconds of `repeats` calls after one warm-up (compile) call."""
    fn(*args)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def bench_cbf(paths: list[str], repeats: int) -> None:
    """The fused kernel on real (e.g. simulated Pilatus 6M) CBF images."""
    import fabio

    for path in paths:
        counts = np.ascontiguousarray(fabio.open(path).data, dtype=np.int32)
        static = np.ones(counts.shape, dtype=bool)
        core = np.zeros(counts.shape, dtype=bool)
        for extended in (False, True):
            fargs = (counts, static, 0.0, 1e6, core, 3, 3, 6.0, 3.0, 0.0, 2, 1.0, True,
                     extended)
            t = bench(_fused_kernels.fused_strong_pixels, fargs, repeats)
            flat, exact = _fused_kernels.fused_strong_pixels(*fargs)
            name = "extended" if extended else "dispersion"
            print(f"{path}: fused ({name}) {1e3 * t:.2f} ms/image, {flat.size} strong px, "
                  f"exact={exact}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cbf", nargs="*", default=[], help="also time these CBF images")
    opts = parser.parse_args()
    img, mask = synthetic_image()
    args = (img, mask, 3, 3, 6.0, 3.0, 0.0, 2, 0.0, False)
    mpix = img.size / 1e6
    print(f"image {NY} x {NX} ({mpix:.2f} Mpixel), median of {opts.repeats}")
    print(f"{'kernel':32s} {'impl':6s} {'s/image':>9s} {'Mpixel/s':>9s} {'strong px':>10s}")
    for name in ("dispersion_threshold", "dispersion_extended_threshold"):
        for label, mod in (("numba", _kernels), ("numpy", _reference)):
            fn = getattr(mod, name)
            t = bench(fn, args, opts.repeats)
            n = int(fn(*args).sum())
            print(f"{name:32s} {label:6s} {t:9.3f} {mpix / t:9.1f} {n:10d}")
    counts = np.where(mask, img, -1).astype(np.int32)
    static = np.ones(img.shape, dtype=bool)
    core = np.zeros(img.shape, dtype=bool)
    for extended in (False, True):
        fargs = (counts, static, 0.0, 1e6, core, 3, 3, 6.0, 3.0, 0.0, 2, 0.0, False, extended)
        t = bench(_fused_kernels.fused_strong_pixels, fargs, opts.repeats)
        flat, exact = _fused_kernels.fused_strong_pixels(*fargs)
        name = "fused (extended)" if extended else "fused (dispersion)"
        print(f"{name:32s} {'numba':6s} {t:9.3f} {mpix / t:9.1f} {flat.size:10d}  exact={exact}")
    bench_cbf(opts.cbf, opts.repeats)


if __name__ == "__main__":
    main()
