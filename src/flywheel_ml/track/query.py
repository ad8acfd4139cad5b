"""The run filter grammar shared by the SDK, the CLI, the REST API and the UI.

A filter is clauses joined by ``and``::

    metrics.val_accuracy > 0.9 and params.C < 10 and tags.kind = baseline
    min(metrics.loss) < 0.05 and status = finished and dataset = digits@v2
    started >= 2026-11-01 and name ~ baseline

=====================  ===========================================  ======================
field                  meaning                                      operators
=====================  ===========================================  ======================
``metrics.NAME``       latest value (highest step)                  ``= != < <= > >=``
``min(metrics.NAME)``  smallest / largest value ever logged         ``= != < <= > >=``
``params.NAME``        a parameter (numbers compare numerically)    all; ``~`` contains
``tags.NAME``          a tag                                        ``= != ~``
``status``             running, finished, failed, killed, crashed   ``= !=``
``name`` / ``user``    the run's name / who started it              ``= != ~``
``dataset``            ``name`` (any version) or ``name@vN``        ``= !=``
``started``/``ended``  a date ``YYYY-MM-DD`` or ISO time (UTC)      ``= != < <= > >=``
=====================  ===========================================  ======================

Values are numbers, quoted strings (``'a b'``) or bare words. A run without the metric,
parameter or tag never matches a comparison on it (also not ``!=``).

Sorting: ``order_by`` is a field, ``-`` in front for descending (``-metrics.val_accuracy``,
``started``, ``params.C``); runs without the value sort last either way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, cast

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.track.entities import RUN_STATUSES
from flywheel_ml.track.names import check_name

Field = Literal["metric", "param", "tag", "status", "name", "user", "dataset", "started", "ended"]
Agg = Literal["last", "min", "max"]
Op = Literal["=", "!=", "<", "<=", ">", ">=", "~"]
Value = str | float | datetime

_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<op><=|>=|!=|==|=|<|>|~)
      | (?P<lparen>\()
      | (?P<rparen>\))
      | '(?P<sq>[^']*)'
      | "(?P<dq>[^"]*)"
      | (?P<word>[^\s()<>=!~'"]+)
    )""",
    re.VERBOSE,
)
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_SIMPLE_FIELDS: dict[str, Field] = {
    "status": "status",
    "name": "name",
    "user": "user",
    "dataset": "dataset",
    "started": "started",
    "ended": "ended",
}
_PREFIXES: dict[str, Field] = {"metrics.": "metric", "params.": "param", "tags.": "tag"}
_TEXT_OPS = frozenset({"=", "!=", "~"})
_ORDER_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
_HINT = (
    "write clauses like 'metrics.val_accuracy > 0.9 and params.C < 10 and status = finished' "
    "(fields: metrics.X, min(metrics.X), max(metrics.X), params.X, tags.X, status, name, user, "
    "dataset, started, ended)"
)


@dataclass(frozen=True, slots=True)
class FieldRef:
    """What a clause or a sort key looks at: ``field``, the name for metrics/params/tags, the
    aggregate for metrics."""

    field: Field
    key: str = ""
    agg: Agg = "last"

    def __str__(self) -> str:
        if self.field == "metric":
            text = f"metrics.{self.key}"
            return text if self.agg == "last" else f"{self.agg}({text})"
        if self.field in ("param", "tag"):
            return f"{self.field}s.{self.key}"
        return self.field


@dataclass(frozen=True, slots=True)
class Clause:
    """``ref op value``; ``value`` is a float, a string or an aware UTC datetime."""

    ref: FieldRef
    op: Op
    value: Value


@dataclass(frozen=True, slots=True)
class OrderKey:
    """Sort by ``ref``, descending when ``descending``."""

    ref: FieldRef
    descending: bool = False


@dataclass(frozen=True, slots=True)
class RunQuery:
    """A parsed filter with sorting and a page window."""

    clauses: tuple[Clause, ...] = ()
    order: OrderKey | None = None
    limit: int | None = None
    offset: int = 0
    include_deleted: bool = False
    only_deleted: bool = False


def parse_query(
    where: str | None = None,
    *,
    order_by: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    include_deleted: bool = False,
    only_deleted: bool = False,
) -> RunQuery:
    """Parse a filter and a sort key into a :class:`RunQuery`.

    Raises:
        InvalidInputError: malformed filter or sort key, an unknown status, a bad date, a
            negative limit or offset.

    >>> q = parse_query("metrics.val_accuracy > 0.9 and params.C < 10", order_by="-metrics.f1")
    >>> [str(c.ref) for c in q.clauses], q.order.descending
    (['metrics.val_accuracy', 'params.C'], True)
    """
    if limit is not None and limit < 0:
        raise InvalidInputError(f"limit must be >= 0, not {limit}", hint="e.g. --limit 50")
    if offset < 0:
        raise InvalidInputError(f"offset must be >= 0, not {offset}", hint="e.g. --offset 50")
    clauses = _parse_where(where) if where and where.strip() else ()
    order = parse_order(order_by) if order_by and order_by.strip() else None
    return RunQuery(
        clauses=clauses,
        order=order,
        limit=limit,
        offset=offset,
        include_deleted=include_deleted or only_deleted,
        only_deleted=only_deleted,
    )


def parse_order(text: str) -> OrderKey:
    """Parse a sort key such as ``-metrics.val_accuracy`` or ``started``.

    Raises:
        InvalidInputError: not a known field.
    """
    text = text.strip()
    descending = text.startswith("-")
    body = text.lstrip("+-").strip()
    tokens = _tokenize(body, body)
    ref, rest = _parse_ref(tokens, body)
    if rest:
        raise InvalidInputError(f"malformed sort key {text!r}", hint="e.g. -metrics.val_accuracy")
    return OrderKey(ref=ref, descending=descending)


def _tokenize(text: str, whole: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None or match.end() == pos:
            raise InvalidInputError(f"cannot read {text[pos:]!r} in {whole!r}", hint=_HINT)
        kind = cast(str, match.lastgroup)
        value = match.group(kind)
        tokens.append(("str" if kind in ("sq", "dq") else kind, value))
        pos = match.end()
    return tokens


def _parse_where(text: str) -> tuple[Clause, ...]:
    tokens = _tokenize(text, text)
    clauses: list[Clause] = []
    while True:
        ref, tokens = _parse_ref(tokens, text)
        if not tokens or tokens[0][0] != "op":
            raise InvalidInputError(f"expected an operator after {ref} in {text!r}", hint=_HINT)
        op = "=" if tokens[0][1] == "==" else tokens[0][1]
        if len(tokens) < 2 or tokens[1][0] not in ("word", "str"):
            raise InvalidInputError(f"expected a value after {ref} {op} in {text!r}", hint=_HINT)
        clauses.append(_clause(ref, cast(Op, op), tokens[1], text))
        tokens = tokens[2:]
        if not tokens:
            return tuple(clauses)
        if tokens[0] != ("word", tokens[0][1]) or tokens[0][1].lower() != "and":
            raise InvalidInputError(
                f"expected 'and' before {tokens[0][1]!r} in {text!r}",
                hint="clauses are joined with 'and' (there is no 'or')",
            )
        tokens = tokens[1:]


def _parse_ref(tokens: list[tuple[str, str]], text: str) -> tuple[FieldRef, list[tuple[str, str]]]:
    if not tokens or tokens[0][0] != "word":
        raise InvalidInputError(f"expected a field in {text!r}", hint=_HINT)
    word = tokens[0][1]
    lowered = word.lower()
    if lowered in ("min", "max") and len(tokens) >= 4 and tokens[1][0] == "lparen":
        inner, close = tokens[2], tokens[3]
        if inner[0] != "word" or not inner[1].startswith("metrics.") or close[0] != "rparen":
            raise InvalidInputError(
                f"{word}(...) takes one metric, e.g. {word}(metrics.loss), in {text!r}", hint=_HINT
            )
        key = check_name(inner[1][len("metrics.") :], what="metric")
        return FieldRef("metric", key, cast(Agg, lowered)), tokens[4:]
    for prefix, field in _PREFIXES.items():
        if word.startswith(prefix):
            key = check_name(word[len(prefix) :], what=field)
            return FieldRef(field, key), tokens[1:]
    if lowered in _SIMPLE_FIELDS:
        return FieldRef(_SIMPLE_FIELDS[lowered]), tokens[1:]
    raise InvalidInputError(f"unknown field {word!r} in {text!r}", hint=_HINT)


def _clause(ref: FieldRef, op: Op, token: tuple[str, str], text: str) -> Clause:
    kind, raw = token
    field = ref.field
    if field in ("metric", "started", "ended") and op not in _ORDER_OPS:
        raise InvalidInputError(f"operator {op} does not apply to {ref}", hint="use = != < <= > >=")
    if field in ("tag", "status", "name", "user", "dataset") and op not in _TEXT_OPS:
        raise InvalidInputError(f"operator {op} does not apply to {ref}", hint="use =, != or ~")
    if field == "metric":
        if kind != "word" or not _NUMBER_RE.match(raw):
            raise InvalidInputError(f"{ref} compares with a number, not {raw!r}", hint=_HINT)
        return Clause(ref, op, float(raw))
    if field in ("started", "ended"):
        return Clause(ref, op, parse_when(raw))
    if field == "status":
        if raw not in RUN_STATUSES or op == "~":
            raise InvalidInputError(
                f"unknown run status {raw!r} in {text!r}", hint=f"use one of {list(RUN_STATUSES)}"
            )
        return Clause(ref, op, raw)
    if field == "param" and kind == "word" and _NUMBER_RE.match(raw):
        return Clause(ref, op, float(raw))
    if field == "param" and op not in _TEXT_OPS:
        raise InvalidInputError(
            f"{ref} {op} needs a number, not {raw!r}", hint="text parameters take =, != or ~"
        )
    return Clause(ref, op, raw)


def parse_when(text: str) -> datetime:
    """Parse ``YYYY-MM-DD`` or an ISO time into an aware UTC datetime (naive means UTC).

    Raises:
        InvalidInputError: not a date.
    """
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(
            f"not a date: {text!r}", hint="write YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC)"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
