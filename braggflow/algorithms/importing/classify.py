"""Read the header of every input image: format class, models, template and image number."""

from __future__ import annotations

import os
from dataclasses import dataclass

from braggflow.errors import InputDataError
from braggflow.formats.base import ImageModels, find_format
from braggflow.formats.template import template_from_path


@dataclass(frozen=True)
class ImageRecord:
    """One input file after its header was read.

    image_number is the number in the file name (1 if none); for multi-frame files (HDF5)
    the record covers all frames and `models.scan` their full range.
    """

    path: str
    format_name: str
    template: str
    image_number: int
    models: ImageModels
    multi_frame: bool = False

    @property
    def is_still(self) -> bool:
        scan = self.models.scan
        return scan is None or scan.oscillation_width_deg == 0.0


def classify_file(path: str) -> ImageRecord:
    """Identify `path` and read its models; InputDataError names the file on any failure."""
    path = os.path.abspath(path)
    fmt = find_format(path)
    try:
        models = fmt.experiment_models(path)
    except InputDataError:
        raise
    except (ValueError, KeyError, IndexError, OSError) as exc:
        raise InputDataError(path, f"unreadable {fmt.name()} header ({type(exc).__name__}: {exc})") from None
    template, number = template_from_path(path)
    if fmt.multi_frame:
        template, number = path, 1
    return ImageRecord(path, fmt.name(), template, 1 if number is None else number, models, fmt.multi_frame)


def classify_files(paths: list[str], *, ignore_unknown: bool = False) -> tuple[list[ImageRecord], list[str]]:
    """(records, skipped paths). Unknown formats raise unless `ignore_unknown` (directories)."""
    records, skipped = [], []
    for path in paths:
        try:
            records.append(classify_file(path))
        except InputDataError as exc:
            if ignore_unknown and "unknown image format" in exc.problem:
                skipped.append(path)
                continue
            raise
    return records, skipped


__all__ = ["ImageRecord", "classify_file", "classify_files"]
