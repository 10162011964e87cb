"""Import: identify image files, group them into sweeps and stills, apply geometry overrides."""

from braggflow.algorithms.importing.classify import ImageRecord, classify_file, classify_files
from braggflow.algorithms.importing.overrides import GeometryOverrides, apply_overrides
from braggflow.algorithms.importing.sweeps import Group, Tolerances, build_experiments, group_into_sweeps, summarise

__all__ = [
    "GeometryOverrides",
    "Group",
    "ImageRecord",
    "Tolerances",
    "apply_overrides",
    "build_experiments",
    "classify_file",
    "classify_files",
    "group_into_sweeps",
    "summarise",
]
