"""numba kernels of the integration hot loops (numpy twins in `_reference.py`).

Conventions shared by every kernel:
- A *group* of reflections is a ragged shoebox store: ``bbox`` (n, 6) int32
  (x0, x1, y0, y1, z0, z1), ``offsets`` (n + 1,) int64, ``data`` float32 and ``mask`` int32
  flat pixel buffers in [z, y, x] order per reflection.
- Panel geometry: ``pan_o``, ``pan_f``, ``pan_s`` (n_panels, 3) lab origin / fast / slow
  (mm, unit), ``pan_px`` (n_panels, 2) pixel size (mm). Pixel corners map to lab with the
  simple (no parallax) px->mm rule; reflections carry an "effective" s1 consistent with it.
- Kabsch frame per reflection: ``e1``, ``e2`` (n, 3) unit vectors; c1 = e1 . unit(lab),
  c2 = e2 . unit(lab) (radians).
"""

from __future__ import annotations

import math

import numpy as np

from braggflow._numba import jit

VALID = 1
BACKGROUND = 2
FOREGROUND = 4
STRONG = 8
BACKGROUND_USED = 16
OVERLAPPED = 32
OVERLOAD_BIT = 128  # private: pixel above the trusted range (cleared before output)

# result columns of integrate_group
C_ISUM, C_VSUM, C_BGMEAN, C_BGSUM, C_BGVAR, C_IPRF, C_VPRF, C_CC = 0, 1, 2, 3, 4, 5, 6, 7
C_X, C_Y, C_Z, C_VX, C_VY, C_VZ = 8, 9, 10, 11, 12, 13
C_NVALID, C_NFG, C_NBG, C_NBGUSED, C_FGVALIDFRAC = 14, 15, 16, 17, 18
N_COLS = 19

# result flags of integrate_group (DIALS bit values)
F_SUM = 1 << 8
F_PRF = 1 << 9
F_OVERLOADED = 1 << 10
F_FG_BAD = 1 << 14
F_BG_BAD = 1 << 15
F_FAIL_BG = 1 << 18
F_FAIL_SUM = 1 << 19
F_FAIL_PRF = 1 << 20

HUBER_C = 1.345


@jit
def extract_frame(image, valid, z, trusted_max, rows, bbox, offsets, data, mask):
    """Copy frame ``z`` of one panel into the shoeboxes of ``rows`` (those on this panel).

    image : (ny, nx) numeric; valid : (ny, nx) bool. Pixels outside the image stay 0 and
    invalid; pixels above ``trusted_max`` get the private overload bit.
    """
    ny, nx = image.shape
    for k in range(rows.shape[0]):
        r = rows[k]
        x0, x1, y0, y1, z0, z1 = bbox[r, 0], bbox[r, 1], bbox[r, 2], bbox[r, 3], bbox[r, 4], bbox[r, 5]
        if z < z0 or z >= z1:
            continue
        w = x1 - x0
        h = y1 - y0
        base = offsets[r] + (z - z0) * w * h
        for y in range(max(y0, 0), min(y1, ny)):
            row = base + (y - y0) * w
            for x in range(max(x0, 0), min(x1, nx)):
                v = image[y, x]
                i = row + (x - x0)
                data[i] = v
                m = 0
                if valid[y, x]:
                    m = VALID
                elif v > trusted_max:
                    m = OVERLOAD_BIT
                mask[i] = m


@jit
def _corner_kabsch(x0, y0, w, h, o, f, s, px, e1, e2, out):
    """c1, c2 at the (h + 1) x (w + 1) pixel corners of a bbox column grid -> out[j, i, 0:2]."""
    for j in range(h + 1):
        for i in range(w + 1):
            X = (x0 + i) * px[0]
            Y = (y0 + j) * px[1]
            lx = o[0] + X * f[0] + Y * s[0]
            ly = o[1] + X * f[1] + Y * s[1]
            lz = o[2] + X * f[2] + Y * s[2]
            n = math.sqrt(lx * lx + ly * ly + lz * lz)
            out[j, i, 0] = (e1[0] * lx + e1[1] * ly + e1[2] * lz) / n
            out[j, i, 1] = (e2[0] * lx + e2[1] * ly + e2[2] * lz) / n


@jit
def foreground_mask(bbox, offsets, panel, mask, pan_o, pan_f, pan_s, pan_px, e1, e2, delta_b):
    """Set Foreground/Background bits: a pixel column is foreground when the minimum over
    its four corners of (c1^2 + c2^2) / delta_b^2 is <= 1 (same for every frame)."""
    for r in range(bbox.shape[0]):
        if offsets[r + 1] == offsets[r]:
            continue
        x0, x1, y0, y1, z0, z1 = bbox[r, 0], bbox[r, 1], bbox[r, 2], bbox[r, 3], bbox[r, 4], bbox[r, 5]
        w, h = x1 - x0, y1 - y0
        p = panel[r]
        c = np.empty((h + 1, w + 1, 2))
        _corner_kabsch(x0, y0, w, h, pan_o[p], pan_f[p], pan_s[p], pan_px[p], e1[r], e2[r], c)
        d2 = delta_b[r] * delta_b[r]
        for j in range(h):
            for i in range(w):
                best = 1e300
                for dj in range(2):
                    for di in range(2):
                        v = c[j + dj, i + di, 0] ** 2 + c[j + dj, i + di, 1] ** 2
                        if v < best:
                            best = v
                code = FOREGROUND if best <= d2 else BACKGROUND
                for k in range(z1 - z0):
                    idx = offsets[r] + (k * h + j) * w + i
                    mask[idx] = (mask[idx] & ~(FOREGROUND | BACKGROUND)) | code


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


@jit
def integrate_group(bbox, offsets, panel, data, mask, pan_o, pan_f, pan_s, pan_px, e1, e2,
                    phi_c, zeta, sigma_m, scan_geom, bg_opts, profiles, prof_idx, fit_opts, out, flags):
    """Background, summation, centroid and (optionally) profile fitting for every reflection.

    scan_geom : (3,) phi0 (rad), dphi (rad), zfirst (array index of the scan's first frame).
    bg_opts : (6,) algorithm (0 glm, 1 simple), model (0 constant3d, 1 constant2d,
      2 linear2d, 3 linear3d), outlier code, lower, upper, min_pixels.
    profiles : (n_profiles, G, G) 2-D reference densities in (c1, c2); prof_idx (n,) profile
      per reflection (-1: no fit). fit_opts : (5,) do_fit, step (rad), valid-foreground
      threshold, variance mode, sub-samples per pixel side.
    out : (n, N_COLS) float64 results; flags : (n,) int64 DIALS flag bits.
    """
    phi0, dphi, zfirst = scan_geom[0], scan_geom[1], scan_geom[2]
    algo, model, outlier = int(bg_opts[0]), int(bg_opts[1]), int(bg_opts[2])
    lower, upper, min_pixels = bg_opts[3], bg_opts[4], int(bg_opts[5])
    do_fit, step, fg_thresh = fit_opts[0] > 0, fit_opts[1], fit_opts[2]
    var_mode, nsub = int(fit_opts[3]), int(fit_opts[4])
    for r in range(bbox.shape[0]):
        lo, hi = offsets[r], offsets[r + 1]
        if hi == lo:
            continue
        x0, x1, y0, y1, z0, z1 = bbox[r, 0], bbox[r, 1], bbox[r, 2], bbox[r, 3], bbox[r, 4], bbox[r, 5]
        w, h, nz = x1 - x0, y1 - y0, z1 - z0
        fl = 0
        n_valid = 0
        n_fg = 0
        n_fg_valid = 0
        n_bg = 0
        for k in range(lo, hi):
            m = mask[k]
            if m & OVERLOAD_BIT:
                if m & FOREGROUND:
                    fl |= F_OVERLOADED
                m = (m & ~OVERLOAD_BIT) | VALID
                mask[k] = m
            if m & VALID:
                n_valid += 1
            if m & FOREGROUND:
                n_fg += 1
                if (m & VALID) and not (m & OVERLAPPED):
                    n_fg_valid += 1
            elif (m & BACKGROUND) and (m & VALID) and not (m & OVERLAPPED):
                n_bg += 1
            if (m & BACKGROUND) and not (m & VALID):
                fl |= F_BG_BAD
        if n_fg_valid < n_fg:
            fl |= F_FG_BAD
        out[r, C_NVALID] = n_valid
        out[r, C_NFG] = n_fg
        out[r, C_NBG] = n_bg
        out[r, C_FGVALIDFRAC] = n_fg_valid / n_fg if n_fg > 0 else 0.0
        bg = np.empty(hi - lo)
        used, ok = _background_one(data, mask, lo, hi, w, h, nz, algo, model, outlier, lower, upper, min_pixels, bg)
        out[r, C_NBGUSED] = used
        if not ok or n_fg == 0:
            flags[r] = fl | F_FAIL_BG
            continue
        # summation and centroid
        I = 0.0
        B = 0.0
        sw = 0.0
        sx = 0.0
        sy = 0.0
        sz = 0.0
        for k in range(hi - lo):
            m = mask[lo + k]
            if (m & FOREGROUND) and (m & VALID) and not (m & OVERLAPPED):
                v = data[lo + k] - bg[k]
                I += v
                B += bg[k]
                if v > 0:
                    sw += v
                    sx += v * (x0 + k % w + 0.5)
                    sy += v * (y0 + (k // w) % h + 0.5)
                    sz += v * (z0 + k // (w * h) + 0.5)
        bvar = abs(B) * (1.0 + n_fg_valid / max(used, 1))
        out[r, C_ISUM] = I
        out[r, C_VSUM] = abs(I) + bvar
        out[r, C_BGMEAN] = B / max(n_fg_valid, 1)
        out[r, C_BGSUM] = B
        out[r, C_BGVAR] = bvar
        if n_fg_valid == n_fg:
            fl |= F_SUM
        else:
            fl |= F_FAIL_SUM
        if sw > 0:
            cx, cy, cz = sx / sw, sy / sw, sz / sw
            vx = 0.0
            vy = 0.0
            vz = 0.0
            for k in range(hi - lo):
                m = mask[lo + k]
                if (m & FOREGROUND) and (m & VALID) and not (m & OVERLAPPED):
                    v = data[lo + k] - bg[k]
                    if v > 0:
                        vx += v * (x0 + k % w + 0.5 - cx) ** 2
                        vy += v * (y0 + (k // w) % h + 0.5 - cy) ** 2
                        vz += v * (z0 + k // (w * h) + 0.5 - cz) ** 2
            out[r, C_X], out[r, C_Y], out[r, C_Z] = cx, cy, cz
            out[r, C_VX] = vx / sw / sw + 1.0 / 12.0 / sw
            out[r, C_VY] = vy / sw / sw + 1.0 / 12.0 / sw
            out[r, C_VZ] = vz / sw / sw + 1.0 / 12.0 / sw
        else:
            out[r, C_X] = np.nan
            out[r, C_Y] = np.nan
            out[r, C_Z] = np.nan
        # profile fitting
        if do_fit and prof_idx[r] >= 0:
            if n_fg == 0 or n_fg_valid < fg_thresh * n_fg:
                flags[r] = fl | F_FAIL_PRF
                continue
            p = panel[r]
            c = np.empty((h + 1, w + 1, 2))
            _corner_kabsch(x0, y0, w, h, pan_o[p], pan_f[p], pan_s[p], pan_px[p], e1[r], e2[r], c)
            fr = np.empty(nz)
            phi_fit = phi_c[r]
            if nz > 1 and I > 10.0 * math.sqrt(abs(I) + bvar):
                # strong: centre the rocking curve on the data (prediction errors in phi
                # matter when a reflection spans several frames)
                nj = np.zeros(nz)
                for k in range(hi - lo):
                    m = mask[lo + k]
                    if (m & FOREGROUND) and (m & VALID) and not (m & OVERLAPPED):
                        nj[k // (w * h)] += data[lo + k] - bg[k]
                for k in range(nz):
                    nj[k] = max(nj[k], 0.0)
                phi_fit = refine_phi(nj, z0, phi_c[r], zeta[r], sigma_m, phi0, dphi, zfirst)
            _frame_fractions(z0, nz, phi_fit, zeta[r], sigma_m, phi0, dphi, zfirst, fr)
            prof = profiles[prof_idx[r]]
            p2 = np.empty(w * h)
            for j in range(h):
                for i in range(w):
                    p2[j * w + i] = _pixel_profile(c, j, i, prof, step, nsub)
            cs = np.empty(n_fg_valid)
            bs = np.empty(n_fg_valid)
            ps = np.empty(n_fg_valid)
            q = 0
            for k in range(hi - lo):
                m = mask[lo + k]
                if (m & FOREGROUND) and (m & VALID) and not (m & OVERLAPPED):
                    cs[q] = data[lo + k]
                    bs[q] = bg[k]
                    ps[q] = p2[k % (w * h)] * fr[k // (w * h)]
                    q += 1
            bmean = B / max(n_fg_valid, 1)
            Ip, Vp, cc, okf = fit_profile(cs, bs, ps, var_mode, abs(bmean) / max(used, 1))
            if okf:
                out[r, C_IPRF] = Ip
                out[r, C_VPRF] = Vp
                out[r, C_CC] = cc
                fl |= F_PRF
            else:
                fl |= F_FAIL_PRF
        flags[r] = fl


@jit
def accumulate_reference(bbox, offsets, panel, data, mask, bgval, pan_o, pan_f, pan_s, pan_px, e1, e2,
                         scale, targets, weights, step, nsub, num, den):
    """Add each reference reflection's background-subtracted pixel columns (summed over
    frames, divided by ``scale`` = its intensity) to the 2-D density grids ``num``/``den``
    (n_profiles, G, G) of its target profiles (targets/weights (n, K), -1 = unused).

    bgval (n,) is the reflection's constant background per pixel.
    """
    G = num.shape[1]
    g = 0.5 * (G - 1)
    for r in range(bbox.shape[0]):
        lo, hi = offsets[r], offsets[r + 1]
        if hi == lo or scale[r] <= 0:
            continue
        x0, x1, y0, y1, z0, z1 = bbox[r, 0], bbox[r, 1], bbox[r, 2], bbox[r, 3], bbox[r, 4], bbox[r, 5]
        w, h, nz = x1 - x0, y1 - y0, z1 - z0
        p = panel[r]
        c = np.empty((h + 1, w + 1, 2))
        _corner_kabsch(x0, y0, w, h, pan_o[p], pan_f[p], pan_s[p], pan_px[p], e1[r], e2[r], c)
        for j in range(h):
            for i in range(w):
                col = 0.0
                good = True
                for k in range(nz):
                    idx = lo + (k * h + j) * w + i
                    if not (mask[idx] & VALID):
                        good = False
                        break
                    col += data[idx] - bgval[r]
                if not good:
                    continue
                a0, a1 = c[j, i, 0], c[j, i, 1]
                b0, b1 = c[j, i + 1, 0], c[j, i + 1, 1]
                d0, d1 = c[j + 1, i, 0], c[j + 1, i, 1]
                f0, f1 = c[j + 1, i + 1, 0], c[j + 1, i + 1, 1]
                area = 0.5 * abs((b0 - d0) * (f1 - a1) - (f0 - a0) * (b1 - d1))
                dens = col / scale[r] / area
                for sj in range(nsub):
                    t = (sj + 0.5) / nsub
                    for si in range(nsub):
                        u = (si + 0.5) / nsub
                        c1 = (1 - u) * (1 - t) * a0 + u * (1 - t) * b0 + (1 - u) * t * d0 + u * t * f0
                        c2 = (1 - u) * (1 - t) * a1 + u * (1 - t) * b1 + (1 - u) * t * d1 + u * t * f1
                        gu = c1 / step + g
                        gv = c2 / step + g
                        if gu < 0 or gv < 0 or gu > G - 1 or gv > G - 1:
                            continue
                        ii = min(int(gu + 0.5), G - 1)  # nearest cell: no extra smoothing
                        jj = min(int(gv + 0.5), G - 1)
                        for t_k in range(targets.shape[1]):
                            tp = targets[r, t_k]
                            if tp < 0:
                                continue
                            wt = weights[r, t_k]
                            num[tp, jj, ii] += wt * dens
                            den[tp, jj, ii] += wt


@jit
def strong_components(bbox, offsets, data, mask, bgval, centre, out):
    """out[pixel] = True for the 6-connected strong pixels (counts > b + 3 sqrt(max(b, 1)))
    containing the strong pixel nearest to each reflection's predicted centre (x, y, z in
    px/frames, within 2 px / 1 frame); the spot itself, without neighbours."""
    for r in range(bbox.shape[0]):
        lo, hi = offsets[r], offsets[r + 1]
        if hi == lo:
            continue
        x0, x1, y0, y1, z0, z1 = bbox[r, 0], bbox[r, 1], bbox[r, 2], bbox[r, 3], bbox[r, 4], bbox[r, 5]
        w, h, nz = x1 - x0, y1 - y0, z1 - z0
        thr = bgval[r] + 3.0 * math.sqrt(max(bgval[r], 1.0))
        best = -1
        best_d = 1e30
        for k in range(hi - lo):
            if not (mask[lo + k] & VALID) or data[lo + k] <= thr:
                continue
            dx = x0 + k % w + 0.5 - centre[r, 0]
            dy = y0 + (k // w) % h + 0.5 - centre[r, 1]
            dz = z0 + k // (w * h) + 0.5 - centre[r, 2]
            if abs(dx) > 2.5 or abs(dy) > 2.5 or abs(dz) > 1.5:
                continue
            d = dx * dx + dy * dy + dz * dz
            if d < best_d:
                best_d = d
                best = k
        if best < 0:
            continue
        stack = np.empty(hi - lo, dtype=np.int64)
        top = 0
        stack[top] = best
        top += 1
        out[lo + best] = True
        while top > 0:
            top -= 1
            k = stack[top]
            i, j, l = k % w, (k // w) % h, k // (w * h)
            for di, dj, dl in ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)):
                ii, jj, ll = i + di, j + dj, l + dl
                if ii < 0 or jj < 0 or ll < 0 or ii >= w or jj >= h or ll >= nz:
                    continue
                q = (ll * h + jj) * w + ii
                if out[lo + q] or not (mask[lo + q] & VALID) or data[lo + q] <= thr:
                    continue
                out[lo + q] = True
                stack[top] = q
                top += 1
