"""braggflow.report rendered by headless Chromium (Debian's `chromium` package; skipped when
/usr/bin/chromium is absent): every section and plot is in the rendered DOM, the page logs
nothing to the console (no script errors, no blocked network requests), and the screenshot
is a real image. Two runs: the committed DIALS l-cysteine files (tests/data) and a simulated
sweep (the simulator's `demo` preset, turned into strong/indexed/integrated/scaled tables)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from braggflow.formats.expt_io import read_experiments, write_experiments
from braggflow.formats.refl_io import read_refl, write_refl
from braggflow.model import ExperimentList
from braggflow.model.reflections import Flags, ReflectionTable
from braggflow.pipeline.programs.report import main as report_main

CHROMIUM = Path("/usr/bin/chromium")
SECTIONS = ("inputs", "import", "spotfinding", "indexing", "refinement", "integration", "scaling")


def _chromium(tmp_path: Path, url: str, *extra: str) -> subprocess.CompletedProcess:
    args = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr", "--v=0", "--window-size=1280,4000", *extra, url]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def _console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def _render(tmp_path: Path, html_path: Path) -> tuple[str, list[str], Path]:
    url = html_path.resolve().as_uri()
    dom = _chromium(tmp_path, url, "--dump-dom")
    shot = tmp_path / "screenshot.png"
    pic = _chromium(tmp_path, url, f"--screenshot={shot}")
    return dom.stdout, _console_lines(dom.stderr) + _console_lines(pic.stderr), shot


def _check_rendered(tmp_path: Path, html_path: Path, expected_plots: int) -> None:
    dom, console, shot = _render(tmp_path, html_path)
    for sid in SECTIONS:
        assert re.search(rf'<section[^>]*id="{sid}"', dom), f"section {sid} missing from the rendered page"
    n_svg = len(re.findall(r"<svg\b", dom))
    n_fig = len(re.findall(r'<figure class="plot"', dom))
    assert n_svg == n_fig == expected_plots
    assert console == [], f"the page logged to the console: {console}"
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


@pytest.fixture
def chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)")


def test_console_capture_sees_script_errors(chromium, tmp_path):
    """The check below is not vacuous: a page with a script error is caught."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><script>no_such_function();</script></body></html>")
    _, console, _ = _render(tmp_path, page)
    assert any("no_such_function" in line for line in console)


def _scaled(table: ReflectionTable) -> ReflectionTable:
    out = table.copy()
    z = np.asarray(out["xyzcal.px"])[:, 2]
    d = np.asarray(out["d"])
    g = (1.0 + 0.02 * z) * np.exp(-3.0 / (2 * d**2))
    out["inverse_scale_factor"] = g
    out["intensity.scale.value"] = np.asarray(out["intensity.prf.value"]) / g
    out["intensity.scale.variance"] = np.asarray(out["intensity.prf.variance"]) / g**2
    out.set_flags(np.ones(len(out), dtype=bool), Flags.scaled)
    return out


def test_report_of_committed_dials_files(chromium, tests_data, tmp_path, monkeypatch):
    """The l-cysteine run of tests/data (indexed + integrated, plus a scaled table made from it)
    through the braggflow.report program."""
    monkeypatch.chdir(tmp_path)
    integrated = read_refl(tests_data / "reflections" / "l_cysteine_sweep4_integrated.refl")
    write_refl(_scaled(integrated), tmp_path / "scaled.refl")
    args = [str(tests_data / "experiments" / "l_cysteine_indexed.expt"), str(tests_data / "experiments" / "l_cysteine_integrated.expt"),
            str(tests_data / "experiments" / "l_cysteine_indexed.refl"), str(tests_data / "reflections" / "l_cysteine_sweep4_integrated.refl"),
            "scaled.refl", "output.json=report.json"]
    assert report_main(args) == 0
    html = tmp_path / "braggflow.report.html"
    import json

    plots = sum(len(s["plots"]) for s in json.loads((tmp_path / "report.json").read_text()).values())
    assert plots >= 25
    _check_rendered(tmp_path, html, plots)


def simulated_run(tmp_path: Path) -> tuple[Path, list[Path]]:
    """Files of a small simulated run: experiments plus strong/indexed/integrated/scaled tables
    derived from the simulator's truth (noisy centroids and Poisson intensities)."""
    from braggflow.algorithms.simulate import prepare_simulation, preset
    from braggflow.algorithms.simulate.truth import truth_table

    sim = prepare_simulation(preset("demo"))
    e = sim.experiment
    n_sp = e.scan.num_images + 1
    drift = np.linspace(0.0, 0.002, n_sp)
    crystal = e.crystal.replace(A_at_scan_points=np.array([e.crystal.A * (1 - t) for t in drift]))
    elist = ExperimentList([e.replace(crystal=crystal)])
    truth = truth_table(sim)
    z0, z1 = e.scan.array_range
    truth = truth.select((truth["xyzcal.px"][:, 2] >= z0) & (truth["xyzcal.px"][:, 2] < z1))
    rng = np.random.default_rng(3)
    n = len(truth)
    counts = np.asarray(truth["counts.expected"])
    background = 1.0 + 0.05 * np.asarray(truth["xyzcal.px"])[:, 2]
    observed = rng.poisson(np.maximum(counts, 0)).astype(float)
    variance = observed + 25 * background
    cols = {k: truth[k] for k in ("miller_index", "id", "panel", "s1", "xyzcal.px", "xyzcal.mm", "entering", "d", "zeta", "lp", "partiality")}
    xyzobs = np.asarray(truth["xyzcal.px"]) + rng.normal(0, 0.3, (n, 3))
    strong = observed > 200
    integrated = ReflectionTable({**cols, "xyzobs.px.value": xyzobs, "intensity.sum.value": observed, "intensity.sum.variance": variance,
                                  "intensity.prf.value": observed * 1.01, "intensity.prf.variance": variance * 0.9,
                                  "background.mean": background, "profile.correlation": np.clip(1 - 30 / np.sqrt(observed + 1), 0, 1),
                                  "flags": np.full(n, int(Flags.integrated), dtype=np.uint64)},
                                 experiment_identifiers={0: e.identifier})
    spots = integrated.select(strong)
    flags = np.full(len(spots), int(Flags.strong | Flags.indexed), dtype=np.uint64)
    flags[::2] |= np.uint64(int(Flags.used_in_refinement))
    indexed = ReflectionTable({k: spots[k] for k in ("miller_index", "id", "panel", "s1", "xyzcal.px", "xyzobs.px.value", "entering")},
                              experiment_identifiers={0: e.identifier})
    indexed["flags"] = flags
    indexed["intensity.sum.value"] = spots["intensity.sum.value"]
    unindexed = rng.random(len(indexed)) < 0.1
    mi = np.asarray(indexed["miller_index"]).copy()
    mi[unindexed] = 0
    indexed["miller_index"] = mi
    indexed["rlp"] = (np.asarray(spots["miller_index"]) @ e.crystal.A.T)
    strong_table = indexed.select(np.ones(len(indexed), dtype=bool))
    for name in ("miller_index", "s1", "xyzcal.px", "entering", "rlp"):
        del strong_table[name]
    strong_table["flags"] = np.full(len(strong_table), int(Flags.strong), dtype=np.uint64)
    write_experiments(elist, tmp_path / "sim.expt")
    paths = []
    for name, table in (("strong", strong_table), ("indexed", indexed), ("integrated", integrated), ("scaled", _scaled(integrated))):
        write_refl(table, tmp_path / f"{name}.refl")
        paths.append(tmp_path / f"{name}.refl")
    return tmp_path / "sim.expt", paths


def test_report_of_simulated_run(chromium, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    expt, refls = simulated_run(tmp_path)
    assert report_main([str(expt), *map(str, refls), "output.json=report.json"]) == 0
    html = tmp_path / "braggflow.report.html"
    assert html.stat().st_size < 5_000_000
    import json

    sections = json.loads((tmp_path / "report.json").read_text())
    assert set(sections) == set(SECTIONS[1:])
    assert all(not s["notes"] for s in sections.values()), {k: s["notes"] for k, s in sections.items() if s["notes"]}
    _check_rendered(tmp_path, html, sum(len(s["plots"]) for s in sections.values()))
    assert read_experiments(expt)[0].crystal.num_scan_points == 26
