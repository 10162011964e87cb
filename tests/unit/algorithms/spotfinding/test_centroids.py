"""Per-spot centroid, variance, intensity, bbox and peak; the filters."""

from __future__ import annotations

import numpy as np

from braggflow.algorithms.spotfinding.centroids import spot_stats
from braggflow.algorithms.spotfinding.filters import filter_spots


def _stats(pixels, values, ny=10, nx=10):
    keys = np.array([(z * ny + y) * nx + x for z, y, x in pixels], dtype=np.int64)
    order = np.argsort(keys)
    return spot_stats(keys[order], np.asarray(values, float)[order],
                      np.zeros(len(keys), np.int64), ny, nx)


def test_single_pixel_spot_has_pixel_centre_and_one_twelfth_variance():
    s = _stats([(2, 3, 4)], [50])
    assert s.centroid_px.tolist() == [[4.5, 3.5, 2.5]]
    assert np.allclose(s.variance_px, 1 / 12)
    assert s.bbox.tolist() == [[4, 5, 3, 4, 2, 3]]
    assert s.intensity.tolist() == [50.0] and s.n_signal.tolist() == [1]


def test_two_pixel_spot_unbiased_variance_by_hand():
    # x centres 1.5 (c=1) and 2.5 (c=3): mean 2.25, sum c (x-mean)^2 = 0.5625 + 0.1875 = 0.75
    # S=4, S2=10 -> V = 0.75 * 4 / (16 - 10) = 0.5 ; stored V/S + 1/12
    s = _stats([(0, 0, 1), (0, 0, 2)], [1, 3])
    assert np.isclose(s.centroid_px[0, 0], 2.25)
    assert np.isclose(s.variance_px[0, 0], 0.5 / 4 + 1 / 12)
    assert np.isclose(s.variance_px[0, 1], 1 / 12)  # one row: no spread in y
    assert s.peak_px[0].tolist() == [2.5, 0.5, 0.5]


def test_peak_is_first_maximum_in_raster_order():
    s = _stats([(0, 1, 1), (0, 1, 2), (1, 1, 1)], [9, 9, 9])
    assert s.peak_px[0].tolist() == [1.5, 1.5, 0.5]


def test_filters_count_removals_in_dials_order():
    pixels = [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 5, 5)]
    keys = np.array([(z * 10 + y) * 10 + x for z, y, x in pixels])
    labels = np.array([0, 0, 0, 1])
    # spot 0: x centres 0.5, 1.5, 2.5 with counts 50, 1, 60 -> centroid 1.59, peak 2.5
    s = spot_stats(keys, np.array([50.0, 1.0, 60.0, 5.0]), labels, 10, 10)
    keep, counts = filter_spots(s, min_spot_size=2, max_spot_size=1000, max_separation=2)
    assert (counts.n_extracted, counts.n_too_small, counts.n_too_large) == (2, 1, 0)
    assert (counts.n_centroids, counts.n_after_separation) == (1, 1)
    assert keep.tolist() == [0]
    keep, counts = filter_spots(s, min_spot_size=1, max_spot_size=2, max_separation=0.5)
    assert (counts.n_too_large, counts.n_centroids, counts.n_after_separation) == (1, 1, 1)
    assert keep.tolist() == [1]  # the single pixel: peak == centroid
    keep, counts = filter_spots(s, min_spot_size=1, max_spot_size=9, max_separation=0.5)
    assert counts.n_after_separation == 1 and keep.tolist() == [1]
