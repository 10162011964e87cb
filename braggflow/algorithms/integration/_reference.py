"""numpy twins of the `_kernels` functions that have a compact vectorised form (same names
and signatures); tests check that the two agree. Production imports only `_kernels`."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import poisson

from braggflow.algorithms.integration._kernels import HUBER_C, OVERLAPPED, OVERLOAD_BIT, VALID

__all__ = ["extract_frame", "glm_constant", "robust_keep", "fit_profile", "mark_overlaps"]


def extract_frame(image, valid, z, trusted_max, rows, bbox, offsets, data, mask):  # type: ignore[no-untyped-def]
    ny, nx = image.shape
    for r in rows:
        x0, x1, y0, y1, z0, z1 = (int(v) for v in bbox[r])
        if not z0 <= z < z1:
            continue
        w, h = x1 - x0, y1 - y0
        box_d = data[offsets[r]:offsets[r + 1]].reshape(z1 - z0, h, w)
        box_m = mask[offsets[r]:offsets[r + 1]].reshape(z1 - z0, h, w)
        ya, yb, xa, xb = max(y0, 0), min(y1, ny), max(x0, 0), min(x1, nx)
        if ya >= yb or xa >= xb:
            continue
        img = image[ya:yb, xa:xb]
        val = valid[ya:yb, xa:xb]
        box_d[z - z0, ya - y0:yb - y0, xa - x0:xb - x0] = img
        box_m[z - z0, ya - y0:yb - y0, xa - x0:xb - x0] = np.where(val, VALID, np.where(img > trusted_max, OVERLOAD_BIT, 0))


def _expectations(mu: float, c: float) -> tuple[float, float]:
    sd = math.sqrt(mu)
    y = np.arange(int(mu + 12.0 * sd + 20.0) + 1)
    pmf = poisson.pmf(y, mu)
    r = (y - mu) / sd
    psi = np.clip(r, -c, c)
    return float(np.sum(pmf * psi)), float(np.sum(pmf * psi * r))


def glm_constant(values):  # type: ignore[no-untyped-def]
    values = np.asarray(values, dtype=float)
    n = len(values)
    med = float(np.median(values))
    beta = math.log(med if med > 0 else 1.0)
    for _ in range(100):
        mu = math.exp(beta)
        sd = math.sqrt(mu)
        s = float(np.sum(np.clip((values - mu) / sd, -HUBER_C, HUBER_C)))
        e1, e2 = _expectations(mu, HUBER_C)
        if e2 <= 0:
            break
        delta = float(np.clip((s - n * e1) / (n * e2 * sd), -2.0, 2.0))
        beta += delta
        if abs(delta) <= 1e-3 * max(abs(beta), 1e-3):
            break
    return math.exp(beta)


def robust_keep(values, outlier, lower, upper):  # type: ignore[no-untyped-def]
    v = np.asarray(values, dtype=float)
    n = len(v)
    keep = np.ones(n, dtype=bool)
    if outlier == 0 or n < 3:
        return keep
    if outlier == 2:
        order = np.argsort(v)
        keep[:] = False
        lo, hi = int(lower * n), n - int(upper * n)
        keep[order[lo:max(hi, lo)]] = True
        return keep
    if outlier == 3:
        q1, q3 = np.percentile(v, [25.0, 75.0])
        iqr = q3 - q1
        return (v >= q1 - lower * iqr) & (v <= q3 + upper * iqr)
    lo_k, hi_k = (lower, upper) if outlier != 5 else (4.0, 4.0)
    for _ in range(1 if outlier == 1 else 20):
        if keep.sum() < 2:
            break
        m = v[keep].mean()
        sd = v[keep].std(ddof=1)
        new = keep & (v >= m - lo_k * sd) & (v <= m + hi_k * sd)
        if np.array_equal(new, keep):
            break
        keep = new
    return keep


def fit_profile(cs, bs, ps, variance_mode, bg_var_per_pixel):  # type: ignore[no-untyped-def]
    cs, bs, ps = (np.asarray(a, dtype=float) for a in (cs, bs, ps))
    I = float(np.sum(cs - bs))
    ok = False
    sp2v = spv = 0.0
    for _ in range(100):
        v = np.abs(bs) + np.abs(I * ps) + 1e-10
        sp2v = float(np.sum(ps * ps / v))
        spv = float(np.sum(ps / v))
        if sp2v <= 0:
            break
        new = float(np.sum(ps * (cs - bs) / v)) / sp2v
        if abs(new - I) < 1e-3:
            I, ok = new, True
            break
        I = new
    if not ok or sp2v <= 0:
        return I, 0.0, 0.0, False
    if variance_mode == 0:
        var = 1.0 / sp2v + (spv / sp2v) ** 2 * bg_var_per_pixel
    else:
        var = abs(I) + abs(float(np.sum(bs)))
    x, y = cs - bs, ps
    sx, sy = x.std(), y.std()
    cc = float(np.mean((x - x.mean()) * (y - y.mean())) / (sx * sy)) if sx > 0 and sy > 0 else 0.0
    return I, var, cc, True


def mark_overlaps(bbox, offsets, panel, mask, pan_o, pan_f, pan_s, pan_px, nb_bbox, nb_e1, nb_e2, nb_delta_b):  # type: ignore[no-untyped-def]
    n_pairs = 0
    for r in range(len(bbox)):
        x0, x1, y0, y1, z0, z1 = (int(v) for v in bbox[r])
        if offsets[r + 1] == offsets[r]:
            continue
        box = mask[offsets[r]:offsets[r + 1]].reshape(z1 - z0, y1 - y0, x1 - x0)
        p = int(panel[r])
        # pixel-corner lab directions of the whole bbox
        X, Y = np.meshgrid(np.arange(x0, x1 + 1) * pan_px[p, 0], np.arange(y0, y1 + 1) * pan_px[p, 1])
        lab = pan_o[p] + X[..., None] * pan_f[p] + Y[..., None] * pan_s[p]
        lab = lab / np.linalg.norm(lab, axis=2, keepdims=True)
        for q in range(nb_bbox.shape[1]):
            b = nb_bbox[r, q]
            if b[5] <= b[4]:
                continue
            c2 = (lab @ nb_e1[r, q]) ** 2 + (lab @ nb_e2[r, q]) ** 2
            corner_min = np.minimum(np.minimum(c2[:-1, :-1], c2[:-1, 1:]), np.minimum(c2[1:, :-1], c2[1:, 1:]))
            fg = corner_min <= nb_delta_b[r, q] ** 2
            xs, ys, zs = np.arange(x0, x1), np.arange(y0, y1), np.arange(z0, z1)
            fg &= ((xs >= b[0]) & (xs < b[1]))[None, :] & ((ys >= b[2]) & (ys < b[3]))[:, None]
            inz = (zs >= b[4]) & (zs < b[5])
            if fg.any() and inz.any():
                n_pairs += 1
                box[np.ix_(inz, np.ones(len(ys), bool), np.ones(len(xs), bool))] |= np.where(fg, OVERLAPPED, 0)[None]
    return n_pairs
