"""Change of basis of experiments and reflections (DIALS reindex)."""

from braggflow.algorithms.reindex.reindex import (
    check_cell_compatible,
    check_reflections_match,
    parse_change_of_basis,
    reindex_crystal,
    reindex_experiments,
    reindex_miller_indices,
    reindex_reflections,
    symmetrise_crystal,
)

__all__ = [
    "check_cell_compatible",
    "check_reflections_match",
    "parse_change_of_basis",
    "reindex_crystal",
    "reindex_experiments",
    "reindex_miller_indices",
    "reindex_reflections",
    "symmetrise_crystal",
]
