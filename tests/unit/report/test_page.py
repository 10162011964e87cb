"""The whole page: self-contained, every section present, bad inputs give notes and the rest
of the report is still written."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from braggflow.formats.expt_io import read_experiments
from braggflow.formats.refl_io import read_refl
from braggflow.report.html import table_stage, write_report
from report_test_helpers import fake_scaled

ALL_SECTIONS = ("inputs", "import", "spotfinding", "indexing", "refinement", "integration", "scaling")


def _body_xml(text: str) -> ET.Element:
    body = text[text.index("<body>") : text.index("</body>") + len("</body>")]
    return ET.fromstring(body)


def test_full_report_is_self_contained(lcys, tmp_path):
    integrated_expt, indexed_expt, indexed, integrated = lcys
    path = tmp_path / "r.html"
    sections = write_report(
        [("indexed.expt", indexed_expt), ("integrated.expt", integrated_expt)],
        [("indexed.refl", indexed), ("integrated.refl", integrated), ("scaled.refl", fake_scaled(integrated))],
        path, json_path=tmp_path / "r.json",
    )
    text = path.read_text(encoding="utf-8")
    for sid in ALL_SECTIONS:
        assert f'id="{sid}"' in text
    assert [s.id for s in sections] == list(ALL_SECTIONS[1:])
    assert "<script" not in text
    assert not re.search(r'(src|href)="(https?:|//)', text)  # no external resources
    assert "default-src 'none'" in text  # CSP: the browser may not fetch anything
    body = _body_xml(text)
    assert len(body.findall(".//{http://www.w3.org/2000/svg}svg")) == sum(len(s.plots) for s in sections)
    assert (tmp_path / "r.json").stat().st_size > 100


def test_table_stages(lcys):
    assert table_stage(lcys[2]) == "indexed"
    assert table_stage(lcys[3]) == "integrated"
    assert table_stage(fake_scaled(lcys[3])) == "scaled"


def test_reflections_from_another_experiment_are_flagged(lcys, tests_data, tmp_path):
    """l-cysteine spots with the thaumatin still geometry: a note, geometry plots left out."""
    thaumatin = read_experiments(tests_data / "experiments" / "thau_3_2_0004_indexed.expt")
    path = tmp_path / "r.html"
    sections = write_report([("thau.expt", thaumatin)], [("lcys_indexed.refl", lcys[2])], path)
    by_id = {s.id: s for s in sections}
    assert "do not fit" in by_id["spotfinding"].notes[0]
    assert "spotfinding-per-image" in by_id["spotfinding"].plots  # the rest is still drawn
    assert "spotfinding-positions" not in by_id["spotfinding"].plots
    assert by_id["import"].plots  # the geometry itself is still shown
    assert "do not fit" in path.read_text(encoding="utf-8")


def test_matching_identifiers_pick_the_right_experiments(lcys, tests_data, tmp_path):
    thaumatin = read_experiments(tests_data / "experiments" / "thau_3_2_0004_indexed.expt")
    sections = write_report([("lcys.expt", lcys[1]), ("thau.expt", thaumatin)], [("lcys.refl", lcys[2])], tmp_path / "r.html")
    spots = {s.id: s for s in sections}["spotfinding"]
    assert not spots.notes and "spotfinding-positions" in spots.plots


def test_strong_spots_of_a_still(tests_data, tmp_path):
    expt = read_experiments(tests_data / "experiments" / "thau_3_2_0004_indexed.expt")
    strong = read_refl(tests_data / "reflections" / "thau_3_2_0001_strong.refl")
    sections = write_report(expt, strong, tmp_path / "r.html")
    assert [s.id for s in sections] == ["import", "spotfinding"]
    assert len(sections[1].plots) == 3


def test_a_failing_section_does_not_lose_the_report(lcys, tmp_path, monkeypatch):
    from braggflow.report.html import page

    def boom(*args):  # type: ignore[no-untyped-def]
        raise RuntimeError("kaput")

    monkeypatch.setattr(page, "PLAN", ((boom, ("indexed",), True),) + page.PLAN[1:])
    sections = write_report(lcys[1], lcys[2], tmp_path / "r.html")
    assert "kaput" in sections[1].notes[0]
    assert {"import", "indexing", "refinement"} <= {s.id for s in sections}
