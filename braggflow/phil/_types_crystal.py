"""PHIL types, part 4: space_group and unit_cell, backed by gemmi (iotbx formats)."""

from __future__ import annotations

from typing import Any

from braggflow.errors import ParameterError

from ._types_basic import _Type, _fmt_float, _path, _where
from ._words import Word


class SpaceGroupType(_Type):
    phil_type = "space_group"

    def _from_words(self, words: list[Word], master: Any) -> Any:
        text = " ".join(w.value for w in words)
        return space_group_from_text(text, _path(master), _where(words))

    def _as_words(self, value: Any, master: Any) -> list[Word]:
        import gemmi

        if not isinstance(value, gemmi.SpaceGroup):
            value = space_group_from_text(str(value), _path(master), "")
        return [Word(space_group_symbol(value), '"')]


def space_group_from_text(text: str, path: str, where: str) -> Any:
    import gemmi

    t = text.strip()
    try:
        sg = gemmi.SpaceGroup(t)
    except (ValueError, RuntimeError):
        raise ParameterError(
            f'{path}="{text}" is not a space group symbol or number{where}'
        ) from None
    if ":" not in t and sg.xhm().endswith(":1"):
        # cctbx's default setting for groups with two origin choices is the second one
        try:
            sg = gemmi.SpaceGroup(sg.xhm()[:-2] + ":2")
        except (ValueError, RuntimeError):
            pass
    return sg


def space_group_symbol(sg: Any) -> str:
    """cctbx lookup-symbol style: ``R 3 :H``, ``P 4/n :2``."""
    return sg.xhm().replace(":", " :")


class UnitCellType(_Type):
    phil_type = "unit_cell"

    def _from_words(self, words: list[Word], master: Any) -> Any:
        text = " ".join(w.value for w in words)
        return unit_cell_from_text(text, _path(master), _where(words))

    def _as_words(self, value: Any, master: Any) -> list[Word]:
        params = getattr(value, "parameters", value)
        if isinstance(params, str):
            params = unit_cell_from_text(params, _path(master), "").parameters
        return [Word(_fmt_float(float(p))) for p in params]


def unit_cell_from_text(text: str, path: str, where: str) -> Any:
    import gemmi

    items = text.replace(",", " ").split()
    if not 1 <= len(items) <= 6:
        raise ParameterError(
            f'{path}="{text}" is not a unit cell: give 1 to 6 numbers a b c alpha beta gamma{where}'
        )
    try:
        values = [float(i) for i in items]
    except ValueError:
        raise ParameterError(f'{path}="{text}" is not a unit cell: not a number{where}') from None
    defaults = [1.0, 1.0, 1.0, 90.0, 90.0, 90.0]
    values += defaults[len(values):]
    if any(v <= 0 for v in values[:3]):
        raise ParameterError(f'{path}="{text}": unit cell parameter is zero or negative{where}')
    if any(not 0 < v < 180 for v in values[3:]):
        raise ParameterError(f'{path}="{text}": unit cell angle must be between 0 and 180{where}')
    return gemmi.UnitCell(*values)
