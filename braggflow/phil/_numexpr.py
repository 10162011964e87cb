"""A small arithmetic evaluator for PHIL numbers (never ``eval``), spec §3.5."""

from __future__ import annotations

import ast
import math
import operator
from typing import Any

_BINOPS: dict[type, Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Any] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_NAMES = {k: v for k, v in vars(math).items() if not k.startswith("_")}


class NumericError(Exception):
    """Carries the ``Kind: detail`` tail of the libtbx message."""


def evaluate(text: str) -> Any:
    """Evaluate a numeric expression; raises NumericError with a libtbx-like tail.

    The result may be a non-number (tuple, complex); callers check the type.
    """
    try:
        return int(text)
    except ValueError:
        pass
    if len(text) > 10_000:
        raise NumericError("SyntaxError: expression too long")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise NumericError("SyntaxError: invalid syntax (line 1)") from None
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, deep nesting
        raise NumericError(f"SyntaxError: {type(exc).__name__}") from None
    try:
        value = _eval(tree.body)
    except NumericError:
        raise
    except (ArithmeticError, ValueError, TypeError, RecursionError) as exc:
        raise NumericError(f"{type(exc).__name__}: {exc}") from None
    return value


def _eval(node: ast.AST) -> Any:
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_eval(e) for e in node.elts)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (int, float, complex)) and not isinstance(node.value, bool):
            return node.value
        raise NumericError(f"TypeError: not a number: {node.value!r}")
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            _check_pow(left, right)
        elif isinstance(node.op, ast.Mult):
            _check_size(left, right)
        return _BINOPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Name):
        if node.id in _NAMES and not callable(_NAMES[node.id]):
            return _NAMES[node.id]
        if node.id in _NAMES:
            raise NumericError(f"TypeError: {node.id} is a function")
        raise NumericError(f"NameError: name '{node.id}' is not defined")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        func = _NAMES.get(node.func.id)
        if func is None or not callable(func):
            raise NumericError(f"NameError: name '{node.func.id}' is not defined")
        return func(*[_eval(a) for a in node.args])
    raise NumericError("SyntaxError: unsupported expression")


def _check_pow(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int) and abs(left) > 1:
        if right * max(left.bit_length(), 1) > 100_000:
            raise NumericError("OverflowError: integer too large")


def _check_size(left: Any, right: Any) -> None:
    if isinstance(left, tuple) or isinstance(right, tuple):
        raise NumericError("TypeError: cannot multiply sequences")
