"""Slices: named filters such as ``hour >= 20 or hour < 6``, evaluated on any version.

The filter language is a small, safe subset of Python expressions, evaluated column-wise on a
DataFrame: column names, numbers, strings, ``True``/``False``/``None``, comparisons (chained too),
``in``/``not in`` a list, ``and``/``or``/``not``, and ``+ - * / %``. Nothing else (no calls, no
attributes), so a stored slice can never run code.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from flywheel_ml.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_ARITH: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}


def parse_where(where: str, *, columns: Collection[str] | None = None) -> ast.Expression:
    """Parse and validate a filter; with ``columns``, every name must be one of them.

    Raises:
        InvalidInputError: a syntax error, a construct outside the filter language, or an
            unknown column.
    """
    try:
        tree = ast.parse(where.strip(), mode="eval")
    except SyntaxError as exc:
        raise InvalidInputError(
            f"cannot parse the filter {where!r}: {exc.msg}",
            hint="write e.g. \"hour >= 20 or hour < 6\" or \"country in ['DE', 'FR']\"",
        ) from None
    allowed = (
        ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub,
        ast.Compare, ast.BinOp, ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple,
        ast.In, ast.NotIn, *_COMPARE, *_ARITH,
    )  # fmt: skip
    for node in ast.walk(tree):
        if not isinstance(node, allowed):
            raise InvalidInputError(
                f"the filter {where!r} uses {type(node).__name__}, which filters do not allow",
                hint="use column names, constants, comparisons, in [...], and/or/not, + - * / %",
            )
        if isinstance(node, ast.Name) and columns is not None and node.id not in columns:
            raise InvalidInputError(
                f"the filter {where!r} names {node.id!r}, which is not a column",
                hint=f"columns: {', '.join(sorted(columns)[:20])}",
            )
    return tree


def evaluate(where: str, frame: pd.DataFrame) -> pd.Series:
    """The boolean mask of the rows of ``frame`` that the filter selects (missing values: no).

    Raises:
        InvalidInputError: the filter is invalid or names a column ``frame`` lacks.
    """
    import pandas as pd

    tree = parse_where(where, columns=[str(c) for c in frame.columns])
    try:
        result = _eval(tree.body, frame)
    except TypeError as exc:
        raise InvalidInputError(
            f"cannot evaluate the filter {where!r}: {exc}",
            hint="compare numbers with numbers and text with text",
        ) from None
    if not isinstance(result, pd.Series):
        return pd.Series(bool(result), index=frame.index)
    return result.fillna(False).astype(bool)


def _eval(node: ast.expr, frame: pd.DataFrame) -> Any:
    handler = _HANDLERS.get(type(node))
    if handler is None:
        raise TypeError(f"unsupported expression {type(node).__name__}")
    return handler(node, frame)


def _bool_op(node: Any, frame: pd.DataFrame) -> Any:
    values = [_eval(v, frame) for v in node.values]
    combined = values[0]
    for value in values[1:]:
        combined = (combined & value) if isinstance(node.op, ast.And) else (combined | value)
    return combined


def _unary(node: Any, frame: pd.DataFrame) -> Any:
    operand = _eval(node.operand, frame)
    return ~operand if isinstance(node.op, ast.Not) else -operand


def _compare(node: ast.Compare, frame: pd.DataFrame) -> Any:
    left = _eval(node.left, frame)
    result: Any = None
    for op, right_node in zip(node.ops, node.comparators, strict=True):
        right = _eval(right_node, frame)
        if isinstance(op, ast.In | ast.NotIn):
            mask = left.isin(right) if hasattr(left, "isin") else left in right
            value = ~mask if isinstance(op, ast.NotIn) else mask
        else:
            value = _COMPARE[type(op)](left, right)
        result = value if result is None else (result & value)
        left = right
    return result


_HANDLERS: dict[type[ast.expr], Callable[[Any, pd.DataFrame], Any]] = {
    ast.Name: lambda node, frame: frame[node.id],
    ast.Constant: lambda node, _frame: node.value,
    ast.List: lambda node, frame: [_eval(e, frame) for e in node.elts],
    ast.Tuple: lambda node, frame: [_eval(e, frame) for e in node.elts],
    ast.BoolOp: _bool_op,
    ast.UnaryOp: _unary,
    ast.BinOp: lambda node, frame: _ARITH[type(node.op)](
        _eval(node.left, frame), _eval(node.right, frame)
    ),
    ast.Compare: _compare,
}
