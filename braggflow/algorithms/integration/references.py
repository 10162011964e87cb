"""Reference reflections: match the indexed strong spots to the predictions, choose the
subset streamed in the reference pass, and turn their pixels into profile-model inputs."""

from __future__ import annotations

import numpy as np

from braggflow.algorithms.integration import _kernels
from braggflow.algorithms.integration.blocks import ShoeboxStore
from braggflow.model.reflections import Flags, ReflectionTable
from braggflow.model.shoebox import ragged_index

__all__ = ["match_references", "choose_reference_subset", "pixel_samples"]


def _hkl_key(hkl: np.ndarray) -> np.ndarray:
    h = hkl.astype(np.int64) + 1024
    return (h[:, 0] << 22) | (h[:, 1] << 11) | h[:, 2]


def match_references(table: ReflectionTable, experiment_id: int, pred_hkl: np.ndarray, pred_z: np.ndarray,
                     max_dz: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """(prediction rows, input rows) of the indexed, non-outlier strong spots of this
    experiment, each matched to the prediction with the same hkl nearest in z."""
    if len(table) == 0 or "miller_index" not in table or "xyzobs.px.value" not in table:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    sel = np.asarray(table["id"]) == experiment_id if "id" in table else np.ones(len(table), bool)
    hkl = np.asarray(table["miller_index"])
    sel &= np.any(hkl != 0, axis=1)
    if "flags" in table:
        sel &= ~table.get_flags(Flags.centroid_outlier)
    rows = np.nonzero(sel)[0]
    if len(rows) == 0 or len(pred_hkl) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pkey = _hkl_key(pred_hkl)
    order = np.lexsort((pred_z, pkey))
    sk = pkey[order]
    rkey = _hkl_key(hkl[rows])
    rz = np.asarray(table["xyzobs.px.value"])[rows, 2]
    left = np.searchsorted(sk, rkey, side="left")
    best = np.full(len(rows), -1, dtype=np.int64)
    best_d = np.full(len(rows), np.inf)
    for shift in range(3):
        cand = left + shift
        ok = cand < len(sk)
        cand_c = np.where(ok, cand, 0)
        ok &= sk[cand_c] == rkey
        d = np.abs(pred_z[order[cand_c]] - rz)
        better = ok & (d < best_d)
        best[better] = order[cand_c[better]]
        best_d[better] = d[better]
    good = (best >= 0) & (best_d <= max_dz)
    pred_rows, in_rows = best[good], rows[good]
    pred_rows, first = np.unique(pred_rows, return_index=True)
    return pred_rows, in_rows[first]


def choose_reference_subset(bbox: np.ndarray, array_range: tuple[int, int], max_refs: int, *,
                            priority: np.ndarray | None = None, stride_windows: int = 3, seed: int = 42) -> np.ndarray:
    """Rows to stream in a reference pass: those inside frame windows covering about
    1/stride_windows of a long scan (all of a short one), at most max_refs (the highest
    priority first, else random with a fixed seed)."""
    n = len(bbox)
    if n == 0:
        return np.zeros(0, np.int64)
    depth = bbox[:, 5] - bbox[:, 4]
    d95 = int(np.ceil(np.percentile(depth, 95)))
    a0, a1 = array_range
    window = max(3 * d95, 10)
    keep = np.ones(n, dtype=bool)
    if a1 - a0 > stride_windows * window:
        stride = stride_windows * window
        rel0 = bbox[:, 4] - a0
        start = (rel0 // stride) * stride
        keep = bbox[:, 5] - a0 <= start + window
    rows = np.nonzero(keep)[0]
    if len(rows) > max_refs:
        if priority is not None:
            rows = np.sort(rows[np.argsort(-priority[rows], kind="stable")[:max_refs]])
        else:
            rng = np.random.default_rng(seed)
            rows = np.sort(rng.choice(rows, max_refs, replace=False))
    return rows


def pixel_samples(store: ShoeboxStore, panel: np.ndarray, s1: np.ndarray, bg_mean: np.ndarray, pa,  # type: ignore[no-untyped-def]
                  rows: np.ndarray, spot_bbox: np.ndarray | None = None, centre: np.ndarray | None = None,
                  chunk: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(refl, frame, weight, angle^2) for the strong valid foreground pixels of the given store
    rows (counts > b + 3 sqrt(b), connected to the prediction when `centre` is given, inside
    the input spot's bbox when `spot_bbox` is given): weight = counts - background; angle
    between the pixel centre's beam vector and s1. Works in chunks of rows (bounded memory)."""
    component = None
    if centre is not None:  # the connected strong region at the prediction: no neighbours
        component = np.zeros(len(store.data), dtype=bool)
        _kernels.strong_components(store.bbox, store.offsets, store.data, store.mask,
                                   np.ascontiguousarray(bg_mean, dtype=np.float64), np.ascontiguousarray(centre), component)
    parts = []
    for start in range(0, len(rows), chunk):
        r, z, w, a = _samples_chunk(store, panel, s1, bg_mean, pa, rows[start:start + chunk], spot_bbox, component)
        parts.append((r + start, z, w, a))
    if not parts:
        e = np.zeros(0)
        return e.astype(np.int64), e.astype(np.int64), e, e
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(4))  # type: ignore[return-value]


def _samples_chunk(store, panel, s1, bg_mean, pa, rows, spot_bbox, component):  # type: ignore[no-untyped-def]
    sizes = np.diff(store.offsets)[rows]
    pix = ragged_index(store.offsets[:-1][rows], sizes)
    refl = np.repeat(np.arange(len(rows)), sizes)
    local = pix - np.repeat(store.offsets[:-1][rows], sizes)
    bb = store.bbox[rows].astype(np.int64)
    w = (bb[:, 1] - bb[:, 0])[refl]
    h = (bb[:, 3] - bb[:, 2])[refl]
    x = bb[:, 0][refl] + local % w + 0.5
    y = bb[:, 2][refl] + (local // w) % h + 0.5
    z = bb[:, 4][refl] + local // (w * h)
    m = store.mask[pix]
    good = ((m & _kernels.FOREGROUND) != 0) & ((m & _kernels.VALID) != 0)
    if component is not None:
        good &= component[pix]
    if spot_bbox is not None:  # only the pixels of the strong spot itself (no neighbours)
        sb = spot_bbox[rows][refl]
        has = sb[:, 1] > sb[:, 0]
        inside = (x >= sb[:, 0]) & (x < sb[:, 1]) & (y >= sb[:, 2]) & (y < sb[:, 3]) & (z >= sb[:, 4]) & (z < sb[:, 5])
        good &= inside | ~has
    refl, x, y, z, pix = refl[good], x[good], y[good], z[good], pix[good]
    p = panel[rows][refl]
    lab = pa.origin[p] + (x * pa.pixel_size[p, 0])[:, None] * pa.fast[p] + (y * pa.pixel_size[p, 1])[:, None] * pa.slow[p]
    lab /= np.linalg.norm(lab, axis=1)[:, None]
    s1u = s1[rows][refl]
    s1u = s1u / np.linalg.norm(s1u, axis=1)[:, None]
    cosang = np.clip(np.einsum("ij,ij->i", lab, s1u), -1.0, 1.0)
    angle_sq = np.arccos(cosang) ** 2
    bg = bg_mean[rows][refl]
    counts = store.data[pix].astype(np.float64)
    # strong pixels only (as DIALS uses the spot-finding pixels): noise in the empty
    # corners of a generous box would otherwise inflate both sigmas
    strong = counts > bg + 3.0 * np.sqrt(np.maximum(bg, 1.0))
    weight = np.where(strong, counts - bg, 0.0)
    keep = weight > 0
    return refl[keep], z[keep], weight[keep], angle_sq[keep]


def input_shoebox_samples(shoeboxes, in_rows: np.ndarray, s1: np.ndarray, pa,  # type: ignore[no-untyped-def]
                          max_refs: int = 10000) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(used, refl, frame, weight, angle^2) from the spot-finding shoeboxes of the input
    (strong = Foreground & Valid pixels, counts - background), as DIALS models the profile.
    `used` indexes in_rows / s1 (the reflections that had pixels), refl indexes `used`."""
    has = np.diff(shoeboxes.offsets)[in_rows] > 0
    used = np.nonzero(has)[0]
    if len(used) > max_refs:
        used = np.sort(np.random.default_rng(42).choice(used, max_refs, replace=False))
    rows = in_rows[used]
    starts = shoeboxes.offsets[:-1][rows]
    sizes = np.diff(shoeboxes.offsets)[rows]
    pix = ragged_index(starts, sizes)
    refl = np.repeat(np.arange(len(rows)), sizes)
    local = pix - np.repeat(starts, sizes)
    b = shoeboxes.bbox[rows][refl].astype(np.int64)
    w = b[:, 1] - b[:, 0]
    h = b[:, 3] - b[:, 2]
    x = b[:, 0] + local % w + 0.5
    y = b[:, 2] + (local // w) % h + 0.5
    z = b[:, 4] + local // (w * h)
    m = shoeboxes.mask[pix]
    weight = shoeboxes.data[pix].astype(np.float64) - shoeboxes.background[pix]
    good = ((m & _kernels.FOREGROUND) != 0) & ((m & _kernels.VALID) != 0) & (weight > 0)
    refl, x, y, z, weight = refl[good], x[good], y[good], z[good], weight[good]
    p = shoeboxes.panel[rows][refl].astype(np.int64)
    lab = pa.origin[p] + (x * pa.pixel_size[p, 0])[:, None] * pa.fast[p] + (y * pa.pixel_size[p, 1])[:, None] * pa.slow[p]
    lab /= np.linalg.norm(lab, axis=1)[:, None]
    s1u = s1[used][refl]
    s1u = s1u / np.linalg.norm(s1u, axis=1)[:, None]
    angle_sq = np.arccos(np.clip(np.einsum("ij,ij->i", lab, s1u), -1.0, 1.0)) ** 2
    return used, refl, z, weight, angle_sq
