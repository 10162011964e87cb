"""`braggflow.process` as a declarative plan: stages, their effective parameters, inputs and
outputs, resolved before anything runs, with a manifest so that a finished stage whose
inputs and parameters are unchanged is skipped on the next run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from braggflow.pipeline.atomic import write_text_atomic

MANIFEST = "braggflow.process.manifest.json"
NOT_STAGE_SCOPES = {"input", "output"}


@dataclass(frozen=True)
class Stage:
    """One program run of the plan.

    params_text is the PHIL of the parameters the user changed that belong to this program;
    inputs/outputs are file names in the work folder; `late` marks inputs that are only known
    once an earlier stage has run (the recommended Bravais setting).
    """

    name: str
    program: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params_text: str = ""
    args: tuple[str, ...] = ()
    late: bool = False

    def argv(self, params_file: str | None) -> list[str]:
        return [*self.inputs, *self.args, *([params_file] if params_file else [])]


@dataclass
class Manifest:
    """Fingerprints of finished stages, stored beside the outputs."""

    path: Path
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> "Manifest":
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text())
            stages = data.get("stages", {}) if isinstance(data, dict) else {}
        except (OSError, ValueError):
            stages = {}
        return cls(path=path, stages=stages)

    def is_done(self, stage: Stage, fingerprint: str, folder: Path) -> bool:
        entry = self.stages.get(stage.name)
        return (
            entry is not None
            and entry.get("fingerprint") == fingerprint
            and all((folder / out).exists() for out in stage.outputs)
        )

    def record(self, stage: Stage, fingerprint: str) -> None:
        self.stages[stage.name] = {"fingerprint": fingerprint, "outputs": list(stage.outputs)}
        write_text_atomic(self.path, json.dumps({"stages": self.stages}, indent=2))


def _file_digest(path: Path) -> str:
    """Content hash for experiment/reflection files; size and mtime for images (they are big)."""
    if not path.exists():
        return "missing"
    if path.suffix in (".expt", ".refl", ".json", ".phil"):
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def fingerprint(stage: Stage, folder: Path) -> str:
    h = hashlib.sha256()
    h.update(stage.program.encode())
    h.update(stage.params_text.encode())
    for arg in stage.args:
        h.update(arg.encode())
    for name in stage.inputs:
        h.update(name.encode())
        h.update(_file_digest(folder / name).encode())
    return h.hexdigest()


def top_level_names(master: Any) -> set[str]:
    """Names of a program master's top-level scopes/definitions, minus input/output."""
    return {obj.name for obj in master.objects} - NOT_STAGE_SCOPES


def stage_params_text(diff: Any, names: set[str]) -> str:
    """The part of a fetch_diff scope that belongs to a program with these top-level names."""
    return "".join(obj.as_str() for obj in diff.objects if obj.name in names)


__all__ = ["MANIFEST", "Manifest", "Stage", "fingerprint", "stage_params_text", "top_level_names"]
