"""The one place numba options live (fastmath/parallel need review)."""

from __future__ import annotations

import functools

import numba

jit = functools.partial(numba.njit, cache=True, nogil=True)

__all__ = ["jit"]
