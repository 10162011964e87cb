"""Experiment and ExperimentList: the models of one sweep (or still) tied together."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field

from braggflow.model.beam import Beam
from braggflow.model.crystal import Crystal
from braggflow.model.detector import Detector
from braggflow.model.goniometer import Goniometer
from braggflow.model.scan import Scan


@dataclass(frozen=True, eq=False)
class ProfileModel:
    """Gaussian reciprocal-space profile (DIALS `gaussian_rs`); sigmas in degrees."""

    sigma_b_deg: float
    sigma_m_deg: float
    n_sigma: float = 3.0


@dataclass(frozen=True, eq=False)
class ImageSetRef:
    """Where the images are: a template (`####` = image number) or an explicit list.

    kind is "ImageSequence" (rotation sweep) or "ImageSet" (stills). For HDF5 the template
    is the master file and single_file_indices the 0-based frames used.
    format_name is braggflow's format class name (None: detect from the file).
    """

    kind: str = "ImageSequence"
    template: str | None = None
    paths: tuple[str, ...] = ()
    single_file_indices: tuple[int, ...] | None = None
    mask: str | None = None
    format_name: str | None = None
    params: dict = field(default_factory=lambda: {"dynamic_shadowing": False, "multi_panel": False})


def new_identifier() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, eq=False)
class Experiment:
    beam: Beam | None = None
    detector: Detector | None = None
    goniometer: Goniometer | None = None
    scan: Scan | None = None
    crystal: Crystal | None = None
    profile: ProfileModel | None = None
    imageset: ImageSetRef | None = None
    identifier: str = field(default_factory=new_identifier)
    scaling_model: dict | None = None

    def replace(self, **changes: object) -> "Experiment":
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        parts = [name for name in ("beam", "detector", "goniometer", "scan", "crystal", "profile") if getattr(self, name) is not None]
        return f"<Experiment {self.identifier[:8]} with {', '.join(parts)}>"


class ExperimentList(list):
    """A list of Experiment; models shared between experiments are shared objects."""

    def identifiers(self) -> list[str]:
        return [e.identifier for e in self]

    def crystals(self) -> list[Crystal]:
        return _unique(e.crystal for e in self)

    def beams(self) -> list[Beam]:
        return _unique(e.beam for e in self)

    def detectors(self) -> list[Detector]:
        return _unique(e.detector for e in self)

    def __repr__(self) -> str:
        return f"<ExperimentList {len(self)} experiment(s)>"


def _unique(items):  # type: ignore[no-untyped-def]
    seen: list = []
    for item in items:
        if item is not None and not any(item is s for s in seen):
            seen.append(item)
    return seen


__all__ = ["Experiment", "ExperimentList", "ImageSetRef", "ProfileModel", "new_identifier"]
