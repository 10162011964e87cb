"""Refinement in each Bravais setting on real data (L-cysteine sweep 4, DIALS 3.12 reference),
the recommendation rule, and the braggflow.refine_bravais_settings / reindex programs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from braggflow.algorithms.bravais import is_recommended, refine_bravais_settings
from braggflow.algorithms.refinement import RefinementParams
from braggflow.errors import InputDataError
from braggflow.formats.expt_io import read_experiments
from braggflow.formats.refl_io import read_refl

LCYS = "reflections/dials312_l_cysteine_sweep4"

# dials.refine_bravais_settings (DIALS 3.12) indexed_P1.expt indexed_P1.refl, measured here:
# number, bravais, metric fit, rmsd (mm), #spots, cell a b c, beta, recommended
DIALS_312 = [
    (5, "oP", 0.2811, 0.04640612, 18, (5.4008, 8.1036, 11.9601), 90.0),
    (4, "mP", 0.2811, 0.04133849, 16, (5.3930, 8.0936, 11.9576), 89.9867),
    (3, "mP", 0.2581, 0.04890907, 17, (5.4011, 11.9526, 8.1059), 90.0918),
    (2, "mP", 0.1438, 0.03747641, 17, (8.1246, 5.4041, 12.0067), 90.2028),
    (1, "aP", 0.0000, 0.03993770, 17, (5.4178, 8.1432, 12.0382), 89.9353),
]


def _refinement(free_geometry: bool) -> RefinementParams:
    rp = RefinementParams()
    p = rp.parameterisation
    if not free_geometry:  # braggflow's documented program overrides (current DIALS)
        p = dataclasses.replace(p, beam=dataclasses.replace(p.beam, fix=("all",)), detector=dataclasses.replace(p.detector, fix="all"))
    return dataclasses.replace(rp, parameterisation=p, reflections=dataclasses.replace(rp.reflections, reflections_per_degree=100))


@pytest.fixture
def lcys(shared_data: Path):  # type: ignore[no-untyped-def]
    d = shared_data / LCYS
    return read_experiments(d / "indexed_P1.expt"), read_refl(d / "indexed_P1.refl")


def test_l_cysteine_matches_dials_312(lcys) -> None:  # type: ignore[no-untyped-def]
    """DIALS 3.12 refines beam and detector in each setting (its program override of
    beam/detector.fix came later), so refine them here to compare like with like."""
    experiments, reflections = lcys
    result = refine_bravais_settings(experiments, reflections, refinement=_refinement(free_geometry=True))
    assert [r.setting_number for r in result.settings] == [row[0] for row in DIALS_312]
    for r, (_n, bravais, fit, rmsd, nspots, abc, beta) in zip(result.settings, DIALS_312):
        assert r.setting.bravais == bravais
        assert r.setting.max_angular_difference == pytest.approx(fit, abs=1e-4)
        assert r.rmsd == pytest.approx(rmsd, rel=1e-3)
        assert r.nspots == nspots
        assert np.allclose(r.unit_cell[:3], abc, rtol=1e-3)
        assert r.unit_cell[4] == pytest.approx(beta, abs=0.02)
        assert r.recommended
    top = result.settings[0]
    assert top.crystal.space_group.hm == "P 2 2 2" and top.setting.cb_op == "a,b,c"
    assert top.unit_cell[:3] == pytest.approx((5.43, 8.14, 12.04), rel=0.01)  # README: +-1 % of 5.428 8.141 12.038


def test_l_cysteine_with_fixed_geometry(lcys) -> None:  # type: ignore[no-untyped-def]
    """With beam and detector fixed (the documented default) 17 spots cannot absorb the
    constraint: oP refines to 0.093 mm against 0.040 mm in P1, so only aP is recommended."""
    experiments, reflections = lcys
    result = refine_bravais_settings(experiments, reflections, refinement=_refinement(free_geometry=False))
    assert [r.setting.bravais for r in result.settings] == ["oP", "mP", "mP", "mP", "aP"]
    assert result.settings[-1].rmsd == pytest.approx(0.03994, rel=1e-3)
    assert result.settings[0].rmsd == pytest.approx(0.0929, rel=0.02)
    assert [r.recommended for r in result.settings] == [False, False, False, False, True]


def test_recommendation_rule() -> None:
    assert is_recommended(0.2, 0.059, None, 0.04)  # < 1.5 x
    assert not is_recommended(0.2, 0.061, None, 0.04)
    assert is_recommended(0.2, 0.061, 0.6, 0.04)  # good cc rescues below 0.5 degree
    assert is_recommended(1.0, 0.079, None, 0.04) and not is_recommended(1.0, 0.081, None, 0.04)
    assert is_recommended(1.0, 0.11, 0.8, 0.04) and not is_recommended(1.0, 0.13, 0.8, 0.04)
    assert not is_recommended(0.1, None, None, 0.04)


def test_no_indexed_reflections_is_an_error(lcys) -> None:  # type: ignore[no-untyped-def]
    experiments, reflections = lcys
    table = reflections.copy()
    table["miller_index"] = np.zeros_like(table["miller_index"])
    with pytest.raises(InputDataError, match="no indexed reflections"):
        refine_bravais_settings(experiments, table)


def test_programs_write_settings_and_reindex(shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from braggflow.pipeline.programs import refine_bravais_settings as rbs
    from braggflow.pipeline.programs import reindex

    d = shared_data / LCYS
    monkeypatch.chdir(tmp_path)
    args = [str(d / "indexed_P1.expt"), str(d / "indexed_P1.refl")]
    assert rbs.main([*args, "beam.fix=in_spindle_plane+wavelength", "detector.fix=None"]) == 0
    summary = json.loads(Path("bravais_summary.json").read_text())
    assert sorted(summary) == ["1", "2", "3", "4", "5"] and summary["5"]["bravais"] == "oP" and summary["5"]["recommended"]
    assert read_experiments("bravais_setting_5.expt")[0].crystal.space_group.hm == "P 2 2 2"
    assert "* = recommended solution" in Path("braggflow.refine_bravais_settings.log").read_text()
    assert reindex.main([*args, "change_of_basis_op=b,c,a"]) == 0
    old, new = read_refl(d / "indexed_P1.refl"), read_refl("reindexed.refl")
    assert np.array_equal(new["miller_index"], np.asarray(old["miller_index"])[:, [1, 2, 0]])
    e_old, e_new = read_experiments(d / "indexed_P1.expt")[0].crystal, read_experiments("reindexed.expt")[0].crystal
    assert np.allclose(e_new.A @ np.asarray(new["miller_index"]).T, e_old.A @ np.asarray(old["miller_index"]).T)
    assert reindex.main([*args, "change_of_basis_op=a,b"]) != 0
