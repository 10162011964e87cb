"""Assemble the sections into one self-contained HTML page (inline CSS, inline SVG, no script,
a Content-Security-Policy that forbids any network access) and write it."""

from __future__ import annotations

import datetime
import html
import json
import os
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from braggflow import __version__
from braggflow.report.html.inputs import ReportInputs, describe, normalise_inputs
from braggflow.report.html.sections import (
    import_section, indexing_section, integration_section, refinement_section, scaling_section, spotfinding_section,
)
from braggflow.report.html.sections._common import ReportOptions, Section, SectionBuilder

__all__ = ["build_sections", "render_page", "write_report", "write_json"]

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#fafafa;line-height:1.4}
header{background:#24415f;color:#fff;padding:12px 24px}header h1{margin:0;font-size:1.5em}header p{margin:4px 0 0;font-size:.9em;opacity:.85}
nav#toc{padding:8px 24px;background:#eef2f6;border-bottom:1px solid #d0d7de}nav#toc ol{margin:4px 0;padding-left:20px;columns:2}
main{padding:8px 24px;max-width:1400px}
section.report-section{background:#fff;border:1px solid #d0d7de;border-radius:6px;margin:16px 0;padding:8px 16px}
section.report-section h2{margin:6px 0 10px;font-size:1.25em;color:#24415f}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:12px}
figure.plot{margin:0;border:1px solid #eee;padding:4px;background:#fff;break-inside:avoid}
figure.plot svg{width:100%;height:auto;display:block}
figcaption{font-size:.82em;color:#555;padding:2px 4px}
table.kv{border-collapse:collapse;margin:6px 12px 10px 0;font-size:.9em;display:inline-table;vertical-align:top}
table.kv th,table.kv td{border:1px solid #ddd;padding:2px 8px;text-align:left}table.kv th{background:#f4f6f8;font-weight:600}
table.kv caption{text-align:left;font-weight:600;padding:2px 0}
p.note{background:#fff4e5;border-left:4px solid #f0a030;padding:4px 8px;margin:6px 0;font-size:.9em}
p.info{background:#eef6ff;border-left:4px solid #5b9bd5;padding:4px 8px;margin:6px 0;font-size:.9em}
@media print{body{background:#fff}nav#toc{display:none}header{background:#fff;color:#000;border-bottom:2px solid #000}
section.report-section{border:none;break-before:page;padding:0}section.report-section:first-of-type{break-before:auto}
.plots{grid-template-columns:1fr 1fr}}
"""

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

SectionFunction = Callable[..., Section]


def write_text_atomic(path: str | Path, text: str) -> None:
    """UTF-8 text to `path` through a temporary file in the same folder and a rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise

# (section function, stage of the table it reads, pick the first (True) or last (False) such table)
PLAN: tuple[tuple[SectionFunction, tuple[str, ...], bool], ...] = (
    (spotfinding_section, ("strong", "indexed"), True),
    (indexing_section, ("indexed",), True),
    (refinement_section, ("indexed",), False),
    (integration_section, ("integrated", "scaled"), True),
    (scaling_section, ("scaled",), True),
)
_STAGE_WORDS = {"strong": "spot-finding", "indexed": "indexed", "integrated": "integrated", "scaled": "scaled"}


def _safe(func: SectionFunction, section_id: str, title: str, *args: object) -> Section:
    try:
        return func(*args)
    except Exception as exc:  # noqa: BLE001 - one broken plot must not lose the whole report
        b = SectionBuilder(section_id, title)
        b.note(f"This section could not be drawn ({type(exc).__name__}: {exc}); please report it.")
        section = b.build()
        section.data["traceback"] = traceback.format_exc()
        return section


def _pick(inputs: ReportInputs, stages: tuple[str, ...], first: bool) -> tuple[str, object] | None:
    for stage in stages:
        tables = inputs.tables(stage)
        if tables:
            return tables[0] if first else tables[-1]
    return None


def build_sections(inputs: ReportInputs, options: ReportOptions | None = None) -> tuple[list[Section], list[str]]:
    """(sections that the inputs allow, sentences about the sections left out)."""
    options = options or ReportOptions()
    sections: list[Section] = []
    skipped: list[str] = []
    main = inputs.main_experiments()
    if main is not None:
        sections.append(_safe(import_section, "import", "Import: experimental geometry", main[1], None, options))
    else:
        skipped.append("Not in this report: import (no experiment list, .expt, given).")
    for func, stages, first in PLAN:
        section_id = func.__name__.replace("_section", "")
        picked = _pick(inputs, stages, first)
        needs_experiments_only = func is refinement_section and main is not None and any(
            e.crystal is not None and e.crystal.num_scan_points > 1 for e in main[1])
        if picked is None and not needs_experiments_only:
            skipped.append(f"Not in this report: {section_id} (no {' or '.join(_STAGE_WORDS[s] for s in stages)} reflection table given).")
            continue
        name, table, elist, remark = None, None, (main[1] if main else None), ""
        if picked is not None:
            name, table = picked
            _, elist, remark = inputs.experiments_for(table)  # type: ignore[arg-type]
        section = _safe(func, section_id, section_id.title(), elist, table, options)
        _prefix(section, name, remark, elist is None)
        sections.append(section)
    return sections, skipped


def _prefix(section: Section, table_name: str | None, remark: str, no_geometry: bool) -> None:
    parts = []
    if table_name:
        parts.append(f'<p class="info">Reflections from {html.escape(table_name)}.</p>')
    if remark and no_geometry:
        text = f"{table_name}: {remark}; plots that need the geometry are left out."
        section.notes.insert(0, text)
        parts.append(f'<p class="note">{html.escape(text)}</p>')
    elif remark:
        parts.append(f'<p class="info">{html.escape(f"{table_name}: {remark}.")}</p>')
    section.html = "\n".join(parts + [section.html])


def _section_html(s: Section) -> str:
    """Runs of consecutive figures go into a grid; everything keeps its order."""
    out, in_grid = [], False
    for part in s.html.split("\n"):
        is_figure = part.startswith('<figure class="plot"')
        if is_figure and not in_grid:
            out.append('<div class="plots">')
        elif not is_figure and in_grid:
            out.append("</div>")
        in_grid = is_figure
        out.append(part)
    if in_grid:
        out.append("</div>")
    return f'<section class="report-section" id="{s.id}"><h2>{html.escape(s.title)}</h2>{"".join(out)}</section>'


def render_page(sections: list[Section], inputs: ReportInputs, skipped: list[str], title: str = "braggflow report") -> str:
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    toc = "".join(f'<li><a href="#{s.id}">{html.escape(s.title)}</a>{" (notes)" if s.notes else ""}</li>' for s in sections)
    rows = "".join(f"<tr><th>{html.escape(n)}</th><td>{html.escape(d)}</td></tr>" for n, d in describe(inputs))
    left_out = "".join(f'<p class="note">{html.escape(t)}</p>' for t in skipped)
    overview = (f'<section class="report-section" id="inputs"><h2>Inputs</h2><table class="kv">{rows}</table>{left_out}</section>')
    body = "".join(_section_html(s) for s in sections)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>'
        f"<style>{CSS}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1><p>braggflow {__version__}, {stamp}</p></header>"
        f'<nav id="toc"><strong>Contents</strong><ol><li><a href="#inputs">Inputs</a></li>{toc}</ol></nav>'
        f"<main>{overview}{body}</main></body></html>\n"
    )


def write_json(sections: list[Section], path: str | Path) -> None:
    doc = {s.id: {"title": s.title, "notes": s.notes, "plots": s.plots, "data": s.data} for s in sections}
    write_text_atomic(path, json.dumps(doc, indent=1, default=str))


def write_report(experiments, reflections, path: str | Path = "braggflow.report.html",  # type: ignore[no-untyped-def]
                 options: ReportOptions | None = None, json_path: str | Path | None = None,
                 notes: Sequence[str] = ()) -> list[Section]:
    """Write the HTML report of the given experiments and reflection tables; returns the sections.

    experiments / reflections: an ExperimentList / ReflectionTable, a sequence of them, a
    sequence of (name, object) pairs or a name -> object mapping (names appear in the report).
    notes: extra sentences for the Inputs section (e.g. files that could not be read).
    """
    inputs = normalise_inputs(experiments, reflections)
    sections, skipped = build_sections(inputs, options)
    write_text_atomic(path, render_page(sections, inputs, list(notes) + skipped))
    if json_path:
        write_json(sections, json_path)
    return sections
