"""Simulator throughput on a Pilatus 6M (thaumatin tutorial preset): images/s on one core.

    python benchmarks/bench_simulate.py [--images 20] [--preset pilatus6m_thaumatin] [--nproc 1]

Prints the one-off preparation time (prediction, intensities, partial fractions, background),
then per image: the spot count, the time to render the expected counts (background copy +
Gaussian splatting), to add noise / gain / overloads / gaps, to byte-offset encode and to
write the mini-CBF, and images/s for the whole loop (render + noise + encode + write).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from braggflow.algorithms.simulate.detector_effects import detector_counts
from braggflow.algorithms.simulate.params import with_overrides
from braggflow.algorithms.simulate.presets import preset
from braggflow.algorithms.simulate.sweep import prepare_simulation
from braggflow.formats.cbf_write import cbf_bytes, encode_byte_offset
from braggflow.pipeline.programs.simulate import _header, image_paths, write_images


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--preset", default="pilatus6m_thaumatin")
    ap.add_argument("--nproc", type=int, default=1)
    args = ap.parse_args()
    params = with_overrides(preset(args.preset), {"scan.num_images": args.images})
    t0 = time.perf_counter()
    sim = prepare_simulation(params)
    prep = time.perf_counter() - t0
    shape = sim.experiment.detector[0].image_shape
    print(f"{args.preset}: {shape[1]} x {shape[0]} pixels, {sim.num_images} images, "
          f"{len(sim.reflections):,} reflections to {sim.d_min:.2f} A; prepare {prep:.2f} s")
    sim.image(0)  # numba compile / cache load outside the timings
    cbf_bytes(np.zeros((4, 4), np.int32), _header(sim, 0))
    t_render, t_noise, t_encode, spots = [], [], [], []
    d = params.detector
    for k in range(sim.num_images):
        spots.append(len(sim.reflections.on_image(k)[0]))
        a = time.perf_counter()
        expected = sim.expected_image(k)[0]
        b = time.perf_counter()
        rng = np.random.default_rng([params.noise.seed, sim.image_number(k)])
        data = detector_counts(expected, rng, gain=d.gain, saturation=d.saturation, bad=sim.bad_pixels[0])
        c = time.perf_counter()
        encode_byte_offset(data)
        e = time.perf_counter()
        t_render.append(b - a)
        t_noise.append(c - b)
        t_encode.append(e - c)
    med = statistics.median
    print(f"spots per image (median): {med(spots):.0f}")
    print(f"render  {1e3 * med(t_render):6.1f} ms   noise+detector {1e3 * med(t_noise):6.1f} ms   "
          f"byte-offset {1e3 * med(t_encode):6.1f} ms   (medians per image)")
    with tempfile.TemporaryDirectory() as tmp:
        paths = image_paths(sim, Path(tmp), "image_#####.cbf")
        wall = write_images(sim, paths, nproc=args.nproc)
    print(f"full loop (render + noise + encode + write) with nproc={args.nproc}: {wall:.2f} s for "
          f"{sim.num_images} images = {sim.num_images / wall:.2f} images/s ({1e3 * wall / sim.num_images:.0f} ms/image)")


if __name__ == "__main__":
    main()
