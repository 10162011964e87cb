"""Laue group determination after Evans (2011) / dials.symmetry (algorithms.md 9.1).

1. Quasi-normalise intensities to E² in resolution bins (ε from the lattice group), drop
   E² > 16 Wilson outliers, merge Friedel pairs and repeats per hkl in P-1.
2. Lattice point group from the metric (gemmi.find_lattice_symmetry, max delta 2°); one
   symmetry element per (axis, order).
3. Per element: pairs (h, hR), Pearson CC, σ(CC) = max(0.1, CCsigFac/√N); Z = CC/σ;
   p(CC|S) a Cauchy centred on E(CC_true) truncated to [−1, 1]; p(CC|¬S) the same Cauchy
   averaged over μ ∈ [0, 1] with weight √(1 − μ²); likelihood p(S)/(p(S) + p(¬S)).
4. Per subgroup: L ∝ Π_{S∈G} p(CC|S) · Π_{S∉G} p(CC|¬S), normalised; NetZcc = Zcc+ − Zcc−.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gemmi
import numpy as np

from braggflow.algorithms.merging.statistics import pack_hkl
from braggflow.algorithms.merging.unmerged import UnmergedData
from braggflow.algorithms.symmetry.groups import (
    GroupName,
    SymmetryElement,
    _mat,
    enumerate_subgroups,
    lattice_rotations,
    name_group,
    symmetry_elements,
)
from braggflow.errors import InputDataError

__all__ = ["ElementScore", "SubgroupScore", "LaueResult", "normalised_intensities", "determine_laue_group"]


@dataclass
class ElementScore:
    element: SymmetryElement
    cc: float
    n_pairs: int
    sigma_cc: float
    z_cc: float
    p_s: float
    p_not_s: float
    likelihood: float


@dataclass
class SubgroupScore:
    rotations: frozenset
    name: GroupName | None
    label: str
    likelihood: float = 0.0
    z_cc_for: float = 0.0
    z_cc_against: float = 0.0
    net_z_cc: float = 0.0
    cc_for: float = 0.0
    cc_against: float = 0.0
    log_l: float = 0.0


@dataclass
class LaueResult:
    elements: list[ElementScore]
    subgroups: list[SubgroupScore]  # sorted best first
    cc_true: float
    cc_sig_fac: float
    n_reflections: int
    lattice_centring: list = field(default_factory=list)

    @property
    def best(self) -> SubgroupScore:
        return self.subgroups[0]


def normalised_intensities(data: UnmergedData, rotations_epsilon: gemmi.GroupOps | None = None, n_bins: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """E² and σ(E²) per observation: I/(ε⟨I/ε⟩) with equal-count resolution bins."""
    s = 1.0 / data.d**2
    order = np.argsort(s)
    bins = np.empty(len(s), int)
    bins[order] = np.minimum(np.arange(len(s)) * n_bins // max(len(s), 1), n_bins - 1)
    eps = np.ones(len(s))
    if rotations_epsilon is not None:
        eps = np.asarray(rotations_epsilon.epsilon_factor_without_centering_array(np.ascontiguousarray(data.hkl, dtype=np.int32)), float)
        eps = np.maximum(eps, 1.0)
    i_eps = data.intensity / eps
    mean = np.bincount(bins, i_eps, n_bins) / np.maximum(np.bincount(bins, minlength=n_bins), 1)
    mean = np.where(mean > 0, mean, np.nan)
    denom = eps * mean[bins]
    return data.intensity / denom, data.sigma / denom


def _p1_key(hkl: np.ndarray) -> np.ndarray:
    """Friedel-merged P-1 key: the larger of pack(h) and pack(−h)."""
    return np.maximum(pack_hkl(hkl), pack_hkl(-hkl))


def _merge_p1(hkl: np.ndarray, e2: np.ndarray, sig: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, int]:
    keys = _p1_key(hkl)
    uk, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    w = 1.0 / np.maximum(sig, 1e-6) ** 2
    sw = np.bincount(inv, w)
    mean = np.bincount(inv, w * e2) / sw
    # identity CC: random split of repeated observations
    n = np.bincount(inv)
    rng = np.random.default_rng(7)
    from braggflow.algorithms.merging.statistics import _half_means, _pearson, random_half_split

    half = random_half_split(inv, n, rng)
    a, b = _half_means(inv, half, e2, np.maximum(sig, 1e-6), len(uk))
    ok = np.isfinite(a) & np.isfinite(b)
    cc_id = _pearson(a[ok], b[ok]) if ok.sum() > 10 else np.nan
    return uk, hkl[first], mean, 1.0 / np.sqrt(sw), cc_id, int(ok.sum())


def _trunc_cauchy_pdf(x: np.ndarray | float, mu: np.ndarray | float, gamma: float) -> np.ndarray:
    x = np.asarray(x, float)
    mu = np.asarray(mu, float)
    norm = (np.arctan((1 - mu) / gamma) - np.arctan((-1 - mu) / gamma)) / np.pi
    pdf = 1.0 / (np.pi * gamma * (1 + ((x - mu) / gamma) ** 2))
    return pdf / norm


def _p_cc_given_not_s(cc: float, sigma: float) -> float:
    mu = np.linspace(0.0, 1.0, 401)
    w = np.sqrt(1 - mu**2)
    f = _trunc_cauchy_pdf(cc, mu, sigma) * w
    return float(np.trapezoid(f, mu) / np.trapezoid(w, mu))


def _cc_sig_fac(values: np.ndarray, rng: np.random.Generator) -> float:
    """Spread of CCs between unrelated reflections, scaled by √N (random groups 3..200)."""
    if len(values) < 20:
        return 2.0
    facs = []
    for size in (3, 5, 10, 20, 50, 100, 200):
        if size > len(values) // 2:
            break
        ccs = []
        for _ in range(30):
            idx = rng.choice(len(values), 2 * size, replace=False)
            x, y = values[idx[:size]], values[idx[size:]]
            if np.std(x) > 0 and np.std(y) > 0:
                ccs.append(np.corrcoef(x, y)[0, 1])
        if len(ccs) > 5:
            facs.append(np.std(ccs) * np.sqrt(size))
    return float(np.mean(facs)) if facs else 2.0


def determine_laue_group(data: UnmergedData, *, max_delta_deg: float = 2.0, d_min: float | None = None, min_i_over_sigma: float = -5.0, seed: int = 42, best_search: bool = True) -> LaueResult:
    """Score every subgroup of the lattice point group (module doc); best first."""
    keep = np.isfinite(data.intensity) & (data.sigma > 0) & (data.intensity / data.sigma >= min_i_over_sigma)
    if d_min is not None:
        keep &= data.d >= d_min
    data = data.select(keep)
    if len(data) < 20:
        raise InputDataError(data.source or "data", f"only {len(data)} usable observations: too few to determine the symmetry")
    centring = data.space_group.centring_type()
    rots, cen = lattice_rotations(data.cell, centring, max_delta_deg)
    lattice_ops = gemmi.GroupOps([_op(k) for k in rots]) if rots else None
    e2, se2 = normalised_intensities(data, lattice_ops)
    good = np.isfinite(e2) & (e2 < 16)
    hkl = data.hkl[good]
    keys, uhkl, mean, sig, cc_id, n_id = _merge_p1(hkl, e2[good], se2[good])
    order = np.argsort(keys)
    keys, uhkl, mean, sig = keys[order], uhkl[order], mean[order], sig[order]
    rng = np.random.default_rng(seed)
    cc_sig_fac = _cc_sig_fac(mean, rng)
    var_i = float(np.var(mean))
    expected = var_i / (var_i + float(np.mean(sig**2))) if var_i > 0 else 0.0
    if np.isfinite(cc_id):
        cc_true = (n_id * cc_id + len(mean) * expected) / (n_id + len(mean))
    else:
        cc_true = expected
    cc_true = float(np.clip(cc_true, 0.1, 0.999))
    elements = symmetry_elements(rots)
    scores = []
    for el in elements:
        xs, ys = [], []
        for k in el.ops:
            R = _mat(k)
            hp = uhkl @ R
            integral = np.all(np.abs(hp - np.rint(hp)) < 1e-6, axis=1)
            partner = np.where(integral, _p1_key(np.rint(hp).astype(np.int64)), -1)
            pos = np.searchsorted(keys, partner)
            pos = np.clip(pos, 0, len(keys) - 1)
            found = (keys[pos] == partner) & (partner != keys) & integral
            xs.append(mean[found])
            ys.append(mean[pos[found]])
        x, y = np.concatenate(xs), np.concatenate(ys)
        n = len(x)
        if n < 3 or np.std(x) == 0 or np.std(y) == 0:
            scores.append(ElementScore(el, 0.0, n, 1.0, 0.0, 0.5, 0.5, 0.5))
            continue
        cc = float(np.corrcoef(x, y)[0, 1])
        sigma = max(0.1, cc_sig_fac / np.sqrt(n))
        p_s = float(_trunc_cauchy_pdf(cc, cc_true, sigma))
        p_n = _p_cc_given_not_s(cc, sigma)
        scores.append(ElementScore(el, cc, n // 1, sigma, cc / sigma, p_s, p_n, p_s / (p_s + p_n)))
    subgroups = []
    for g in enumerate_subgroups(rots):
        name = name_group(g, cen, data.cell, search=False)
        label = name.space_group.hm if name else _describe(g, elements)
        sub = SubgroupScore(g, name, label)
        z_in, z_out, cc_in, cc_out = [], [], [], []
        log_l = 0.0
        for sc in scores:
            inside = all(k in g for k in sc.element.ops)
            if inside:
                z_in.append(sc.z_cc)
                cc_in.append(sc.cc)
                log_l += np.log(max(sc.p_s, 1e-300))
            else:
                z_out.append(sc.z_cc)
                cc_out.append(sc.cc)
                log_l += np.log(max(sc.p_not_s, 1e-300))
        sub.log_l = float(log_l)
        sub.z_cc_for = float(np.sqrt(np.mean(np.square(z_in)))) if z_in else 0.0
        sub.z_cc_against = float(np.sqrt(np.mean(np.square(z_out)))) if z_out else 0.0
        sub.net_z_cc = sub.z_cc_for - sub.z_cc_against
        sub.cc_for = float(np.mean(cc_in)) if cc_in else 0.0
        sub.cc_against = float(np.mean(cc_out)) if cc_out else 0.0
        subgroups.append(sub)
    top = max(s.log_l for s in subgroups)
    total = sum(np.exp(s.log_l - top) for s in subgroups)
    for s in subgroups:
        s.likelihood = float(np.exp(s.log_l - top) / total)
    subgroups.sort(key=lambda s: (-s.likelihood, -s.net_z_cc))
    if best_search and subgroups[0].name is None:
        subgroups[0].name = name_group(subgroups[0].rotations, cen, data.cell, search=True)
        if subgroups[0].name is not None:
            subgroups[0].label = subgroups[0].name.space_group.hm
    return LaueResult(scores, subgroups, cc_true, cc_sig_fac, len(mean), cen)


def _op(k) -> gemmi.Op:  # noqa: ANN001
    op = gemmi.Op("x,y,z")
    op.rot = [list(k[0:3]), list(k[3:6]), list(k[6:9])]
    return op


def _describe(g: frozenset, elements: list[SymmetryElement]) -> str:
    parts = [e.label for e in elements if all(k in g for k in e.ops)]
    return "rotations: " + (", ".join(parts) if parts else "1")
