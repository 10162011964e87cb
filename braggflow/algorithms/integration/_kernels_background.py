"""numba kernels of the shoebox background models (GLM, robust outlier rejection, plane fits)."""

from __future__ import annotations

import math

import numpy as np

from braggflow._numba import jit
from braggflow.algorithms.integration._constants import VALID, BACKGROUND, BACKGROUND_USED, OVERLAPPED, HUBER_C


@jit
def _poisson_expectations(mu, c):
    """E[psi_c(r)] and E[psi_c(r) r] for Y ~ Poisson(mu), r = (Y - mu)/sqrt(mu)."""
    sd = math.sqrt(mu)
    top = int(mu + 12.0 * sd + 20.0)
    e1 = 0.0
    e2 = 0.0
    logmu = math.log(mu)
    for y in range(top + 1):
        pmf = math.exp(y * logmu - mu - math.lgamma(y + 1.0))
        r = (y - mu) / sd
        psi = r if abs(r) <= c else (c if r > 0 else -c)
        e1 += pmf * psi
        e2 += pmf * psi * r
    return e1, e2


@jit
def glm_constant(values):
    """Robust Poisson mean (Huber GLM, log link, constant model) of ``values`` (1-D)."""
    n = values.shape[0]
    med = np.median(values)
    mu = med if med > 0 else 1.0
    beta = math.log(mu)
    for _ in range(100):
        mu = math.exp(beta)
        sd = math.sqrt(mu)
        s = 0.0
        for i in range(n):
            r = (values[i] - mu) / sd
            s += r if abs(r) <= HUBER_C else (HUBER_C if r > 0 else -HUBER_C)
        e1, e2 = _poisson_expectations(mu, HUBER_C)
        if e2 <= 0:
            break
        delta = (s - n * e1) / (n * e2 * sd)
        if delta > 2.0:
            delta = 2.0
        elif delta < -2.0:
            delta = -2.0
        beta += delta
        if abs(delta) <= 1e-3 * max(abs(beta), 1e-3):
            break
    return math.exp(beta)


@jit
def robust_keep(values, outlier, lower, upper):
    """Bool mask of values kept by the outlier rule (0 null, 1 nsigma, 2 truncated,
    3 tukey, 4 normal (iterated nsigma), 5 plane (iterated nsigma, 4 sigma))."""
    n = values.shape[0]
    keep = np.ones(n, dtype=np.bool_)
    if outlier == 0 or n < 3:
        return keep
    if outlier == 2:
        order = np.argsort(values)
        lo = int(lower * n)
        hi = n - int(upper * n)
        keep[:] = False
        for k in range(lo, max(hi, lo)):
            keep[order[k]] = True
        return keep
    if outlier == 3:
        q1 = np.percentile(values, 25.0)
        q3 = np.percentile(values, 75.0)
        iqr = q3 - q1
        for i in range(n):
            keep[i] = values[i] >= q1 - lower * iqr and values[i] <= q3 + upper * iqr
        return keep
    lo_k, hi_k = (lower, upper) if outlier != 5 else (4.0, 4.0)
    iters = 1 if outlier == 1 else 20
    for _ in range(iters):
        m = 0.0
        cnt = 0
        for i in range(n):
            if keep[i]:
                m += values[i]
                cnt += 1
        if cnt < 2:
            break
        m /= cnt
        v = 0.0
        for i in range(n):
            if keep[i]:
                v += (values[i] - m) ** 2
        sd = math.sqrt(v / (cnt - 1))
        changed = False
        for i in range(n):
            k = values[i] >= m - lo_k * sd and values[i] <= m + hi_k * sd
            if keep[i] and not k:
                keep[i] = False
                changed = True
        if not changed:
            break
    return keep


@jit
def _lstsq_plane(vals, xs, ys, zs, keep, ncoef):
    """Least-squares coefficients of b = c0 + c1 x + c2 y (+ c3 z) over kept pixels."""
    ata = np.zeros((ncoef, ncoef))
    atb = np.zeros(ncoef)
    row = np.empty(ncoef)
    for i in range(vals.shape[0]):
        if not keep[i]:
            continue
        row[0] = 1.0
        if ncoef > 1:
            row[1] = xs[i]
            row[2] = ys[i]
        if ncoef > 3:
            row[3] = zs[i]
        for a in range(ncoef):
            atb[a] += row[a] * vals[i]
            for b in range(ncoef):
                ata[a, b] += row[a] * row[b]
    for a in range(ncoef):
        ata[a, a] += 1e-9
    return np.linalg.solve(ata, atb)


@jit
def _background_one(data, mask, lo, hi, w, h, nz, algo, model, outlier, lower, upper, min_pixels, bg):
    """Fill bg[0:hi-lo] with the background model; mark used pixels. Returns (n_used, ok)."""
    npix = hi - lo
    per_frame = model == 1 or model == 2  # constant2d / linear2d: a model per frame
    nfit = nz if per_frame else 1
    total_used = 0
    plane = model >= 2
    for fz in range(nfit):
        zlo, zhi = (fz, fz + 1) if per_frame else (0, nz)
        cnt = 0
        for k in range(zlo * w * h, zhi * w * h):
            m = mask[lo + k]
            if (m & VALID) and (m & BACKGROUND) and not (m & OVERLAPPED):
                cnt += 1
        if cnt < min_pixels:
            return total_used, False
        vals = np.empty(cnt)
        xs = np.empty(cnt)
        ys = np.empty(cnt)
        zs = np.empty(cnt)
        idx = np.empty(cnt, dtype=np.int64)
        c = 0
        for k in range(zlo * w * h, zhi * w * h):
            m = mask[lo + k]
            if (m & VALID) and (m & BACKGROUND) and not (m & OVERLAPPED):
                vals[c] = data[lo + k]
                zs[c] = k // (w * h) - 0.5 * (nz - 1)
                ys[c] = (k // w) % h - 0.5 * (h - 1)
                xs[c] = k % w - 0.5 * (w - 1)
                idx[c] = k
                c += 1
        if algo == 0:  # glm constant
            keep = np.ones(cnt, dtype=np.bool_)
            mu = glm_constant(vals)
            coef = np.zeros(4)
            coef[0] = mu
        else:
            keep = robust_keep(vals, outlier, lower, upper)
            ncoef = 1 if not plane else (4 if model == 3 else 3)
            coef = np.zeros(4)
            sol = _lstsq_plane(vals, xs, ys, zs, keep, ncoef)
            for a in range(ncoef):
                coef[a] = sol[a]
        for k in range(cnt):
            if keep[k]:
                mask[lo + idx[k]] |= BACKGROUND_USED
                total_used += 1
        for k in range(zlo * w * h, zhi * w * h):
            zz = k // (w * h) - 0.5 * (nz - 1)
            yy = (k // w) % h - 0.5 * (h - 1)
            xx = k % w - 0.5 * (w - 1)
            if plane:
                bg[k] = coef[0] + coef[1] * xx + coef[2] * yy + coef[3] * zz
            else:
                bg[k] = coef[0]
    return total_used, True
