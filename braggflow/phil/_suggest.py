""""Did you mean" hints for unknown parameter names (difflib)."""

from __future__ import annotations

import difflib
from typing import Any


def close_paths(master: Any, path: str, n: int = 3) -> list[str]:
    """Up to ``n`` full master paths close to the (unknown) ``path``."""
    paths = [loc.path for loc in master.all_definitions(suppress_multiple=True)]
    by_leaf: dict[str, list[str]] = {}
    for p in paths:
        by_leaf.setdefault(p.rsplit(".", 1)[-1], []).append(p)
    leaf = path.rsplit(".", 1)[-1]
    found: list[str] = []
    # same words in another order (spot_min -> min_spot_size) come first
    parts = set(leaf.lower().split("_")) - {""}
    for name, full in by_leaf.items():
        if parts and parts <= set(name.lower().split("_")) and name != leaf:
            found.extend(p for p in full if p not in found)
    for name in difflib.get_close_matches(leaf, list(by_leaf), n=n, cutoff=0.6):
        found.extend(p for p in by_leaf[name] if p not in found)
    for p in difflib.get_close_matches(path, paths, n=n, cutoff=0.6):
        if p not in found:
            found.append(p)
    return found[:n]


def did_you_mean(master: Any, path: str, n: int = 3) -> str:
    """``Did you mean: a.b.c, d.e?`` or "" when nothing is close."""
    found = close_paths(master, path, n)
    return f"Did you mean: {', '.join(found)}?" if found else ""
