"""3-D connected components of strong pixels, per block of images, and seam merging.

Pixels are addressed by linear keys ``key = (z * height + y) * width + x`` (z = image index
within the sweep), always sorted ascending. A block of images is labelled on its own; any
component that touches the block's first or last image (a *seam* component) is handed back
as raw pixels, and `merge_seam_components` relabels the union of all seam pixels of all
blocks. Because every cross-block connection runs between seam components, this gives
exactly the components of a single-block run, and `spot_stats` (which depends only on a
spot's set of pixels) gives bit-identical numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from braggflow.algorithms.spotfinding import _kernels
from braggflow.algorithms.spotfinding.centroids import (
    SpotStats,
    concat_stats,
    empty_stats,
    spot_stats,
)
from braggflow.errors import InputDataError


def label_strong_pixels(
    keys: np.ndarray, height: int, width: int, *, connect_z: bool = True
) -> np.ndarray:
    """Label 6-connected components; `keys` (n,) int64 strictly increasing.

    Returns (n,) int64 labels 0..L-1 numbered by each component's first pixel.
    `connect_z=False` links pixels within an image only (force_2d / stills).
    """
    keys = np.ascontiguousarray(keys, dtype=np.int64)
    if keys.size > 1 and not np.all(np.diff(keys) > 0):
        raise InputDataError("strong pixels", "keys must be strictly increasing")
    if keys.size == 0:
        return np.zeros(0, dtype=np.int64)
    return _kernels.label_pixels(keys, int(height), int(width), bool(connect_z))


@dataclass(frozen=True, slots=True)
class PanelBlock:
    """One panel of one block: finished spots plus the raw pixels of seam components.

    stats : spots that touch neither seam image (complete)
    seam_keys, seam_values : (k,) pixels of components touching a seam image, sorted by key
    """

    stats: SpotStats
    seam_keys: np.ndarray
    seam_values: np.ndarray


def split_block_components(
    keys: np.ndarray,
    values: np.ndarray,
    height: int,
    width: int,
    *,
    connect_z: bool,
    seam_frames: tuple[int, ...],
    with_pixels: bool = False,
) -> PanelBlock:
    """Label one block and separate complete spots from seam components.

    seam_frames : image indices (z) whose components must wait for the neighbouring block.
    with_pixels : keep each finished spot's pixels in its stats (shoeboxes)
    """
    labels = label_strong_pixels(keys, height, width, connect_z=connect_z)
    if labels.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return PanelBlock(empty_stats(with_pixels), empty, np.zeros(0))
    n_lab = int(labels.max()) + 1
    z = keys // (height * width)
    on_seam = np.isin(z, np.asarray(seam_frames, dtype=np.int64)) if connect_z else None
    seam_label = np.zeros(n_lab, dtype=bool)
    if on_seam is not None and on_seam.any():
        seam_label[np.unique(labels[on_seam])] = True
    is_seam_pixel = seam_label[labels]
    inner = ~is_seam_pixel
    inner_labels = np.unique(labels[inner], return_inverse=True)[1].reshape(-1)
    stats = spot_stats(
        keys[inner], values[inner], inner_labels, height, width, with_pixels=with_pixels
    )
    return PanelBlock(stats, keys[is_seam_pixel], values[is_seam_pixel])


def _label_and_stats(keys, values, height, width, connect_z):
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    labels = label_strong_pixels(keys, height, width, connect_z=connect_z)
    return keys, values, labels


def merge_seam_components(
    blocks: list[PanelBlock],
    height: int,
    width: int,
    *,
    connect_z: bool,
    last_frames: list[int] | None = None,
    with_pixels: bool = False,
) -> SpotStats:
    """Relabel the union of all blocks' seam pixels and compute their spot statistics.

    last_frames : the last image index of each block (blocks in sweep order, one contiguous
        range). Given, the seams are merged one block boundary at a time: components that
        do not reach a block's last image are finished there, and only those that do are
        carried on, so memory is bounded by two blocks' seam pixels, not the whole sweep.
    """
    if last_frames is None:
        keys = np.concatenate([b.seam_keys for b in blocks]) if blocks else np.zeros(0, np.int64)
        if keys.size == 0:
            return empty_stats(with_pixels)
        values = np.concatenate([b.seam_values for b in blocks])
        keys, values, labels = _label_and_stats(keys, values, height, width, connect_z)
        return spot_stats(keys, values, labels, height, width, with_pixels=with_pixels)
    frame = height * width
    done: list[SpotStats] = []
    carry_keys, carry_values = np.zeros(0, np.int64), np.zeros(0)
    for i, (block, last) in enumerate(zip(blocks, last_frames)):
        keys = np.concatenate([carry_keys, block.seam_keys])
        values = np.concatenate([carry_values, block.seam_values])
        if keys.size == 0:
            continue
        keys, values, labels = _label_and_stats(keys, values, height, width, connect_z)
        open_label = np.zeros(int(labels.max()) + 1, dtype=bool)
        if i + 1 < len(blocks):
            open_label[labels[keys // frame == last]] = True
        is_open = open_label[labels]
        closed = ~is_open
        if closed.any():
            relabel = np.unique(labels[closed], return_inverse=True)[1].reshape(-1)
            done.append(spot_stats(
                keys[closed], values[closed], relabel, height, width, with_pixels=with_pixels
            ))
        carry_keys, carry_values = keys[is_open], values[is_open]
    return concat_stats(done) if done else empty_stats(with_pixels)


__all__ = [
    "label_strong_pixels",
    "PanelBlock",
    "split_block_components",
    "merge_seam_components",
]
