"""Per-image strong-pixel classification (`dispersion`, `dispersion_extended`)."""

from __future__ import annotations

import numpy as np

from braggflow.algorithms.spotfinding import _kernels
from braggflow.algorithms.spotfinding.params import ThresholdParams, check_threshold_params
from braggflow.errors import InputDataError


def _kernel_args(image, mask, params: ThresholdParams):
    min_count = check_threshold_params(params)
    img = np.asarray(image)
    if img.dtype.kind not in "iuf" or img.dtype.itemsize > 8:
        img = img.astype(np.float64)
    img = np.ascontiguousarray(img)
    msk = np.ascontiguousarray(mask, dtype=np.bool_)
    if img.ndim != 2 or msk.shape != img.shape:
        raise InputDataError(
            "image", f"shape {img.shape} and mask shape {msk.shape} must be equal and 2-D"
        )
    disp = params.dispersion
    return (
        img,
        msk,
        int(disp.kernel_size[0]),
        int(disp.kernel_size[1]),
        float(disp.sigma_background),
        float(disp.sigma_strong),
        float(disp.global_threshold),
        int(min_count),
        float(disp.gain) if disp.gain is not None else 0.0,
        bool(disp.erode_from_mask),
    )


def strong_pixel_indices(image: np.ndarray, mask: np.ndarray, params: ThresholdParams) -> np.ndarray:
    """Flat indices (ascending int64) of the strong pixels; same pixels as `threshold_image`."""
    args = _kernel_args(image, mask, params)
    if params.algorithm == "dispersion_extended":
        return _kernels.extended_strong_pixels(*args)
    return _kernels.dispersion_strong_pixels(*args)


def threshold_image(
    image: np.ndarray, mask: np.ndarray, params: ThresholdParams
) -> np.ndarray:
    """Classify the strong pixels of one panel image.

    Parameters
    ----------
    image : (ny, nx) counts (any real dtype; each pixel is read as float64)
    mask : (ny, nx) bool, True for valid pixels (trusted range, static masks)
    params : the `spotfinder.threshold` parameters

    Returns
    -------
    (ny, nx) bool, True for strong pixels.

    Raises
    ------
    ParameterError for invalid threshold parameters; InputDataError for bad array shapes.
    """
    args = _kernel_args(image, mask, params)
    if params.algorithm == "dispersion_extended":
        return _kernels.dispersion_extended_threshold(*args)
    return _kernels.dispersion_threshold(*args)


__all__ = ["threshold_image", "strong_pixel_indices"]
