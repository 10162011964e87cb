"""Export of integrated / scaled reflections (dials.export): unmerged MTZ through gemmi."""

from .filtering import FilterOptions, FilterReport, choose_intensities, filter_for_export
from .mtz import default_hklout, export_mtz, read_mtz_summary, write_mtz
from .params import ExportParams, MmcifParams, MtzParams
from .result import BatchHeader, MtzColumn, MtzExportResult, MtzSummary

__all__ = [
    "BatchHeader",
    "ExportParams",
    "FilterOptions",
    "FilterReport",
    "MmcifParams",
    "MtzColumn",
    "MtzExportResult",
    "MtzParams",
    "MtzSummary",
    "choose_intensities",
    "default_hklout",
    "export_mtz",
    "filter_for_export",
    "read_mtz_summary",
    "write_mtz",
]
