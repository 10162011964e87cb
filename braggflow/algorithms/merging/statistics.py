"""Merging statistics with the definitions of iotbx.merging_statistics (cctbx).

Conventions copied from cctbx (``merge_equivalents_obs``, ``dataset_statistics``):

* merged I = Σ w I / Σ w with w = 1/σ²; merged σ = sqrt(max(wvar/n, 1/Σw)) where wvar is
  GSL's weighted variance Σw/((Σw)² − Σw²) · Σ w (I − ⟨I⟩)² (``use_internal_variance=True``,
  the default); a single observation keeps its own σ.
* Rmerge = Σ_h Σ_i |I_hi − ⟨I_h⟩| / Σ_h Σ_i I_hi over groups with n ≥ 2 (both sums);
  Rmeas with √(n/(n−1)), Rpim with √(1/(n−1)) per group.
* ⟨I/σ⟩ is the mean of merged I/σ over unique reflections with σ > 0.
* Completeness = unique / expected; expected = complete set (systematic absences removed)
  from the data's own d_min (×(1 − 1e-6)) filtered to the bin's d range.
* Bins: ``n_bins`` (10) of equal reciprocal volume between the data's d_max and d_min, each
  d*² limit widened by 1e-6 of the span (cctbx ``binning``).
* CC½: iotbx's default is the random half-dataset split (``cc_one_half_method=half_dataset``);
  each group with n ≥ 2 is permuted, the first n//2 go to half 1, the rest to half 2, each half
  merged with 1/σ² weights, Pearson CC over groups. cctbx seeds its own RNG (seed 0), so the
  split cannot be reproduced bit for bit; we seed numpy (``seed``). The σ-τ estimate
  (Assmann et al. 2016) is deterministic: with σ set to 1, var_y = unbiased variance of the
  group means (n ≥ 2 only), var_e = 2·mean(internal variance of the mean), CC½ =
  (var_y − var_e/2)/(var_y + var_e/2). The overall CC½ (both kinds) is the mean of the bin
  values weighted by their counts, as ``dataset_statistics`` reports it.
* CC_anom: random half split within each I+ and I− group, ΔI = I+ − I− per half, CC over
  reflections with both halves of both signs present.
* Systematic absences are removed first; σ ≤ 0 observations are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import gemmi
import numpy as np

from braggflow.algorithms.merging.unmerged import UnmergedData
from braggflow.errors import InputDataError

__all__ = [
    "MergedGroups",
    "ShellStatistics",
    "MergingStatistics",
    "group_keys",
    "merge_groups",
    "shell_statistics",
    "merging_statistics",
    "volume_bin_limits",
    "resolution_cutoff_cc_half",
]


def pack_hkl(hkl: np.ndarray) -> np.ndarray:
    h = hkl.astype(np.int64) + 1024
    return (h[:, 0] << 22) | (h[:, 1] << 11) | h[:, 2]


def group_keys(data: UnmergedData, anomalous: bool) -> np.ndarray:
    """int64 key per observation: the ASU index, plus the Friedel side for acentric
    reflections when ``anomalous`` (centric mates are equivalent, as in cctbx)."""
    key = pack_hkl(data.asu_hkl) << 1
    if anomalous:
        centric = centric_flags(data.asu_hkl, data.space_group)
        key = key | ((~data.plus) & ~centric).astype(np.int64)
    return key


def centric_flags(hkl: np.ndarray, sg: gemmi.SpaceGroup) -> np.ndarray:
    if len(hkl) == 0:
        return np.zeros(0, bool)
    return np.asarray(sg.operations().centric_flag_array(np.ascontiguousarray(hkl, dtype=np.int32)), dtype=bool)


@dataclass
class MergedGroups:
    """Per unique group: key, representative index, counts, means, sigmas; R sums."""

    key: np.ndarray
    hkl: np.ndarray
    plus: np.ndarray
    n: np.ndarray
    mean: np.ndarray
    sigma: np.ndarray
    inverse: np.ndarray  # observation -> group
    r_num: float
    r_den: float
    r_meas_num: float
    r_pim_num: float


def merge_groups(keys: np.ndarray, intensity: np.ndarray, sigma: np.ndarray, hkl: np.ndarray | None = None, plus: np.ndarray | None = None, internal_variance: bool = True) -> MergedGroups:
    """Inverse-variance merge of observations sharing a key (cctbx merge_equivalents_obs)."""
    uk, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    m = len(uk)
    w = 1.0 / sigma**2
    n = np.bincount(inv, minlength=m)
    sw = np.bincount(inv, w, m)
    swx = np.bincount(inv, w * intensity, m)
    mean = swx / sw
    dev = intensity - mean[inv]
    sw2 = np.bincount(inv, w * w, m)
    swd = np.bincount(inv, w * dev * dev, m)
    with np.errstate(divide="ignore", invalid="ignore"):
        wvar = np.where(n > 1, sw / (sw * sw - sw2) * swd, 0.0)
    ext = 1.0 / sw
    var = np.maximum(wvar / n, ext) if internal_variance else ext
    sigma_m = np.sqrt(var)
    single = n == 1
    sigma_m[single] = sigma[first[single]]
    mean[single] = intensity[first[single]]
    absdev = np.bincount(inv, np.abs(intensity - mean[inv]), m)
    isum = np.bincount(inv, intensity, m)
    multi = n > 1
    nn = n[multi].astype(float)
    return MergedGroups(
        key=uk,
        hkl=None if hkl is None else hkl[first],
        plus=None if plus is None else plus[first],
        n=n,
        mean=mean,
        sigma=sigma_m,
        inverse=inv,
        r_num=float(absdev[multi].sum()),
        r_den=float(isum[multi].sum()),
        r_meas_num=float((np.sqrt(nn / (nn - 1)) * absdev[multi]).sum()),
        r_pim_num=float((np.sqrt(1.0 / (nn - 1)) * absdev[multi]).sum()),
    )


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2:
        return 0.0
    xm, ym = x - x.mean(), y - y.mean()
    den = np.sqrt((xm * xm).sum() * (ym * ym).sum())
    return float((xm * ym).sum() / den) if den > 0 else 0.0


def random_half_split(inv: np.ndarray, n: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half label (0/1) per observation: in each group a random permutation, the first
    n//2 go to half 0 (cctbx split_unmerged); groups with n < 2 get −1."""
    order = np.lexsort((rng.random(len(inv)), inv))
    g_sorted = inv[order]
    starts = np.concatenate([[0], np.cumsum(n)[:-1]])
    rank = np.arange(len(inv)) - starts[g_sorted]
    labels = np.where(rank < (n[g_sorted] // 2), 0, 1).astype(np.int8)
    labels[n[g_sorted] < 2] = -1
    half = np.empty(len(inv), np.int8)
    half[order] = labels
    return half


def _half_means(inv: np.ndarray, half: np.ndarray, intensity: np.ndarray, sigma: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    w = 1.0 / sigma**2
    out = []
    for h in (0, 1):
        sel = half == h
        sw = np.bincount(inv[sel], w[sel], m)
        swx = np.bincount(inv[sel], (w * intensity)[sel], m)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.where(sw > 0, swx / sw, np.nan))
    return out[0], out[1]


def cc_half_random(inv: np.ndarray, n: np.ndarray, intensity: np.ndarray, sigma: np.ndarray, seed: int = 0) -> tuple[float, int]:
    rng = np.random.default_rng(seed)
    half = random_half_split(inv, n, rng)
    a, b = _half_means(inv, half, intensity, sigma, len(n))
    ok = np.isfinite(a) & np.isfinite(b)
    return _pearson(a[ok], b[ok]), int(ok.sum())


def cc_half_sigma_tau(inv: np.ndarray, n: np.ndarray, intensity: np.ndarray) -> tuple[float, int]:
    """σ-τ CC½ exactly as cctbx: unit weights, internal variance of the mean."""
    m = len(n)
    s = np.bincount(inv, intensity, m)
    mean = s / np.maximum(n, 1)
    dev = intensity - mean[inv]
    ss = np.bincount(inv, dev * dev, m)
    multi = n > 1
    if multi.sum() <= 1:
        return 0.0, int(multi.sum())
    nn = n[multi].astype(float)
    # unit weights: wvar = n/(n^2 - n) Σ dev² = Σ dev²/(n-1); var of mean = max(wvar/n, 1/n)
    var_mean = np.maximum(ss[multi] / (nn - 1) / nn, 1.0 / nn)
    var_y = float(np.var(mean[multi], ddof=1))
    var_e = 2.0 * float(var_mean.mean())
    return (var_y - 0.5 * var_e) / (var_y + 0.5 * var_e), int(multi.sum())


def cc_anom_half(data: UnmergedData, seed: int = 0) -> tuple[float, int]:
    """Half-dataset correlation of anomalous differences (acentric only)."""
    if len(data) == 0:
        return 0.0, 0
    keys = group_keys(data, anomalous=True)
    uk, inv = np.unique(keys, return_inverse=True)
    n = np.bincount(inv, minlength=len(uk))
    rng = np.random.default_rng(seed + 1)
    half = random_half_split(inv, n, rng)
    a, b = _half_means(inv, half, data.intensity, data.sigma, len(uk))
    base = uk >> 1
    minus = (uk & 1).astype(bool)
    plus_pos = np.flatnonzero(~minus)
    minus_pos = np.flatnonzero(minus)
    j = np.searchsorted(base[plus_pos], base[minus_pos])
    j = np.clip(j, 0, max(len(plus_pos) - 1, 0))
    if len(plus_pos) == 0:
        return 0.0, 0
    match = base[plus_pos][j] == base[minus_pos]
    pp, mm = plus_pos[j[match]], minus_pos[match]
    d1 = a[pp] - a[mm]
    d2 = b[pp] - b[mm]
    ok = np.isfinite(d1) & np.isfinite(d2)
    return _pearson(d1[ok], d2[ok]), int(ok.sum())


@dataclass
class ShellStatistics:
    d_max: float
    d_min: float
    n_obs: int = 0
    n_uniq: int = 0
    n_expected: int = 0
    completeness: float = 0.0  # fraction
    multiplicity: float = 0.0
    i_mean: float = 0.0
    sigi_mean: float = 0.0
    i_over_sigma_mean: float = 0.0
    unmerged_i_over_sigma_mean: float = 0.0
    r_merge: float | None = None
    r_meas: float | None = None
    r_pim: float | None = None
    cc_one_half: float = 0.0
    cc_one_half_n: int = 0
    cc_one_half_sigma_tau: float = 0.0
    cc_one_half_sigma_tau_n: int = 0
    cc_anom: float = 0.0
    cc_anom_n: int = 0
    # anomalous (I+/I- kept apart) figures, aimless-style
    r_merge_anom: float | None = None
    r_meas_anom: float | None = None
    r_pim_anom: float | None = None
    anom_completeness: float = 0.0
    anom_multiplicity: float = 0.0
    cc_one_half_significant: bool | None = None

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class MergingStatistics:
    overall: ShellStatistics
    bins: list[ShellStatistics] = field(default_factory=list)
    cc_half_method: str = "half_dataset"
    anomalous: bool = False
    space_group: str = ""
    cell: tuple = ()

    @property
    def inner(self) -> ShellStatistics:
        return self.bins[0]

    @property
    def outer(self) -> ShellStatistics:
        return self.bins[-1]

    def cc_one_half_overall(self, method: str | None = None) -> float:
        method = method or self.cc_half_method
        if method == "sigma_tau":
            w = np.array([b.cc_one_half_sigma_tau_n for b in self.bins], float)
            v = np.array([b.cc_one_half_sigma_tau for b in self.bins])
        else:
            w = np.array([b.cc_one_half_n for b in self.bins], float)
            v = np.array([b.cc_one_half for b in self.bins])
        return float((w * v).sum() / w.sum()) if w.sum() > 0 else 0.0


def volume_bin_limits(d_max: float, d_min: float, n_bins: int, relative_tolerance: float = 1e-6) -> np.ndarray:
    """d*² limits (n_bins + 1) of cctbx's equal-volume binning."""
    lo = 1.0 / d_max**2 if d_max > 0 else 0.0
    hi = 1.0 / d_min**2
    span = hi - lo
    hi += span * relative_tolerance
    lo = max(0.0, lo - span * relative_tolerance)
    r_lo, r_hi = np.sqrt(lo), np.sqrt(hi)
    v_lo, v_hi = r_lo**3, r_hi**3
    step = (v_hi - v_lo) / n_bins
    inner = [(v_lo + i * step) ** (2.0 / 3.0) for i in range(1, n_bins)]
    return np.array([lo, *inner, hi])


def _expected(cell: gemmi.UnitCell, sg: gemmi.SpaceGroup, d_min_data: float, d_lo: float, d_hi: float | None, anomalous: bool) -> tuple[int, int]:
    """(expected unique, expected acentric) between d_lo (high-res limit) and d_hi."""
    dmin_gen = d_min_data * (1 - 1e-6)
    hkl = gemmi.make_miller_array(cell, sg, dmin_gen * 0.999, 0.0, True).astype(np.int32)
    if len(hkl) == 0:
        return 0, 0
    d = np.asarray(cell.calculate_d_array(hkl))
    sel = (d >= dmin_gen) & (d >= d_lo)
    if d_hi is not None and d_hi > 0:
        sel &= d <= d_hi
    hkl = hkl[sel]
    centric = centric_flags(hkl, sg)
    return int(len(hkl)), int((~centric).sum())


def shell_statistics(data: UnmergedData, d_max: float, d_min: float, *, d_min_data: float | None = None, seed: int = 0, cc_half_significance_level: float | None = None) -> ShellStatistics:
    """All figures for the observations of one shell (data already restricted to it)."""
    st = ShellStatistics(d_max=d_max, d_min=d_min)
    st.n_obs = len(data)
    if len(data) == 0:
        return st
    keys = group_keys(data, anomalous=False)
    g = merge_groups(keys, data.intensity, data.sigma, data.asu_hkl, data.plus)
    st.n_uniq = len(g.key)
    dmd = float(data.d.min()) if d_min_data is None else d_min_data
    exp_all, exp_acentric = _expected(data.cell, data.space_group, dmd, d_min, d_max, False)
    st.n_expected = exp_all
    st.completeness = min(st.n_uniq / exp_all, 1.0) if exp_all else 0.0
    st.multiplicity = st.n_obs / st.n_uniq
    st.i_mean = float(g.mean.mean())
    st.sigi_mean = float(g.sigma.mean())
    pos = g.sigma > 0
    st.i_over_sigma_mean = float((g.mean[pos] / g.sigma[pos]).mean())
    st.unmerged_i_over_sigma_mean = float((data.intensity / data.sigma).mean())
    if g.r_den != 0:
        st.r_merge = g.r_num / g.r_den
        st.r_meas = g.r_meas_num / g.r_den
        st.r_pim = g.r_pim_num / g.r_den
    else:
        st.r_merge = st.r_meas = st.r_pim = 0.0
    st.cc_one_half, st.cc_one_half_n = cc_half_random(g.inverse, g.n, data.intensity, data.sigma, seed)
    st.cc_one_half_sigma_tau, st.cc_one_half_sigma_tau_n = cc_half_sigma_tau(g.inverse, g.n, data.intensity)
    if cc_half_significance_level is not None:
        st.cc_one_half_significant = bool(st.cc_one_half > cc_critical_value(st.cc_one_half_n, cc_half_significance_level))
    st.cc_anom, st.cc_anom_n = cc_anom_half(data, seed)
    # anomalous grouping
    akeys = group_keys(data, anomalous=True)
    ga = merge_groups(akeys, data.intensity, data.sigma)
    if ga.r_den != 0:
        st.r_merge_anom = ga.r_num / ga.r_den
        st.r_meas_anom = ga.r_meas_num / ga.r_den
        st.r_pim_anom = ga.r_pim_num / ga.r_den
    centric_obs = centric_flags(data.asu_hkl, data.space_group)
    ac = ~centric_obs
    if ac.any():
        ak = akeys[ac]
        uk, counts = np.unique(ak, return_counts=True)
        base = uk >> 1
        ub, nb = np.unique(base, return_counts=True)
        pairs = int((nb == 2).sum())
        st.anom_completeness = min(pairs / exp_acentric, 1.0) if exp_acentric else 0.0
        st.anom_multiplicity = float(counts.mean())
    return st


def cc_critical_value(n: int, p: float) -> float:
    from scipy.stats import t as student_t

    if n <= 2:
        return 0.0
    tq = student_t.ppf(1 - p, n - 2)
    return float(tq / np.sqrt(n - 2 + tq * tq))


def prepare_for_statistics(data: UnmergedData, d_min: float | None = None, d_max: float | None = None) -> UnmergedData:
    """Drop σ ≤ 0, systematic absences and anything outside [d_min, d_max]."""
    keep = data.sigma > 0
    if len(data):
        absent = np.asarray(data.space_group.operations().systematic_absences(np.ascontiguousarray(data.asu_hkl, dtype=np.int32)), bool)
        keep &= ~absent
    if d_min is not None:
        keep &= data.d >= d_min * (1 - 1e-6)
    if d_max is not None:
        keep &= data.d <= d_max * (1 + 1e-6)
    return data.select(keep)


def merging_statistics(data: UnmergedData, *, n_bins: int = 10, d_min: float | None = None, d_max: float | None = None, seed: int = 0, cc_half_method: str = "half_dataset", cc_half_significance_level: float | None = None) -> MergingStatistics:
    """Overall and per-shell statistics (iotbx.merging_statistics conventions, module doc)."""
    data = prepare_for_statistics(data, d_min, d_max)
    if len(data) == 0:
        raise InputDataError(data.source or "data", "no observations left in the resolution range")
    keys = group_keys(data, anomalous=False)
    if len(np.unique(keys)) == len(keys):
        raise InputDataError(data.source or "data", "no symmetry-equivalent observations: the data are merged or have multiplicity 1, merging statistics need repeated measurements")
    dmax, dmin = float(data.d.max()), float(data.d.min())
    overall = shell_statistics(data, dmax, dmin, seed=seed, cc_half_significance_level=cc_half_significance_level)
    limits = volume_bin_limits(dmax, dmin, n_bins)
    dstar2 = 1.0 / data.d**2
    which = np.clip(np.searchsorted(limits, dstar2, side="right") - 1, 0, n_bins - 1)
    bins = []
    for i in range(n_bins):
        lo_d = 1.0 / np.sqrt(limits[i + 1])
        hi_d = 1.0 / np.sqrt(limits[i]) if limits[i] > 0 else -1.0
        sub = data.select(which == i)
        bins.append(shell_statistics(sub, hi_d, lo_d, seed=seed, cc_half_significance_level=cc_half_significance_level))
    return MergingStatistics(overall, bins, cc_half_method, False, data.space_group.hm, tuple(data.cell.parameters))


def resolution_cutoff_cc_half(stats: MergingStatistics, limit: float = 0.3) -> float | None:
    """d where a tanh fit of CC½ against d*² falls to ``limit`` (dials.estimate_resolution
    style); None when CC½ never falls that low or the fit fails."""
    from scipy.optimize import curve_fit

    s = np.array([0.5 * (1 / b.d_min**2 + (1 / b.d_max**2 if b.d_max > 0 else 0)) for b in stats.bins if b.n_uniq > 0])
    cc = np.array([b.cc_one_half for b in stats.bins if b.n_uniq > 0])
    if len(s) < 3 or cc.min() > limit:
        return None

    def f(x, s0, r):  # noqa: ANN001
        return 0.5 * (1 - np.tanh((x - s0) / r))

    try:
        (s0, r), _ = curve_fit(f, s, cc, p0=(float(np.median(s)), float(np.ptp(s)) / 4 + 1e-6), maxfev=2000)
    except (RuntimeError, ValueError):
        return None
    if r <= 0:
        return None
    x = s0 + r * np.arctanh(1 - 2 * limit)
    if not np.isfinite(x) or x <= 0:
        return None
    return float(1 / np.sqrt(x))
