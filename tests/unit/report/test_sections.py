"""Each section on real DIALS files: its plots are there; a missing column gives a note that
names it and the other plots are still drawn."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np

from braggflow.report.html.sections import (
    ReportOptions, import_section, indexing_section, integration_section, refinement_section, scaling_section,
    spotfinding_section,
)
from report_test_helpers import fake_scaled


def _parses(section):  # type: ignore[no-untyped-def]
    ET.fromstring(f"<div>{section.html}</div>")  # every fragment is well-formed XML (XHTML-compatible)
    return section


def _without(table, *names):  # type: ignore[no-untyped-def]
    out = table.copy()
    for name in names:
        del out[name]
    return out


def test_import_section_geometry_and_detector(lcys):
    integrated_expt = lcys[0]
    s = _parses(import_section(integrated_expt))
    assert s.plots == ["import-detector-0"]
    assert "0.68890" in s.html and "P 21 21 21" in s.html  # wavelength, space group
    assert "beam centre" in s.html and not s.notes


def test_import_section_without_experiments_says_so():
    s = import_section(None)
    assert not s.plots and "no experiment list" in s.notes[0]


def test_spotfinding_plots_and_ice_rings(lcys):
    _, indexed_expt, indexed, _ = lcys
    s = _parses(spotfinding_section(indexed_expt, indexed))
    assert s.plots == ["spotfinding-per-image", "spotfinding-positions", "spotfinding-resolution"]
    assert sum(s.data["per-image"]["n_spots"]) == len(indexed)
    assert s.html.count('fill="#9ecae1"') >= 10  # ice bands drawn on the resolution histogram


def test_spotfinding_without_geometry_keeps_per_image_plot(lcys):
    s = spotfinding_section(None, lcys[2])
    assert "spotfinding-per-image" in s.plots and "spotfinding-positions" not in s.plots
    assert any("geometry" in n for n in s.notes)


def test_spotfinding_density_map_above_max_points(lcys):
    s = spotfinding_section(lcys[1], lcys[2], ReportOptions(max_scatter_points=5, pixels_per_bin=50))
    assert "data:image/png;base64," in s.html


def test_indexing_section(lcys):
    _, indexed_expt, indexed, _ = lcys
    s = _parses(indexing_section(indexed_expt, indexed))
    assert s.plots == ["indexing-fraction", "indexing-unindexed", "indexing-rlp-a", "indexing-rlp-b", "indexing-rlp-c"]
    n_indexed = int((np.any(indexed["miller_index"] != 0, axis=1) & (indexed["id"] >= 0)).sum())
    assert f"indexed ({n_indexed})" in s.html


def test_indexing_lattice_views_from_xyzobs_when_rlp_missing(lcys):
    _, indexed_expt, indexed, _ = lcys
    with_rlp = indexing_section(indexed_expt, indexed)
    without = indexing_section(indexed_expt, _without(indexed, "rlp"))
    assert "indexing-rlp-c" in without.plots and not without.notes
    assert with_rlp.html.count("M") > 0 and without.html.count("h0") == with_rlp.html.count("h0")


def test_indexing_needs_miller_index(lcys):
    s = indexing_section(lcys[1], _without(lcys[2], "miller_index"))
    assert not s.plots and "miller_index" in s.notes[0]


def test_refinement_rmsd_and_scan_varying(lcys):
    integrated_expt, _, indexed, _ = lcys
    s = _parses(refinement_section(integrated_expt, indexed))
    assert "refinement-rmsd" in s.plots and "refinement-cell-lengths-0" in s.plots and "refinement-orientation-0" in s.plots
    rmsd = s.data["rmsd"]
    assert len(rmsd["image"]) >= 10 and np.nanmax(np.array(rmsd["rmsd_x_px"], dtype=float)) < 2.0  # DIALS-refined: sub-pixel
    assert len(s.data["cell-lengths-0"]["frame"]) == 16  # 15 images -> 16 scan points


def test_refinement_missing_xyzcal_still_draws_scan_varying(lcys):
    s = refinement_section(lcys[0], _without(lcys[2], "xyzcal.px"))
    assert "refinement-rmsd" not in s.plots and "refinement-cell-volume-0" in s.plots
    assert "xyzcal.px" in s.notes[0]


def test_integration_section(lcys):
    integrated_expt, _, _, integrated = lcys
    s = _parses(integration_section(integrated_expt, integrated))
    for key in ("isigma-resolution", "ccprf-resolution", "isigma-image", "background-image", "profile"):
        assert f"integration-{key}" in s.plots
    assert not s.notes
    assert abs(s.data["profile"]["sigma_b_deg"] - 0.043481) < 1e-5


def test_integration_missing_columns_are_named(lcys):
    integrated_expt, _, _, integrated = lcys
    s = integration_section(integrated_expt, _without(integrated, "background.mean", "intensity.prf.value"))
    assert any("background.mean" in n for n in s.notes)
    assert any("intensity.prf" in n for n in s.notes)
    assert "integration-isigma-resolution" in s.plots and "integration-profile" in s.plots


def test_scaling_section_needs_scaled_data(lcys):
    s = scaling_section(lcys[0], lcys[3])
    assert not s.plots and "inverse_scale_factor" in s.notes[0]


def test_scaling_section_from_scale_columns(lcys):
    integrated_expt, _, _, integrated = lcys
    s = _parses(scaling_section(integrated_expt, fake_scaled(integrated, b_factor=-5.0), ReportOptions(n_resolution_bins=2)))
    for key in ("scale-batch", "cc-half", "completeness", "multiplicity", "isigma", "wilson", "anomalous"):
        assert f"scaling-{key}" in s.plots
    assert "scaling-b-batch" in s.plots
