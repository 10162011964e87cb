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
from braggflow.algorithms.integration._constants import (  # noqa: F401 (mask bits, columns and flags are this API)
    VALID, BACKGROUND, FOREGROUND, STRONG, BACKGROUND_USED, OVERLAPPED, OVERLOAD_BIT, C_ISUM,
    C_VSUM, C_BGMEAN, C_BGSUM, C_BGVAR, C_IPRF, C_VPRF, C_CC, C_X, C_Y, C_Z, C_VX, C_VY, C_VZ,
    C_NVALID, C_NFG, C_NBG, C_NBGUSED, C_FGVALIDFRAC, N_COLS, F_SUM, F_PRF, F_OVERLOADED, F_OVL_BG, F_OVL_FG, F_FG_BAD,
    F_BG_BAD, F_FAIL_BG, F_FAIL_SUM, F_FAIL_PRF, HUBER_C,
)
from braggflow.algorithms.integration._kernels_background import (  # noqa: F401
    _background_one, _lstsq_plane, _poisson_expectations, glm_constant, robust_keep,
)
from braggflow.algorithms.integration._kernels_profile import (  # noqa: F401
    _bilinear, _frame_fractions, _loglik_phi, _pixel_profile, fit_profile, refine_phi,
)


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
def integrate_group(bbox, offsets, panel, data, mask, pan_o, pan_f, pan_s, pan_px, e1, e2,
                    phi_c, zeta, sigma_m, scan_geom, bg_opts, profiles, prof_idx, fit_opts, out, flags):
    """Background, summation, centroid and (optionally) profile fitting for every reflection.

    Overlapped pixels (another reflection's foreground, `_kernels_overlap.mark_overlaps`) are
    left out of the background; overlapped foreground pixels stay in the sums (leaving them
    out lost more of the reflection's own counts than it removed of the neighbour's on the
    simulated sweeps) and set overlapped_fg (overlapped_bg for background pixels).

    scan_geom : (3,) phi0 (rad), dphi (rad), zfirst (array index of the scan's first frame).
    bg_opts : (6,) algorithm (0 glm, 1 simple), model (0 constant3d, 1 constant2d,
      2 linear2d, 3 linear3d), outlier code, lower, upper, min_pixels.
    profiles : (n_profiles, G, G) 2-D reference densities in (c1, c2); prof_idx (n,) profile
      per reflection (-1: no fit). fit_opts : (5,) or (6,) do_fit, step (rad), valid-foreground
      threshold, variance mode, sub-samples per pixel side[, minimum modelled fraction of the
      profile on the fitted pixels (else failed_during_profile_fitting)].
    out : (n, N_COLS) float64 results; flags : (n,) int64 DIALS flag bits.
    """
    phi0, dphi, zfirst = scan_geom[0], scan_geom[1], scan_geom[2]
    algo, model, outlier = int(bg_opts[0]), int(bg_opts[1]), int(bg_opts[2])
    lower, upper, min_pixels = bg_opts[3], bg_opts[4], int(bg_opts[5])
    do_fit, step, fg_thresh = fit_opts[0] > 0, fit_opts[1], fit_opts[2]
    var_mode, nsub = int(fit_opts[3]), int(fit_opts[4])
    min_frac = fit_opts[5] if fit_opts.shape[0] > 5 else 0.0
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
        n_fg_bad = 0
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
                if not (m & VALID):
                    n_fg_bad += 1
                else:
                    if m & OVERLAPPED:
                        fl |= F_OVL_FG
                    n_fg_valid += 1
            elif (m & BACKGROUND) and (m & VALID):
                if m & OVERLAPPED:
                    fl |= F_OVL_BG
                else:
                    n_bg += 1
            if (m & BACKGROUND) and not (m & VALID):
                fl |= F_BG_BAD
        if n_fg_bad > 0:
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
            if (m & FOREGROUND) and (m & VALID):
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
        if n_fg_bad == 0:
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
                if (m & FOREGROUND) and (m & VALID):
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
            _frame_fractions(z0, nz, phi_fit, zeta[r], sigma_m, phi0, dphi, zfirst, fr)
            if nz > 1 and I > 10.0 * math.sqrt(abs(I) + bvar) and fr.sum() > 0.99:
                # strong and fully recorded: centre the rocking curve on the data (prediction
                # errors in phi matter when a reflection spans several frames); on a partial
                # the fit would slide the curve into the scan and under-estimate the full I
                nj = np.zeros(nz)
                for k in range(hi - lo):
                    m = mask[lo + k]
                    if (m & FOREGROUND) and (m & VALID):
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
                if (m & FOREGROUND) and (m & VALID):
                    cs[q] = data[lo + k]
                    bs[q] = bg[k]
                    ps[q] = p2[k % (w * h)] * fr[k // (w * h)]
                    q += 1
            psum = 0.0
            for k in range(q):
                psum += ps[k]
            if psum < min_frac:  # too little of the modelled spot was recorded (e.g. centred off the scan)
                flags[r] = fl | F_FAIL_PRF
                continue
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
                    if not (mask[idx] & VALID) or (mask[idx] & OVERLAPPED):  # a neighbour's spot
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
                        i0 = min(int(gu), G - 2)  # cloud-in-cell: bilinear share of the 4 cells
                        j0 = min(int(gv), G - 2)
                        fu = gu - i0
                        fv = gv - j0
                        for t_k in range(targets.shape[1]):
                            tp = targets[r, t_k]
                            if tp < 0:
                                continue
                            wt = weights[r, t_k]
                            for cj in range(2):
                                for ci in range(2):
                                    f = (fu if ci else 1.0 - fu) * (fv if cj else 1.0 - fv) * wt
                                    num[tp, j0 + cj, i0 + ci] += f * dens
                                    den[tp, j0 + cj, i0 + ci] += f


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
