"""The one exception hierarchy of braggflow.

Every message starts with the thing (a parameter path or file), says what is wrong, then
how to fix it. Anything that is not a BraggflowError reaching the CLI is a bug.
"""

from __future__ import annotations


class BraggflowError(Exception):
    """Base class of every error a user may see; carries the process exit code."""

    exit_code = 1


class UsageError(BraggflowError):
    """Bad command line: unknown argument, unknown kind of file."""

    exit_code = 2


class PhilError(UsageError):
    """braggflow.phil's public error (libtbx calls it Sorry)."""


class PhilSyntaxError(PhilError):
    """PHIL text that does not parse: carries source and line."""


class ParameterError(PhilError):
    """A parameter path or value that is wrong: unknown, ambiguous, wrong type, out of range."""


class InputDataError(BraggflowError):
    """A data file that is missing, unreadable or inconsistent."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class StageFailed(BraggflowError):
    """A processing stage could not produce a result (e.g. no lattice found)."""


__all__ = [
    "BraggflowError",
    "UsageError",
    "PhilError",
    "PhilSyntaxError",
    "ParameterError",
    "InputDataError",
    "StageFailed",
]
