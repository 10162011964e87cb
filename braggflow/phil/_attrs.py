"""Attribute names of definitions and scopes, in print order, and their value kinds."""

from __future__ import annotations

DEFINITION_ATTRIBUTES = (
    "help",
    "caption",
    "short_caption",
    "optional",
    "type",
    "multiple",
    "input_size",
    "style",
    "expert_level",
    "deprecated",
    "alias",
)
SCOPE_ATTRIBUTES = (
    "style",
    "help",
    "caption",
    "short_caption",
    "optional",
    "call",
    "multiple",
    "sequential_format",
    "disable_add",
    "disable_delete",
    "expert_level",
    "alias",
)

BOOL_ATTRIBUTES = frozenset(
    ("optional", "multiple", "deprecated", "disable_add", "disable_delete")
)
INT_ATTRIBUTES = frozenset(("input_size", "expert_level"))
STRING_ATTRIBUTES = frozenset(
    ("help", "caption", "short_caption", "style", "alias", "call", "sequential_format")
)
