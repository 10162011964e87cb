"""Fused integer threshold kernel (mask + trusted range on the fly) and spot shoeboxes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from braggflow.algorithms.spotfinding import (
    ArrayReader,
    DispersionParams,
    MpParams,
    SpotFinderParams,
    ThresholdParams,
    _fused_kernels,
    _reference,
    find_spots,
    resolve_auto,
)
from braggflow.algorithms.spotfinding.blocks import FrameSource
from braggflow.algorithms.spotfinding.threshold import (
    strong_pixel_indices,
    strong_pixels_in_range,
)
from braggflow.model.shoebox import MaskCode


def _image(seed, shape=(61, 67), lam=0.6, dtype=np.int32):
    """Sparse Poisson counts (like fine-sliced Pilatus data) with spots, a gap and hot pixels."""
    rng = np.random.default_rng(seed)
    img = rng.poisson(lam, shape).astype(np.int64)
    for _ in range(12):
        y, x = rng.integers(2, shape[0] - 2), rng.integers(2, shape[1] - 2)
        img[y - 1 : y + 2, x - 1 : x + 2] += rng.poisson(rng.uniform(5, 200), (3, 3))
    img[:, 30:33] = -1  # module gap
    img[5, 5] = 500_000  # above the trusted range
    mask = np.ones(shape, dtype=bool)
    mask[40:44, 10:14] = False  # static mask
    return img.astype(dtype), mask


CASES = [  # (kernel_y, kernel_x, gain, erode_from_mask, min_count, extended)
    (3, 3, 0.0, True, 2, True),
    (3, 3, 0.0, False, 2, True),
    (3, 3, 1.7, True, 2, True),
    (2, 4, 0.0, True, 5, True),
    (1, 1, 0.0, True, 2, True),
    (3, 3, 0.0, True, 2, False),
    (2, 3, 1.3, False, 3, False),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fused_kernel_matches_numpy_twin_and_leaves_scratch_clean(case, seed):
    ky, kx, gain, erode, min_count, extended = case
    img, mask = _image(seed)
    core = np.zeros(img.shape, dtype=bool)
    args = (img, mask, 0.0, 100_000.0, core, ky, kx, 6.0, 3.0, 0.0, min_count, gain, erode,
            extended)
    flat, exact = _fused_kernels.fused_strong_pixels(*args)
    ref, ref_exact = _reference.fused_strong_pixels(*args)
    assert exact and ref_exact
    assert np.array_equal(flat, ref)
    assert flat.size > 5  # the spots are found
    assert not core.any()


@pytest.mark.parametrize("algorithm", ["dispersion", "dispersion_extended"])
@pytest.mark.parametrize("dtype", [np.int32, np.uint16, np.int16, np.float32])
def test_strong_pixels_in_range_equals_explicit_mask_for_every_dtype(algorithm, dtype):
    img, mask = _image(3, dtype=np.int64)
    img = np.clip(img, 0, 30_000).astype(dtype)
    params = ThresholdParams(algorithm=algorithm)
    valid = mask & (img >= 0) & (img <= 20_000)
    expected = strong_pixel_indices(img, valid, params)
    assert expected.size > 5
    assert np.array_equal(strong_pixels_in_range(img, mask, (0.0, 20_000.0), params), expected)


def test_huge_counts_fall_back_to_the_float_tables():
    img, mask = _image(4)
    img[10:20, 40:60] = 16_000_000  # sum of squares > 2**51: float64 tables are not exact
    core = np.zeros(img.shape, dtype=bool)
    _, exact = _fused_kernels.fused_strong_pixels(
        img, mask, 0.0, 2.0**31, core, 3, 3, 6.0, 3.0, 0.0, 2, 0.0, True, True
    )
    assert not exact
    params = ThresholdParams()
    valid = mask & (img >= 0)
    assert np.array_equal(
        strong_pixels_in_range(img, mask, (0.0, 2.0**31), params),
        strong_pixel_indices(img, valid, params),
    )


class _Sequence:
    """Minimal ImageSequence-like reader (raw data + static mask + trusted ranges)."""

    def __init__(self, frames, static, trusted):
        self.frames, self.static, self.trusted = frames, static, trusted
        self.image_range = (1, len(frames))

    def __len__(self):
        return len(self.frames)

    def read_checked(self, index):
        return (self.frames[index],)

    def static_mask(self):
        return (self.static,)

    def trusted_ranges(self):
        return (self.trusted,)


def _sweep(n=6, seed=5):
    rng = np.random.default_rng(seed)
    frames = rng.poisson(0.5, (n, 50, 60)).astype(np.int32)
    for z0, y, x in [(0, 10, 10), (2, 30, 40), (4, 20, 25), (1, 40, 12)]:
        for dz, amp in enumerate((40, 120, 40)):
            if z0 + dz < n:
                frames[z0 + dz, y - 1 : y + 2, x - 1 : x + 2] += rng.poisson(amp, (3, 3))
    frames[:, :, 30] = -1
    return frames


def _params(chunk=None):
    p = SpotFinderParams(threshold=ThresholdParams(dispersion=DispersionParams()))
    if chunk:
        p = dataclasses.replace(p, mp=MpParams(chunksize=chunk))
    return resolve_auto(p, photon_counting=True, cpu_count=1)


def test_fused_reader_path_equals_explicit_masks():
    frames = _sweep()
    static = np.ones(frames.shape[1:], dtype=bool)
    static[:5, :] = False
    user = np.ones_like(static)
    user[:, :3] = False
    fused = find_spots(_Sequence(frames, static, (0.0, 1e6)), _params(), static_mask=(user,))
    masks = [((f >= 0) & (f <= 1e6) & static,) for f in frames]
    plain = find_spots(
        ArrayReader([(f,) for f in frames], masks=masks), _params(), static_mask=(user,)
    )
    assert FrameSource(_Sequence(frames, static, (0.0, 1e6))).fused
    assert len(fused) >= 4
    for name in plain.columns:
        assert np.array_equal(fused.columns[name], plain.columns[name]), name


@pytest.mark.parametrize("chunk", [1, 2, None])
def test_shoeboxes_hold_each_spots_own_pixels_as_dials(chunk):
    frames = _sweep()
    reader = ArrayReader([(f,) for f in frames], first_image=11)
    result = find_spots(reader, _params(chunk), shoeboxes=True)
    sb = result.columns["shoebox"]
    bbox = result.columns["bbox"]
    assert len(sb) == len(result) >= 4 and np.array_equal(sb.bbox, bbox)
    assert np.all(sb.background == 0)
    fg = int(MaskCode.valid | MaskCode.foreground)
    assert set(np.unique(sb.mask)) <= {0, fg}
    for i in range(len(sb)):
        box = sb[i]
        x0, x1, y0, y1, z0, z1 = bbox[i]
        raw = frames[z0 - 10 : z1 - 10, y0:y1, x0:x1]
        own = box.mask == fg
        assert own.sum() == result.columns["n_signal"][i]
        assert np.array_equal(box.data[own], raw[own].astype(np.float32))
        assert np.all(box.data[~own] == 0)
        assert box.data.sum() == result.columns["intensity.sum.value"][i]
    if chunk is not None:  # same shoeboxes whatever the block size
        assert sb.equals(find_spots(reader, _params(), shoeboxes=True).columns["shoebox"])
    assert "shoebox" not in find_spots(reader, _params(chunk)).columns


@pytest.mark.shared_data
def test_l_cysteine_shoeboxes_equal_dials_312(shared_data):
    from braggflow.formats.expt_io import read_experiments
    from braggflow.formats.imageset import open_imageset
    from braggflow.formats.refl_io import read_refl

    folder = shared_data / "reflections" / "dials312_l_cysteine_sweep4"
    seq = open_imageset(read_experiments(folder / "imported.expt")[0])
    if not all(__import__("os").path.exists(p) for p in seq.paths):
        pytest.skip("l_cysteine_sweep4 images are absent")
    params = SpotFinderParams(
        threshold=ThresholdParams(dispersion=DispersionParams(erode_from_mask=True))
    )
    params = resolve_auto(params, photon_counting=True, cpu_count=1)
    result = find_spots(seq, params, nproc=2, shoeboxes=True)  # fused reader path
    dials = read_refl(folder / "strong.refl")
    assert len(result) == len(dials) == 30
    for name in ("bbox", "n_signal", "intensity.sum.value", "panel", "flags"):
        assert np.array_equal(result.columns[name], dials[name]), name
    assert np.allclose(result.columns["xyzobs.px.value"], dials["xyzobs.px.value"], atol=1e-9)
    assert result.columns["shoebox"].equals(dials["shoebox"])


def test_fill_shoeboxes_matches_numpy_twin():
    rng = np.random.default_rng(9)
    heights, widths = np.array([20, 30]), np.array([25, 15])
    bbox = np.array([[2, 6, 3, 5, 10, 12], [0, 3, 0, 2, 11, 12], [10, 13, 5, 9, 10, 13]])
    panel = np.array([0, 1, 0])
    keys, offsets = [], [0]
    for (x0, x1, y0, y1, z0, z1), p in zip(bbox, panel):
        xs, ys, zs = np.meshgrid(np.arange(x0, x1), np.arange(y0, y1), np.arange(z0, z1) - 10,
                                 indexing="ij")
        k = np.sort(((zs * heights[p] + ys) * widths[p] + xs).ravel())
        k = k[rng.random(k.size) < 0.6]
        keys.append(k)
        offsets.append(offsets[-1] + k.size)
    keys = np.concatenate(keys)
    values = rng.integers(1, 100, keys.size).astype(np.float32)
    offsets = np.array(offsets)
    vol = np.prod(bbox[:, 1::2] - bbox[:, ::2], axis=1)
    sb_off = np.concatenate([[0], np.cumsum(vol)])
    out = []
    for impl in (_fused_kernels, _reference):
        data, mask = np.zeros(sb_off[-1], np.float32), np.zeros(sb_off[-1], np.int32)
        impl.fill_shoeboxes(keys, values, offsets, bbox, panel, heights, widths, 10, sb_off,
                            data, mask, np.int32(5))
        out.append((data, mask))
    assert np.array_equal(out[0][0], out[1][0]) and np.array_equal(out[0][1], out[1][1])
    assert np.count_nonzero(out[0][1]) == keys.size and out[0][0].sum() == values.sum()


@pytest.mark.parametrize("shape", [(9, 1), (7, 5), (12, 6), (5, 7), (13, 8), (40, 71)])
@pytest.mark.parametrize("case", [(3, 3, 1.0, True, True), (3, 3, 0.0, False, True),
                                  (9, 3, 0.0, True, True), (3, 3, 1.5, True, False),
                                  (1, 2, 0.0, False, True)])
def test_fused_kernel_edges_and_wide_windows_match_numpy_twin(shape, case):
    """Narrow images (window clipped at both sides of every row: the 7-column fast path's
    edge code), a kernel_x = 3 window of area >= 128 (int64 column sums) and negative
    values inside the trusted range all give the twin's pixels."""
    ky, kx, gain, erode, extended = case
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    img = rng.poisson(1.0, shape).astype(np.int32)
    img[rng.random(shape) < 0.05] = 60
    img[rng.random(shape) < 0.03] = -3  # valid: the trusted range starts at -5
    img[rng.random(shape) < 0.03] = -9  # below the trusted range
    mask = rng.random(shape) > 0.05
    core = np.zeros(shape, dtype=bool)
    args = (img, mask, -5.0, 1000.0, core, ky, kx, 3.0, 2.0, 0.0, 2, gain, erode, extended)
    flat, exact = _fused_kernels.fused_strong_pixels(*args)
    ref, ref_exact = _reference.fused_strong_pixels(*args)
    assert exact and ref_exact
    assert np.array_equal(flat, ref)
    assert not core.any()
