"""braggflow.report: one self-contained HTML file with the plots crystallographers look at
(geometry, spot finding, indexing, refinement, integration, scaling)."""

from braggflow.report.html.inputs import ReportInputs, normalise_inputs, table_stage
from braggflow.report.html.page import build_sections, render_page, write_json, write_report
from braggflow.report.html.sections import ReportOptions, Section

__all__ = [
    "ReportInputs",
    "ReportOptions",
    "Section",
    "build_sections",
    "normalise_inputs",
    "render_page",
    "table_stage",
    "write_json",
    "write_report",
]
