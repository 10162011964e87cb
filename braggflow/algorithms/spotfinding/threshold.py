"""Per-image strong-pixel classification (`dispersion`, `dispersion_extended`)."""

from __future__ import annotations

import numpy as np

from braggflow.algorithms.spotfinding import _fused_kernels, _kernels
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


def strong_pixels_in_range(
    image: np.ndarray,
    mask: np.ndarray,
    trusted: tuple[float, float],
    params: ThresholdParams,
    core: np.ndarray | None = None,
) -> np.ndarray:
    """`strong_pixel_indices` with valid = mask AND low <= image <= high, in one pass.

    Integer images go through the fused streaming kernel (no full-size temporaries);
    float images, and integer images whose sum of squares is too large for float64 tables
    to be exact, fall back to `strong_pixel_indices` on the explicit mask, so the pixels are
    always the same. `core` is an optional all-False (ny, nx) bool scratch image (reused
    between calls; left all False).
    """
    low, high = float(trusted[0]), float(trusted[1])
    img = np.asarray(image)
    if img.dtype.kind in "iu" and img.dtype.itemsize <= 4 and img.ndim == 2:
        args = _kernel_args(img, mask, params)
        if core is None or core.shape != img.shape or core.dtype != np.bool_:
            core = np.zeros(img.shape, dtype=np.bool_)
        flat, exact = _fused_kernels.fused_strong_pixels(
            args[0], args[1], low, high, core, *args[2:],
            params.algorithm == "dispersion_extended",
        )
        if exact:
            return flat
    valid = np.asarray(mask, dtype=bool) & (img >= low) & (img <= high)
    return strong_pixel_indices(img, valid, params)


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


__all__ = ["threshold_image", "strong_pixel_indices", "strong_pixels_in_range"]
