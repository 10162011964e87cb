"""One call that compares an integrated reflection table (braggflow's or DIALS's) with the
simulation truth: crystal model, counts, and intensity correlation/residuals.

Intensities are compared for reflections fully recorded in the scan (truth `partiality`
> `full_partiality`): I * lp against `intensity.true` for correlations, and the raw I against
`counts.expected` (photons; the simulator applies no detector efficiency) for the normalised
residuals, with one scale k = median(I / counts.expected) over the strong reflections (a
weighted least-squares k is dragged far off by a handful of gross outliers). "Weak" and "strong" are defined from the truth alone
(quantiles of `counts.expected` over the fully recorded truth reflections), so two programs
are judged on the same reflections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from braggflow.model.crystal import Crystal
from braggflow.model.reflections import Flags, ReflectionTable
from braggflow.validation.matching import match_reflections, reindex
from braggflow.validation.settings import CrystalComparison, compare_crystal
from braggflow.validation.statistics import ResolutionBin, Residuals, cc_by_resolution, normalised_residuals, pearson_cc


@dataclass(frozen=True)
class Thresholds:
    full_partiality: float = 0.99
    weak_quantile: float = 0.25  # weak: counts.expected below this quantile of the truth
    strong_quantile: float = 0.50  # strong: counts.expected above this quantile
    n_bins: int = 10
    max_dz: float = 3.0


@dataclass(frozen=True)
class MethodStats:
    """One integration method (sum or prf) against the truth."""

    n: int  # fully recorded, matched, integrated with this method
    cc: float
    cc_weak: float
    n_weak: int
    cc_strong: float
    n_strong: int
    by_resolution: list[ResolutionBin]
    residuals: Residuals
    median_ratio: float  # median of I*lp / I_true over strong reflections


@dataclass(frozen=True)
class IntegrationComparison:
    crystal: CrystalComparison
    n_rows: int
    n_sum: int  # integrated_sum flag set
    n_prf: int
    n_matched: int
    n_full: int  # matched and fully recorded in the truth
    weak_counts: float
    strong_counts: float
    methods: dict[str, MethodStats] = field(default_factory=dict)


def _method_stats(I, var, lp, truth, rows, weak_counts, strong_counts, th: Thresholds) -> MethodStats:  # noqa: ANN001
    ok = np.isfinite(I) & np.isfinite(var) & (var > 0)
    I, sig, lp, rows = I[ok], np.sqrt(var[ok]), lp[ok], rows[ok]
    i_true = truth["intensity.true"][rows]
    counts = truth["counts.expected"][rows]
    weak, strong = counts < weak_counts, counts > strong_counts
    corrected = I * lp
    ratio = corrected[strong] / i_true[strong]
    k = float(np.median(I[strong] / counts[strong])) if strong.any() else None  # robust to outliers
    return MethodStats(
        n=int(len(I)),
        cc=pearson_cc(corrected, i_true),
        cc_weak=pearson_cc(corrected[weak], i_true[weak]),
        n_weak=int(weak.sum()),
        cc_strong=pearson_cc(corrected[strong], i_true[strong]),
        n_strong=int(strong.sum()),
        by_resolution=cc_by_resolution(corrected, i_true, truth["d"][rows], n_bins=th.n_bins),
        residuals=normalised_residuals(I, sig, counts, k),
        median_ratio=float(np.median(ratio)) if len(ratio) else float("nan"),
    )


def compare_integrated(
    truth_crystal: Crystal,
    truth: ReflectionTable,
    crystal: Crystal,
    table: ReflectionTable,
    thresholds: Thresholds = Thresholds(),
) -> IntegrationComparison:
    """Compare an integrated table (indices in `crystal`'s setting) with truth.refl."""
    th = thresholds
    cmp = compare_crystal(truth_crystal, crystal)
    flags = table["flags"].astype(np.int64)
    hkl = reindex(table["miller_index"], cmp.M)
    rows = match_reflections(hkl, table["xyzcal.px"][:, 2], truth["miller_index"], truth["xyzcal.px"][:, 2], max_dz=th.max_dz)
    full_truth = truth["partiality"] > th.full_partiality
    counts_full = truth["counts.expected"][full_truth]
    weak_counts = float(np.quantile(counts_full, th.weak_quantile))
    strong_counts = float(np.quantile(counts_full, th.strong_quantile))
    matched = rows >= 0
    full = matched & full_truth[np.maximum(rows, 0)]
    lp = table["lp"] if "lp" in table else truth["lp"][np.maximum(rows, 0)]
    methods = {}
    for name, flag in (("sum", Flags.integrated_sum), ("prf", Flags.integrated_prf)):
        col = f"intensity.{name}.value"
        if col not in table:
            continue
        sel = full & ((flags & int(flag)) != 0)
        methods[name] = _method_stats(
            table[col][sel], table[f"intensity.{name}.variance"][sel], lp[sel], truth, rows[sel],
            weak_counts, strong_counts, th,
        )
    return IntegrationComparison(
        crystal=cmp,
        n_rows=len(table),
        n_sum=int(((flags & int(Flags.integrated_sum)) != 0).sum()),
        n_prf=int(((flags & int(Flags.integrated_prf)) != 0).sum()),
        n_matched=int(matched.sum()),
        n_full=int(full.sum()),
        weak_counts=weak_counts,
        strong_counts=strong_counts,
        methods=methods,
    )


def compare_files(truth_dir: str | Path, experiments: str | Path, reflections: str | Path,
                  thresholds: Thresholds = Thresholds()) -> IntegrationComparison:
    """compare_integrated on files: truth_dir holds truth.expt and truth.refl."""
    from braggflow.formats.expt_io import read_experiments
    from braggflow.formats.refl_io import read_refl

    truth_dir = Path(truth_dir)
    truth_crystal = read_experiments(truth_dir / "truth.expt")[0].crystal
    crystal = read_experiments(experiments)[0].crystal
    return compare_integrated(truth_crystal, read_refl(truth_dir / "truth.refl"), crystal, read_refl(reflections), thresholds)
