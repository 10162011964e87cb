"""integrate on the real L-cysteine sweep (15 images, 16 reference spots) against DIALS 3.12's
integrated.refl (48 rows, 47 summed, 20 profile fitted; data README section 2.1)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np

from braggflow.algorithms.integration import IntegrateParams, integrate
from braggflow.formats.expt_io import read_experiments
from braggflow.model.reflections import Flags, ReflectionTable


def _params() -> IntegrateParams:
    p = IntegrateParams()
    g = p.profile.gaussian_rs
    g = dataclasses.replace(g, min_spots=dataclasses.replace(g.min_spots, overall=10, per_degree=5))
    mp = dataclasses.replace(p.integration.mp, nproc=1)
    return dataclasses.replace(p, profile=dataclasses.replace(p.profile, gaussian_rs=g),
                               integration=dataclasses.replace(p.integration, mp=mp))


def _by_hkl(table: ReflectionTable) -> dict[tuple[int, int, int], int]:
    return {tuple(int(v) for v in h): i for i, h in enumerate(np.asarray(table["miller_index"]))}


def test_lcysteine_profile_fitting_and_summation_match_dials(shared_data: Path, tmp_path: Path) -> None:
    ref = shared_data / "reflections" / "dials312_l_cysteine_sweep4"
    images = shared_data / "images" / "l_cysteine_sweep4"
    text = re.sub(r'"template": "[^"]*l-cyst', f'"template": "{images}/l-cyst', (ref / "refined.expt").read_text())
    (tmp_path / "refined.expt").write_text(text)
    res = integrate(read_experiments(tmp_path / "refined.expt"), ReflectionTable.from_file(ref / "refined.refl"), _params())
    ours, dials = res.reflections, ReflectionTable.from_file(ref / "integrated.refl")
    fo, fd = np.asarray(ours["flags"]), np.asarray(dials["flags"])
    S, P = int(Flags.integrated_sum), int(Flags.integrated_prf)
    # profile fitting: before the pooled profile, no grid profile had 10 references -> 0 prf
    assert ((fo & P) > 0).sum() >= 18
    ko, kd = _by_hkl(ours), _by_hkl(dials)
    # (1 -4 -11) crosses at z = 0.45 with the scan-varying A but at 3.3 with the mid-scan A:
    # it was never predicted (search window +-2 frames); DIALS sums and fits it
    assert (1, -4, -11) in ko and fo[ko[(1, -4, -11)]] & S
    assert abs(ours["xyzcal.px"][ko[(1, -4, -11)]][2] - dials["xyzcal.px"][kd[(1, -4, -11)]][2]) < 0.05
    both_sum = [(ko[h], i) for h, i in kd.items() if h in ko and fd[i] & S and fo[ko[h]] & S]
    assert len(both_sum) >= 45
    a = np.array([[ours["intensity.sum.value"][j], dials["intensity.sum.value"][i]] for j, i in both_sum])
    assert np.corrcoef(a.T)[0, 1] > 0.999
    # fully recorded reflections fitted by both: same intensities within a few %
    full = [(ko[h], i) for h, i in kd.items() if h in ko and fd[i] & P and fo[ko[h]] & P
            and dials["partiality"][i] > 0.99]
    assert len(full) >= 8
    b = np.array([[ours["intensity.prf.value"][j], dials["intensity.prf.value"][i],
                   ours["intensity.prf.variance"][j], dials["intensity.prf.variance"][i]] for j, i in full])
    assert np.corrcoef(b[:, 0], b[:, 1])[0, 1] > 0.99
    assert abs(np.median(b[:, 0] / b[:, 1]) - 1.0) < 0.05
    assert abs(np.median(np.sqrt(b[:, 2] / b[:, 3])) - 1.0) < 0.1
    prof = res.reference_profiles[0]
    assert prof.usable[prof.grid.is_pooled].all()
