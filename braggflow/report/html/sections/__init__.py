"""One module per report section; each is a pure function
(experiments, reflections, options) -> Section."""

from braggflow.report.html.sections._common import ReportOptions, Section
from braggflow.report.html.sections.importing import import_section
from braggflow.report.html.sections.indexing import indexing_section
from braggflow.report.html.sections.integration import integration_section
from braggflow.report.html.sections.refinement import refinement_section
from braggflow.report.html.sections.scaling import scaling_section
from braggflow.report.html.sections.spotfinding import spotfinding_section

__all__ = [
    "ReportOptions",
    "Section",
    "import_section",
    "indexing_section",
    "integration_section",
    "refinement_section",
    "scaling_section",
    "spotfinding_section",
]
