"""Per-image strong-pixel classification (`dispersion`, `dispersion_extended`)."""

from __future__ import annotations

import numpy as np

from braggflow.algorithms.spotfinding import _kernels
from braggflow.algorithms.spotfinding.params import ThresholdParams, check_threshold_params
from braggflow.errors import InputDataError


def threshold_image(
    image: np.ndarray, mask: np.ndarray, params: ThresholdParams
) -> np.ndarray:
    """Classify the strong pixels of one panel image.

    Parameters
    ----------
    image : (ny, nx) counts (any real dtype; converted to float64)
    mask : (ny, nx) bool, True for valid pixels (trusted range, static masks)
    params : the `spotfinder.threshold` parameters

    Returns
    -------
    (ny, nx) bool, True for strong pixels.

    Raises
    ------
    ParameterError for invalid threshold parameters; InputDataError for bad array shapes.
    """
    min_count = check_threshold_params(params)
    img = np.ascontiguousarray(image, dtype=np.float64)
    msk = np.ascontiguousarray(mask, dtype=np.bool_)
    if img.ndim != 2 or msk.shape != img.shape:
        raise InputDataError(
            "image", f"shape {img.shape} and mask shape {msk.shape} must be equal and 2-D"
        )
    disp = params.dispersion
    kernel = (
        _kernels.dispersion_extended_threshold
        if params.algorithm == "dispersion_extended"
        else _kernels.dispersion_threshold
    )
    return kernel(
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


__all__ = ["threshold_image"]
