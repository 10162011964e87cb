"""Rich renderables for spot finding: the DIALS-style log lines and the per-image table."""

from __future__ import annotations

import numpy as np
from rich import box
from rich.table import Table

from braggflow.algorithms.spotfinding import SpotFindingResult


def log_lines(result: SpotFindingResult, imageset_index: int) -> list[str]:
    """The lines dials.find_spots prints for one imageset, with our counts."""
    c = result.counts
    first, last = (int(result.image_numbers[0]), int(result.image_numbers[-1])) if len(result.image_numbers) else (0, 0)
    lines = [
        "-" * 80,
        f"Finding strong spots in imageset {imageset_index}",
        "-" * 80,
        "",
        f"Finding spots in image {first} to {last}...",
        f"Extracted {result.n_strong_pixels} strong pixels",
        f"Extracted {c.n_extracted} spots",
        f"Removed {c.n_too_small} spots with size < {result.min_spot_size} pixels",
        f"Removed {c.n_too_large} spots with size > {result.max_spot_size} pixels",
        f"Calculated {c.n_centroids} spot centroids",
        f"Calculated {c.n_centroids} spot intensities",
        f"Filtered {c.n_after_separation} of {c.n_centroids} spots by peak-centroid distance",
    ]
    lines.extend(f"Warning: {w}" for w in result.warnings)
    return lines


def per_image_table(result: SpotFindingResult, *, max_rows: int = 40) -> Table:
    """Spots and strong pixels per image; long sweeps are shown in evenly sized groups."""
    images = np.asarray(result.image_numbers)
    spots = np.asarray(result.spots_per_image)
    pixels = np.asarray(result.strong_pixels_per_image)
    n_groups = max(1, min(max_rows, len(images)))
    table = Table(title="Spots per image", box=box.SIMPLE_HEAD)
    for name in ("image", "n_spots", "n_strong_pixels", ""):
        table.add_column(name, justify="right" if name else "left")
    groups = np.array_split(np.arange(len(images)), n_groups) if len(images) else []
    peak = max((int(spots[g].sum()) for g in groups), default=0) or 1
    for g in groups:
        if len(g) == 0:
            continue
        label = str(images[g[0]]) if len(g) == 1 else f"{images[g[0]]}-{images[g[-1]]}"
        n = int(spots[g].sum())
        table.add_row(label, f"{n:,}", f"{int(pixels[g].sum()):,}", "#" * int(round(30 * n / peak)))
    return table


__all__ = ["log_lines", "per_image_table"]
