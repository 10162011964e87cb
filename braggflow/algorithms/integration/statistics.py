"""The numbers of the integration summary tables (tutorial: "Summary of integration results
binned by resolution" and "... for the whole dataset")."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from braggflow.model.reflections import Flags, ReflectionTable

__all__ = ["ICE_RINGS_INV_D2", "ice_ring_mask", "BinSummary", "IntegrationSummary", "summarize", "FULL_PARTIALITY"]

FULL_PARTIALITY = 0.99
ICE_RINGS_INV_D2 = (
    (0.0640, 0.0690), (0.0710, 0.0780), (0.0825, 0.0880), (0.138, 0.144), (0.190, 0.205), (0.228, 0.240),
    (0.262, 0.266), (0.267, 0.278), (0.280, 0.288), (0.337, 0.341), (0.429, 0.435), (0.459, 0.466),
    (0.478, 0.486), (0.531, 0.537),
)


def ice_ring_mask(d: np.ndarray) -> np.ndarray:
    """True where 1/d^2 (A^-2) falls in a hexagonal-ice band."""
    s = 1.0 / np.asarray(d, dtype=float) ** 2
    out = np.zeros(len(s), dtype=bool)
    for lo, hi in ICE_RINGS_INV_D2:
        out |= (s >= lo) & (s <= hi)
    return out


@dataclass(frozen=True)
class BinSummary:
    d_min: float
    d_max: float
    n_full: int
    n_partial: int
    n_overloaded: int
    n_ice: int
    n_summed: int
    n_fitted: int
    mean_background: float
    mean_i_over_sigma_sum: float
    mean_i_over_sigma_prf: float
    mean_cc_prf: float


@dataclass(frozen=True)
class IntegrationSummary:
    bins: tuple[BinSummary, ...]
    overall: BinSummary
    n_failed_background: int
    n_failed_summation: int
    n_failed_fitting: int
    n_invalid_background: int
    n_invalid_foreground: int


def _summary(t: ReflectionTable, sel: np.ndarray, d_lo: float, d_hi: float) -> BinSummary:
    flags = t["flags"][sel]

    def has(f: Flags) -> np.ndarray:
        return (flags & np.uint64(int(f))) != 0

    part = t["partiality"][sel]
    s_ok = has(Flags.integrated_sum)
    p_ok = has(Flags.integrated_prf)
    with np.errstate(invalid="ignore", divide="ignore"):
        isig_s = t["intensity.sum.value"][sel] / np.sqrt(t["intensity.sum.variance"][sel])
        isig_p = t["intensity.prf.value"][sel] / np.sqrt(t["intensity.prf.variance"][sel])

    def mean(x: np.ndarray) -> float:
        x = x[np.isfinite(x)]
        return float(np.mean(x)) if len(x) else 0.0

    return BinSummary(
        d_min=d_lo, d_max=d_hi,
        n_full=int(np.sum(part > FULL_PARTIALITY)), n_partial=int(np.sum(part <= FULL_PARTIALITY)),
        n_overloaded=int(np.sum(has(Flags.overloaded))), n_ice=int(np.sum(has(Flags.in_powder_ring))),
        n_summed=int(np.sum(s_ok)), n_fitted=int(np.sum(p_ok)),
        mean_background=mean(t["background.mean"][sel][s_ok]),
        mean_i_over_sigma_sum=mean(isig_s[s_ok]), mean_i_over_sigma_prf=mean(isig_p[p_ok]),
        mean_cc_prf=mean(t["profile.correlation"][sel][p_ok]),
    )


def summarize(table: ReflectionTable, n_bins: int = 20) -> IntegrationSummary:
    """Per-resolution-bin (equal steps in 1/d^3) and overall figures of the integrated rows
    (rows flagged dont_integrate are left out)."""
    keep = ~table.get_flags(Flags.dont_integrate) if len(table) else np.zeros(0, bool)
    t = table.select(keep)
    d = t["d"] if len(t) else np.zeros(0)
    bins = []
    if len(t):
        lo, hi = float(d.min()), float(min(d.max(), 1e4))
        edges = (np.linspace(1 / hi**3, 1 / lo**3, n_bins + 1)) ** (-1.0 / 3.0)
        edges[0], edges[-1] = d.max(), d.min()
        which = np.clip(np.searchsorted(-edges, -d, side="right") - 1, 0, n_bins - 1)
        for b in range(n_bins - 1, -1, -1):
            sel = which == b
            if np.any(sel):
                bins.append(_summary(t, sel, float(edges[b + 1]), float(edges[b])))
    overall = _summary(t, np.ones(len(t), bool), float(d.min()) if len(t) else 0.0, float(d.max()) if len(t) else 0.0)

    def count(f: Flags) -> int:
        return int(np.sum(t.get_flags(f))) if len(t) else 0

    return IntegrationSummary(
        tuple(bins), overall, count(Flags.failed_during_background_modelling), count(Flags.failed_during_summation),
        count(Flags.failed_during_profile_fitting), count(Flags.background_includes_bad_pixels),
        count(Flags.foreground_includes_bad_pixels),
    )
