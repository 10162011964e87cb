"""Shared fixtures: where test data lives, and skips for optional reference tools."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

TESTS_DATA = Path(__file__).parent / "data"
# The team's shared data folder sits beside the repository on developer and CI machines;
# a user's fresh clone does not have it, so tests that need it skip.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def tests_data() -> Path:
    """Small files committed under tests/data (see tests/data/README.md)."""
    return TESTS_DATA


@pytest.fixture
def shared_data() -> Path:
    """The real-data folder ../shared/data; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present on this machine")
    return SHARED_DATA


@pytest.fixture
def dials_available() -> None:
    """Skip unless DIALS (dials.import) is on PATH or in /usr/bin."""
    if shutil.which("dials.import") is None and not Path("/usr/bin/dials.import").exists():
        pytest.skip("DIALS is not installed (apt-get install dials)")
