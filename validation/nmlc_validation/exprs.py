"""Safe evaluation of analytic expressions in specs (``expression`` expectations).

Only arithmetic, comparisons inside ``where``, numeric constants, names and a fixed set of numpy functions
are accepted, so a spec can never run arbitrary code.
"""
from __future__ import annotations

import ast
from typing import Any, Mapping

import numpy as np

FUNCTIONS: dict[str, Any] = {
    "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tanh": np.tanh,
    "abs": np.abs, "minimum": np.minimum, "maximum": np.maximum, "where": np.where,
    "heaviside": lambda x: np.heaviside(x, 1.0), "expm1": np.expm1,
}
CONSTANTS: dict[str, float] = {"pi": float(np.pi), "e": float(np.e)}

_BINOPS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide, ast.Pow: np.power}
_CMPOPS = {ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal}


class ExpressionError(Exception):
    """An expression that cannot be parsed or evaluated; the message says why."""


def parse_expression(text: str) -> ast.Expression:
    """Parse and whitelist-check ``text``; raise :class:`ExpressionError` on anything not allowed."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse expression {text!r}: {exc.msg}") from None
    for node in ast.walk(tree):
        if isinstance(node, (ast.Expression, ast.Load, ast.Name, ast.BinOp, ast.UnaryOp, ast.USub, ast.UAdd,
                             ast.Compare)) or type(node) in _BINOPS or type(node) in _CMPOPS:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            continue
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
                name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                raise ExpressionError(f"function '{name}' is not allowed in expressions "
                                      f"(allowed: {', '.join(sorted(FUNCTIONS))})")
            continue
        raise ExpressionError(f"'{ast.unparse(node) if isinstance(node, ast.expr) else type(node).__name__}' "
                              f"is not allowed in expressions (use arithmetic, names and {', '.join(sorted(FUNCTIONS))})")
    return tree


def free_names(text: str) -> set[str]:
    """Names an expression needs from outside (functions and ``pi``/``e`` excluded)."""
    tree = parse_expression(text)
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - called - set(CONSTANTS)


def evaluate(text: str, names: Mapping[str, Any]) -> np.ndarray:
    """Evaluate ``text`` with ``names`` (arrays broadcast); raise :class:`ExpressionError` for unknown names."""
    tree = parse_expression(text)
    env = {**CONSTANTS, **names}

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in env:
                raise ExpressionError(f"unknown name '{node.id}' in expression {text!r}")
            return env[node.id]
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp):
            val = ev(node.operand)
            return -val if isinstance(node.op, ast.USub) else val
        if isinstance(node, ast.Compare):
            if len(node.ops) != 1:
                raise ExpressionError("chained comparisons are not supported; use where(a < b, ...)")
            return _CMPOPS[type(node.ops[0])](ev(node.left), ev(node.comparators[0]))
        if isinstance(node, ast.Call):
            return FUNCTIONS[node.func.id](*[ev(a) for a in node.args])  # type: ignore[union-attr]
        raise ExpressionError(f"unsupported expression element {type(node).__name__}")

    with np.errstate(all="ignore"):
        try:
            return np.asarray(ev(tree), dtype=float)
        except (TypeError, ValueError) as exc:
            raise ExpressionError(f"cannot evaluate {text!r}: {exc}") from None
