"""Spot finding (DIALS `dials.find_spots`): threshold, mask, label, centroid, filter."""

from braggflow.algorithms.spotfinding.centroids import SpotStats, spot_stats
from braggflow.algorithms.spotfinding.filters import FilterCounts, filter_spots
from braggflow.algorithms.spotfinding.find import STRONG_FLAG, SpotFindingResult, find_spots
from braggflow.algorithms.spotfinding.labelling import label_strong_pixels
from braggflow.algorithms.spotfinding.mask import (
    border_mask,
    ice_ring_d_ranges,
    ice_ring_mask,
    resolution_mask,
    static_mask,
    trusted_range_mask,
    untrusted_mask,
)
from braggflow.algorithms.spotfinding.params import (
    DispersionParams,
    FilterParams,
    IceRingsParams,
    MpParams,
    SpotFinderParams,
    ThresholdParams,
    UntrustedParams,
    resolve_auto,
)
from braggflow.algorithms.spotfinding.readers import ArrayReader
from braggflow.algorithms.spotfinding.threshold import strong_pixel_indices, threshold_image

__all__ = [
    "ArrayReader",
    "STRONG_FLAG",
    "DispersionParams",
    "FilterCounts",
    "FilterParams",
    "IceRingsParams",
    "MpParams",
    "SpotFinderParams",
    "SpotFindingResult",
    "SpotStats",
    "ThresholdParams",
    "UntrustedParams",
    "border_mask",
    "filter_spots",
    "find_spots",
    "ice_ring_d_ranges",
    "ice_ring_mask",
    "label_strong_pixels",
    "resolution_mask",
    "resolve_auto",
    "spot_stats",
    "static_mask",
    "strong_pixel_indices",
    "threshold_image",
    "trusted_range_mask",
    "untrusted_mask",
]
