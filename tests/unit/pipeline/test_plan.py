"""Process plan: per-stage parameters, manifest skipping, late resolution of the Bravais step."""

from __future__ import annotations

import json

import pytest

from braggflow import phil
from braggflow.errors import StageFailed
from braggflow.pipeline.plan import Manifest, Stage, fingerprint, stage_params_text
from braggflow.pipeline.programs.process import recommended_setting, resolve_late

MASTER = phil.parse(
    """
spotfinder { filter { min_spot_size = 3
  .type = int } }
indexing { method = *fft3d fft1d
  .type = choice }
"""
)


def test_stage_params_text_keeps_only_the_stage_scopes():
    working = MASTER.fetch(sources=[phil.parse("spotfinder.filter.min_spot_size=5\nindexing.method=fft1d")])
    diff = MASTER.fetch_diff(source=working)
    text = stage_params_text(diff, {"spotfinder"})
    assert "min_spot_size = 5" in text and "indexing" not in text


def test_manifest_skips_only_unchanged_stages(tmp_path):
    (tmp_path / "imported.expt").write_text("{}")
    stage = Stage("find_spots", "find_spots", ("imported.expt",), ("strong.refl",), "a = 1\n")
    manifest = Manifest.load(tmp_path)
    fp = fingerprint(stage, tmp_path)
    assert not manifest.is_done(stage, fp, tmp_path)
    (tmp_path / "strong.refl").write_text("x")
    manifest.record(stage, fp)
    again = Manifest.load(tmp_path)
    assert again.is_done(stage, fingerprint(stage, tmp_path), tmp_path)
    changed = Stage("find_spots", "find_spots", ("imported.expt",), ("strong.refl",), "a = 2\n")
    assert not again.is_done(changed, fingerprint(changed, tmp_path), tmp_path)
    (tmp_path / "imported.expt").write_text('{"changed": 1}')
    assert not again.is_done(stage, fingerprint(stage, tmp_path), tmp_path)
    (tmp_path / "imported.expt").write_text("{}")
    (tmp_path / "strong.refl").unlink()
    assert not again.is_done(stage, fingerprint(stage, tmp_path), tmp_path)


def test_late_stages_take_the_recommended_setting(tmp_path):
    summary = {
        "1": {"recommended": True, "cb_op": "a,b,c", "bravais": "aP"},
        "5": {"recommended": True, "cb_op": "b,c,a", "bravais": "oP"},
        "6": {"recommended": False, "cb_op": "a,b,c", "bravais": "tP"},
    }
    (tmp_path / "bravais_summary.json").write_text(json.dumps(summary))
    assert recommended_setting(tmp_path) == (5, "b,c,a")
    reindex = resolve_late(Stage("reindex", "reindex", ("indexed.refl",), ("reindexed.refl",), late=True), tmp_path)
    assert reindex.args == ("change_of_basis_op=b,c,a",)
    refine = resolve_late(
        Stage("refine", "refine", ("bravais_setting_<recommended>.expt", "reindexed.refl"), ("refined.expt",), late=True),
        tmp_path,
    )
    assert refine.inputs[0] == "bravais_setting_5.expt"


def test_no_recommended_setting_is_a_stage_failure(tmp_path):
    (tmp_path / "bravais_summary.json").write_text(json.dumps({"1": {"recommended": False, "cb_op": "a,b,c"}}))
    with pytest.raises(StageFailed, match="no Bravais setting is recommended"):
        recommended_setting(tmp_path)
