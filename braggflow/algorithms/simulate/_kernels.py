"""numba kernels of the simulator (numpy twins with the same names in _reference.py)."""

from __future__ import annotations

import math

import numpy as np

from braggflow._numba import jit


@jit
def splat_gaussians(image, x, y, sxx, sxy, syy, counts, n_sigma, supersample):  # pragma: no cover - numba
    """Add each spot's counts to image (n_slow, n_fast) float64 as a 2-D Gaussian.

    Spot i: mean (x[i], y[i]) px, covariance [[sxx, sxy], [sxy, syy]] px^2, total counts[i].
    The Gaussian is averaged over supersample^2 points per pixel inside a box of half-width
    n_sigma sigma and normalised over the whole box, so the box (on or off the panel) holds
    exactly counts[i]; pixels off the image are dropped.
    """
    ny, nx = image.shape
    ss = supersample
    for i in range(x.shape[0]):
        det = sxx[i] * syy[i] - sxy[i] * sxy[i]
        a = syy[i] / det
        b = -sxy[i] / det
        c = sxx[i] / det
        ix0 = int(math.floor(x[i] - n_sigma * math.sqrt(sxx[i])))
        ix1 = int(math.floor(x[i] + n_sigma * math.sqrt(sxx[i])))
        iy0 = int(math.floor(y[i] - n_sigma * math.sqrt(syy[i])))
        iy1 = int(math.floor(y[i] + n_sigma * math.sqrt(syy[i])))
        total = 0.0
        for pass_ in range(2):
            scale = 0.0 if pass_ == 0 else counts[i] / total
            for iy in range(iy0, iy1 + 1):
                if pass_ == 1 and (iy < 0 or iy >= ny):
                    continue
                for ix in range(ix0, ix1 + 1):
                    if pass_ == 1 and (ix < 0 or ix >= nx):
                        continue
                    w = 0.0
                    for sy in range(ss):
                        dy = iy + (sy + 0.5) / ss - y[i]
                        for sx in range(ss):
                            dx = ix + (sx + 0.5) / ss - x[i]
                            w += math.exp(-0.5 * (a * dx * dx + 2.0 * b * dx * dy + c * dy * dy))
                    if pass_ == 0:
                        total += w
                    else:
                        image[iy, ix] += scale * w
            if total <= 0.0:
                break


@jit
def rocking_fractions(phi_c, sigma_phi, phi0, dphi, first, last, out_offsets, out_image, out_fraction):  # pragma: no cover
    """Fraction of each Gaussian rocking curve on each image k in [first[i], last[i]].

    Image k covers phi0 + k dphi .. phi0 + (k + 1) dphi (radians, dphi > 0); fractions are
    erf differences, so summed over all images they give exactly 1.
    """
    for i in range(phi_c.shape[0]):
        k0 = out_offsets[i]
        s = math.sqrt(2.0) * sigma_phi[i]
        lo = math.erf((phi0 + first[i] * dphi - phi_c[i]) / s)
        for j in range(last[i] - first[i] + 1):
            k = first[i] + j
            hi = math.erf((phi0 + (k + 1) * dphi - phi_c[i]) / s)
            out_image[k0 + j] = k
            out_fraction[k0 + j] = 0.5 * (hi - lo)
            lo = hi


@jit
def poisson_counts(lam, u, limit, gain, saturation, bad, out):  # pragma: no cover - numba
    """Detector integers from expected photons (all arrays flat, same length).

    Poisson by CDF inversion of the uniform u[i] where lam < limit; elsewhere out = -3 (the
    caller draws those few pixels separately). Then x gain (rounded), capped at saturation;
    bad[i] = 1 (gap) -> -1, 2 (dead) -> -2.
    """
    for i in range(lam.shape[0]):
        if bad[i] != 0:
            out[i] = -bad[i]
            continue
        lm = lam[i]
        if lm <= 0.0:
            out[i] = 0
            continue
        if lm >= limit:
            out[i] = -3
            continue
        p = math.exp(-lm)
        cdf = p
        k = 0
        x = u[i]
        while x > cdf and k < 1000:
            k += 1
            p *= lm / k
            cdf += p
        v = float(k) if gain == 1.0 else math.floor(k * gain + 0.5)
        out[i] = saturation if v > saturation else int(v)
