"""Autoindexing of strong spots (DIALS dials.index science): see index.index."""

from braggflow.algorithms.indexing.index import IndexingResult, index
from braggflow.algorithms.indexing.params import IndexingParams, from_phil

__all__ = ["IndexingParams", "IndexingResult", "from_phil", "index"]
