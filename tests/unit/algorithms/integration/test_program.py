"""braggflow.integrate on a tiny simulated sweep: files written, tables shown, bad input."""

from __future__ import annotations

import numpy as np

from braggflow.algorithms.simulate.params import with_overrides
from braggflow.algorithms.simulate.presets import preset
from braggflow.formats.refl_io import read_refl, write_refl
from braggflow.model.reflections import Flags, ReflectionTable
from braggflow.pipeline.programs.integrate import main
from braggflow.pipeline.programs.simulate import simulate_to_directory


def test_integrate_program_writes_outputs_and_tables(tmp_path, monkeypatch, capsys):
    simulate_to_directory(with_overrides(preset("small_256"), {"scan.num_images": 6}), tmp_path)
    truth = read_refl(tmp_path / "truth.refl")
    strong = truth.select(truth["counts.expected"] > np.median(truth["counts.expected"]))
    write_refl(ReflectionTable({"miller_index": strong["miller_index"], "id": strong["id"],
                                "xyzobs.px.value": strong["xyzcal.px"],
                                "flags": np.full(len(strong), int(Flags.indexed), np.uint64)},
                               experiment_identifiers=truth.experiment_identifiers), tmp_path / "indexed.refl")
    monkeypatch.chdir(tmp_path)
    assert main(["truth.expt", "indexed.refl", "nproc=1"]) == 0
    out = capsys.readouterr().out
    assert "Summary of integration results for the whole dataset" in out
    table = read_refl(tmp_path / "integrated.refl")
    assert table.get_flags(Flags.integrated_sum).sum() > 50
    assert (tmp_path / "integrated.expt").exists()
    assert main(["truth.expt", "indexed.refl", "block.size=-1"]) != 0  # a clear error, not a traceback
    assert "integration.block.size" in capsys.readouterr().err
