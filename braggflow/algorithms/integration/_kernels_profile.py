"""numba kernels of profile fitting: rocking-curve fractions, phi refinement, profile lookup and the fit."""

from __future__ import annotations

import math

import numpy as np

from braggflow._numba import jit


@jit
def _frame_fractions(z0, nz, phi_c, zeta, sigma_m, phi0, dphi, zfirst, out):
    """Fraction of the Gaussian rocking curve recorded on each frame of the bbox."""
    s = math.sqrt(2.0) * sigma_m
    for k in range(nz):
        pa = phi0 + (z0 + k - zfirst) * dphi
        pb = pa + dphi
        a = math.erf(abs(zeta) * (pa - phi_c) / s)
        b = math.erf(abs(zeta) * (pb - phi_c) / s)
        out[k] = 0.5 * abs(b - a)


@jit
def _loglik_phi(nj, z0, phi, zeta, sigma_m, phi0, dphi, zfirst, fr):
    _frame_fractions(z0, nj.shape[0], phi, zeta, sigma_m, phi0, dphi, zfirst, fr)
    total = 0.0
    for k in range(nj.shape[0]):
        if nj[k] > 0:
            total += nj[k] * math.log(max(fr[k], 1e-12))
    return total


@jit
def refine_phi(nj, z0, phi_c, zeta, sigma_m, phi0, dphi, zfirst):
    """Maximum-likelihood rocking-curve centre (rad) from the per-frame sums nj (clipped >= 0),
    searched within +-2 sigma_phi of the prediction (grid then golden section)."""
    sphi = sigma_m / max(abs(zeta), 1e-6)
    fr = np.empty(nj.shape[0])
    best = phi_c
    best_l = _loglik_phi(nj, z0, phi_c, zeta, sigma_m, phi0, dphi, zfirst, fr)
    for k in range(-20, 21):
        ph = phi_c + 0.1 * k * sphi
        ll = _loglik_phi(nj, z0, ph, zeta, sigma_m, phi0, dphi, zfirst, fr)
        if ll > best_l:
            best_l = ll
            best = ph
    a = best - 0.1 * sphi
    b = best + 0.1 * sphi
    g = 0.5 * (math.sqrt(5.0) - 1.0)
    for _ in range(20):
        c = b - g * (b - a)
        d = a + g * (b - a)
        if _loglik_phi(nj, z0, c, zeta, sigma_m, phi0, dphi, zfirst, fr) > _loglik_phi(nj, z0, d, zeta, sigma_m, phi0, dphi, zfirst, fr):
            b = d
        else:
            a = c
    return 0.5 * (a + b)


@jit
def _bilinear(prof, u, v):
    """Bilinear interpolation of a (G, G) cell-centred grid at fractional cell coords (u, v)."""
    G = prof.shape[0]
    if u < 0.0 or v < 0.0 or u > G - 1.0 or v > G - 1.0:
        return 0.0
    i = min(int(u), G - 2)
    j = min(int(v), G - 2)
    fu = u - i
    fv = v - j
    return ((1 - fu) * (1 - fv) * prof[j, i] + fu * (1 - fv) * prof[j, i + 1]
            + (1 - fu) * fv * prof[j + 1, i] + fu * fv * prof[j + 1, i + 1])


@jit
def _pixel_profile(c, j, i, prof, step, nsub):
    """Integral of the 2-D density ``prof`` over pixel (j, i): sub-sampled bilinear map of
    the pixel's corner Kabsch coordinates, density x sub-area."""
    G = prof.shape[0]
    g = 0.5 * (G - 1)
    a0, a1 = c[j, i, 0], c[j, i, 1]
    b0, b1 = c[j, i + 1, 0], c[j, i + 1, 1]
    d0, d1 = c[j + 1, i, 0], c[j + 1, i, 1]
    e0, e1_ = c[j + 1, i + 1, 0], c[j + 1, i + 1, 1]
    area = 0.5 * abs((b0 - d0) * (e1_ - a1) - (e0 - a0) * (b1 - d1))
    total = 0.0
    for sj in range(nsub):
        t = (sj + 0.5) / nsub
        for si in range(nsub):
            u = (si + 0.5) / nsub
            c1 = (1 - u) * (1 - t) * a0 + u * (1 - t) * b0 + (1 - u) * t * d0 + u * t * e0
            c2 = (1 - u) * (1 - t) * a1 + u * (1 - t) * b1 + (1 - u) * t * d1 + u * t * e1_
            total += _bilinear(prof, c1 / step + g, c2 / step + g)
    return total * area / (nsub * nsub)


@jit
def fit_profile(cs, bs, ps, variance_mode, bg_var_per_pixel):
    """Iterative weighted fit of counts cs = I p + b (1-D arrays over fitted pixels).

    Returns (I, var, cc, ok). variance_mode 0: 1/sum(p^2/v) + background-error term;
    1: DIALS's |I| + |sum b|.
    """
    n = cs.shape[0]
    I = 0.0
    for k in range(n):
        I += cs[k] - bs[k]
    ok = False
    sp2v = 0.0
    spv = 0.0
    for _ in range(100):
        num = 0.0
        sp2v = 0.0
        spv = 0.0
        for k in range(n):
            v = abs(bs[k]) + abs(I * ps[k]) + 1e-10
            num += ps[k] * (cs[k] - bs[k]) / v
            sp2v += ps[k] * ps[k] / v
            spv += ps[k] / v
        if sp2v <= 0:
            break
        new = num / sp2v
        if abs(new - I) < 1e-3:
            I = new
            ok = True
            break
        I = new
    if not ok or sp2v <= 0:
        return I, 0.0, 0.0, False
    sb = 0.0
    for k in range(n):
        sb += bs[k]
    if variance_mode == 0:
        var = 1.0 / sp2v + (spv / sp2v) ** 2 * bg_var_per_pixel
    else:
        var = abs(I) + abs(sb)
    # correlation between (c - b) and p
    mx = 0.0
    my = 0.0
    for k in range(n):
        mx += cs[k] - bs[k]
        my += ps[k]
    mx /= n
    my /= n
    sxy = 0.0
    sxx = 0.0
    syy = 0.0
    for k in range(n):
        dx = cs[k] - bs[k] - mx
        dy = ps[k] - my
        sxy += dx * dy
        sxx += dx * dx
        syy += dy * dy
    cc = sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else 0.0
    return I, var, cc, True
