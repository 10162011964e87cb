"""The spot-finding driver: blocks of images in parallel (threads), seams merged, filtered."""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from braggflow.algorithms.spotfinding import _fused_kernels
from braggflow.algorithms.spotfinding.blocks import (
    BlockResult,
    BlockTask,
    FrameSource,
    process_block,
)
from braggflow.algorithms.spotfinding.centroids import SpotPixels, SpotStats, concat_stats
from braggflow.algorithms.spotfinding.filters import FilterCounts, filter_spots
from braggflow.algorithms.spotfinding.labelling import merge_seam_components
from braggflow.algorithms.spotfinding.params import SpotFinderParams, check_threshold_params
from braggflow.errors import ParameterError
from braggflow.model.shoebox import MaskCode, Shoeboxes

STRONG_FLAG = np.uint64(1 << 5)
MAX_BLOCK = 20  # images per task: bounds the strong pixels held per worker (memory)


@dataclass(frozen=True, slots=True)
class SpotFindingResult:
    """Strong spots (DIALS column names and dtypes) plus what the log needs.

    image_numbers : (m,) 1-based numbers of the images processed
    strong_pixels_per_image : (m,) strong pixels found on each (before any rejection)
    spots_per_image : (m,) final spots counted by the image holding their z centroid
    """

    columns: dict[str, np.ndarray]
    image_numbers: np.ndarray
    strong_pixels_per_image: np.ndarray
    spots_per_image: np.ndarray
    n_strong_pixels: int
    counts: FilterCounts
    min_spot_size: int
    max_spot_size: int
    rejected_images: tuple[int, ...]
    warnings: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.columns["n_signal"].shape[0])

    def __repr__(self) -> str:
        return f"<SpotFindingResult {len(self):,} spots on {self.image_numbers.size} images>"


def _check(params: SpotFinderParams) -> None:
    check_threshold_params(params.threshold)
    f = params.filter
    if not isinstance(f.min_spot_size, int):
        raise ParameterError(
            "spotfinder.filter.min_spot_size = Auto: resolve it first (resolve_auto)"
        )
    if f.min_spot_size < 1 or f.max_spot_size < 1:
        raise ParameterError("spotfinder.filter.min_spot_size/max_spot_size must be >= 1")
    if params.mp.method != "none":
        raise ParameterError(
            f"spotfinder.mp.method = {params.mp.method}: braggflow supports only 'none'"
        )


def _local_ranges(reader, scan_range) -> list[tuple[int, int]]:
    """Scan ranges (1-based inclusive image numbers) as [start, stop) sweep indices."""
    i0, i1 = reader.image_range
    if not scan_range:
        return [(0, len(reader))]
    out = []
    for j0, j1 in scan_range:
        if j1 < j0:
            raise ParameterError(f"spotfinder.scan_range = {j0},{j1}: must be ascending")
        if j0 < i0 or j1 > i1:
            raise ParameterError(
                f"spotfinder.scan_range = {j0},{j1}: must lie within images {i0}..{i1}"
            )
        out.append((j0 - i0, j1 - i0 + 1))
    return out


def _excluded(params: SpotFinderParams, first_image: int) -> tuple[int, ...]:
    """Sweep indices named by `exclude_images` ("exp:start:end", experiment 0 only)."""
    out: set[int] = set()
    for group in params.exclude_images:
        for item in group:
            parts = str(item).split(":")
            if len(parts) != 3 or not all(p.lstrip("-").isdigit() for p in parts):
                raise ParameterError(
                    f"spotfinder.exclude_images = {item}: expected exp:start:end"
                )
            exp, a, b = (int(p) for p in parts)
            if exp == 0:
                out.update(range(a - first_image, b - first_image + 1))
    return tuple(sorted(out))


def _tasks(
    reader, params: SpotFinderParams, ranges, nproc: int, with_pixels: bool = False
) -> list[BlockTask]:
    connect_z = not params.force_2d
    excluded = _excluded(params, reader.image_range[0])
    tasks = []
    for start, stop in ranges:
        n = stop - start
        size = params.mp.chunksize or max(1, min(MAX_BLOCK, math.ceil(n / (4 * max(nproc, 1)))))
        edges = list(range(start, stop, size)) + [stop]
        for a, b in zip(edges[:-1], edges[1:]):
            seams = tuple(s for s, keep in ((a, a > start), (b - 1, b < stop)) if keep)
            tasks.append(
                BlockTask(
                    a, b, seams, connect_z, params.threshold,
                    params.filter.max_strong_pixel_fraction,
                    params.region_of_interest, excluded, with_pixels,
                )
            )
    return tasks


def _run(reader, tasks, static_mask, nproc) -> Iterator[BlockResult]:
    """Blocks in order; nproc > 1 uses a thread pool (at most 2 * nproc blocks in flight).

    Threads, not processes: the numba kernels run without the GIL (nogil=True), and so do
    file reads, CBF decoding and the large numpy operations, so threads scale like
    processes while avoiding worker start-up (imports, numba cache loads: ~1-2 CPU s
    each), pickling of the reader and static mask, and a second copy of every array.
    (concurrent.futures rather than joblib: 45 ms less import time.)
    """
    source = FrameSource(reader, static_mask)
    if nproc <= 1 or len(tasks) <= 1:
        yield from (process_block(source, t) for t in tasks)
        return
    with ThreadPoolExecutor(max_workers=nproc) as pool:
        pending: deque = deque()
        todo = iter(tasks)
        for task in todo:
            pending.append(pool.submit(process_block, source, task))
            if len(pending) >= 2 * nproc:
                break
        while pending:
            result = pending.popleft().result()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append(pool.submit(process_block, source, nxt))
            yield result


def _collect_panel(results, ranges, p, connect_z, with_pixels=False) -> SpotStats:
    parts = [r.panels[p].stats for r in results]
    shape = results[0].shapes[p]
    for start, stop in ranges:
        in_range = sorted((r for r in results if start <= r.start < stop), key=lambda r: r.start)
        parts.append(merge_seam_components(
            [r.panels[p] for r in in_range], shape[0], shape[1], connect_z=connect_z,
            last_frames=[r.stop - 1 for r in in_range], with_pixels=with_pixels,
        ))
    return concat_stats(parts)


def find_spots(
    reader,
    params: SpotFinderParams,
    *,
    scan_range: Sequence[tuple[int, int]] | None = None,
    nproc: int = 1,
    static_mask: tuple[np.ndarray, ...] | None = None,
    progress: Callable[[int], None] | None = None,
    shoeboxes: bool = False,
) -> SpotFindingResult:
    """Find strong spots in a sweep.

    Parameters
    ----------
    reader : has ``len()``, ``image_range`` (1-based inclusive) and ``read(i)`` returning
        (per-panel data, per-panel bool valid masks) for sweep index i; must be picklable.
    params : `SpotFinderParams` with Auto already resolved (see `resolve_auto`)
    scan_range : 1-based inclusive image ranges (default `params.scan_range`, else all)
    nproc : worker threads; results do not depend on it
    static_mask : per-panel (ny, nx) bool valid masks applied to every image
    progress : called in this process with the cumulative number of images done
    shoeboxes : also return a DIALS ``shoebox`` column (see `shoebox_column`); each block
        keeps only its finished spots' pixels (12 bytes per strong pixel)
    """
    _check(params)
    ranges = _local_ranges(reader, scan_range if scan_range is not None else params.scan_range)
    tasks = _tasks(reader, params, ranges, nproc, shoeboxes)
    results: list[BlockResult] = []
    for res in _run(reader, tasks, static_mask, nproc):
        results.append(res)
        if progress is not None:
            progress(sum(r.stop - r.start for r in results))
    return _assemble(reader, params, ranges, results, shoeboxes)


def _assemble(reader, params, ranges, results, shoeboxes=False) -> SpotFindingResult:
    connect_z = not params.force_2d
    n_panels = len(results[0].panels) if results else 0
    per_panel = [
        _collect_panel(results, ranges, p, connect_z, shoeboxes) for p in range(n_panels)
    ]
    panel = np.concatenate([np.full(len(s), p, np.uint64) for p, s in enumerate(per_panel)])
    stats = concat_stats(per_panel)
    del per_panel
    f = params.filter
    # the filters act spot by spot, so filtering before sorting keeps the same spots in the
    # same final order while only the kept spots are copied (memory)
    keep, counts = filter_spots(
        stats, min_spot_size=f.min_spot_size, max_spot_size=f.max_spot_size,
        max_separation=f.max_separation,
    )
    kept, panel = stats.select(keep), panel[keep]
    del stats
    order = np.lexsort((kept.first_key, panel))
    kept, panel = kept.select(order), panel[order]
    columns = spot_columns(kept, panel, reader.image_range[0] - 1)
    if shoeboxes:
        widths = np.array([shape[1] for shape in results[0].shapes] if results else [1])
        heights = np.array([shape[0] for shape in results[0].shapes] if results else [1])
        pixels = kept.pixels if kept.pixels is not None else _no_pixels(len(kept))
        kept = dataclasses.replace(kept, pixels=None)
        columns["shoebox"] = shoebox_column(
            pixels, columns["bbox"], panel, heights, widths, reader.image_range[0] - 1
        )
    return _result(reader, params, results, columns, counts, kept)


def _result(reader, params, results, columns, counts, kept) -> SpotFindingResult:
    starts = np.concatenate([np.arange(r.start, r.stop) for r in results]) if results else (
        np.zeros(0, np.int64)
    )
    strong = np.concatenate([r.strong_pixels for r in results]) if results else starts * 0
    order = np.argsort(starts, kind="stable")
    starts, strong = starts[order], strong[order]
    rejected = tuple(sorted(i for r in results for i in r.rejected))
    frames = np.floor(kept.centroid_px[:, 2]).astype(np.int64)
    spots = np.array([np.count_nonzero(frames == s) for s in starts], dtype=np.int64)
    i0 = reader.image_range[0]
    warnings = tuple(
        f"image {i0 + i}: {strong[np.searchsorted(starts, i)]} strong pixels exceed"
        f" max_strong_pixel_fraction = {params.filter.max_strong_pixel_fraction};"
        " its pixels were dropped"
        for i in rejected
    )
    n_strong = int(strong.sum() - sum(strong[np.searchsorted(starts, i)] for i in rejected))
    return SpotFindingResult(
        columns=columns,
        image_numbers=starts + i0,
        strong_pixels_per_image=strong,
        spots_per_image=spots,
        n_strong_pixels=n_strong,
        counts=counts,
        min_spot_size=int(params.filter.min_spot_size),
        max_spot_size=int(params.filter.max_spot_size),
        rejected_images=tuple(i0 + i for i in rejected),
        warnings=warnings,
    )


def _no_pixels(n: int) -> SpotPixels:
    return SpotPixels(np.zeros(n + 1, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))


def shoebox_column(
    pixels: SpotPixels,
    bbox: np.ndarray,
    panel: np.ndarray,
    heights: np.ndarray,
    widths: np.ndarray,
    z_offset: int,
) -> Shoeboxes:
    """DIALS spot-finding shoeboxes: the spot's own pixels inside its bbox.

    As dials.find_spots (``output.shoeboxes = True``): data = the count of each of the
    spot's pixels and 0 elsewhere in the bbox, mask = Valid | Foreground (5) on the spot's
    pixels and 0 elsewhere (also on other spots' pixels), background = 0.

    pixels : keys (z*ny + y)*nx + x with z the sweep index (bbox z minus `z_offset`)
    bbox : (n, 6) x0, x1, y0, y1, z0, z1 of each spot, z in image-range units
    panel : (n,) panel of each spot; heights, widths : (n_panels,) panel shapes
    """
    bbox = np.ascontiguousarray(bbox, dtype=np.int64).reshape(-1, 6)
    sb = Shoeboxes.allocate(np.asarray(panel, dtype=np.uint64), bbox)
    _fused_kernels.fill_shoeboxes(
        np.ascontiguousarray(pixels.keys, dtype=np.int64),
        np.ascontiguousarray(pixels.values, dtype=np.float32),
        np.ascontiguousarray(pixels.offsets, dtype=np.int64), bbox,
        np.ascontiguousarray(panel, dtype=np.int64), np.asarray(heights, dtype=np.int64),
        np.asarray(widths, dtype=np.int64), int(z_offset), sb.offsets, sb.data, sb.mask,
        np.int32(MaskCode.valid | MaskCode.foreground),
    )
    return sb


def spot_columns(stats: SpotStats, panel: np.ndarray, z_offset: int) -> dict[str, np.ndarray]:
    """DIALS strong.refl columns (without shoebox) for the given spots."""
    n = len(stats)
    bbox = stats.bbox.copy()
    bbox[:, 4:6] += z_offset
    xyz = stats.centroid_px.copy()
    xyz[:, 2] += z_offset
    return {
        "bbox": bbox.astype(np.int32),
        "flags": np.full(n, STRONG_FLAG, dtype=np.uint64),
        "id": np.zeros(n, dtype=np.int32),
        "intensity.sum.value": stats.intensity.astype(np.float64),
        "intensity.sum.variance": stats.intensity.astype(np.float64),
        "n_signal": stats.n_signal.astype(np.int32),
        "panel": np.asarray(panel, dtype=np.uint64),
        "xyzobs.px.value": xyz.astype(np.float64),
        "xyzobs.px.variance": stats.variance_px.astype(np.float64),
    }


__all__ = ["SpotFindingResult", "find_spots", "shoebox_column", "spot_columns", "STRONG_FLAG"]
