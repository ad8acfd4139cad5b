"""Quality checks of a version against its parent's recorded schema and facts.

One function per kind of finding; :func:`run_checks` runs them all. Errors (a vanished column, a
changed type, test items duplicated in train, empty files) fail ``data check``; the rest are
warnings worth reading in the data document.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from flywheel_ml.data.entities import Finding

SHIFT_THRESHOLD = 0.1
"""Total variation distance between label distributions above which a shift is reported."""

Facts = Mapping[str, Any]


def run_checks(
    facts: Facts, parent: Facts | None, *, leaked: Sequence[str] = ()
) -> tuple[Finding, ...]:
    """Every finding for a version with ``facts``, compared with ``parent`` facts when given.

    Args:
        leaked: ids of items whose exact content also occurs in another split.
    """
    findings = [
        *_schema_changes(facts, parent),
        *_missing_values(facts, parent),
        *_out_of_range(facts, parent),
        *_categories(facts, parent),
        *_duplicates(facts),
        *_leakage(leaked),
        *_label_shift(facts, parent),
        *_empty_files(facts),
    ]
    return tuple(findings)


def _columns(facts: Facts | None) -> Mapping[str, Any]:
    if facts is None:
        return {}
    columns: Mapping[str, Any] = facts.get("schema", {}).get("columns", {})
    return columns


def _schema_changes(facts: Facts, parent: Facts | None) -> Iterator[Finding]:
    if parent is None:
        return
    new, old = _columns(facts), _columns(parent)
    for name in old:
        if name not in new:
            yield Finding("schema", "error", f"column {name!r} vanished")
    for name, info in new.items():
        if name not in old:
            yield Finding("schema", "warning", f"new column {name!r} ({info['type']})")
        elif info["type"] != old[name]["type"] and {info["type"], old[name]["type"]} != {
            "integer",
            "float",
        }:
            yield Finding(
                "schema",
                "error",
                f"column {name!r} changed type from {old[name]['type']} to {info['type']}",
            )


def _missing_values(facts: Facts, parent: Facts | None) -> Iterator[Finding]:
    old = _columns(parent)
    for name, info in _columns(facts).items():
        rate = info.get("null_rate", 0.0)
        before = old.get(name, {}).get("null_rate", 0.0)
        if rate > 0 and (before == 0 or rate > before + 0.01):
            was = f" (was {before:.1%})" if name in old else ""
            yield Finding("missing values", "warning", f"{name!r}: {rate:.1%} missing{was}")


def _out_of_range(facts: Facts, parent: Facts | None) -> Iterator[Finding]:
    old = _columns(parent)
    for name, info in _columns(facts).items():
        before = old.get(name, {})
        if info.get("type") not in {"integer", "float"} or "min" not in before:
            continue
        if info.get("min") is not None and info["min"] < before["min"]:
            yield Finding(
                "out of range",
                "warning",
                f"{name!r}: minimum {info['min']:g} below the parent's {before['min']:g}",
            )
        if info.get("max") is not None and info["max"] > before["max"]:
            yield Finding(
                "out of range",
                "warning",
                f"{name!r}: maximum {info['max']:g} above the parent's {before['max']:g}",
            )


def _categories(facts: Facts, parent: Facts | None) -> Iterator[Finding]:
    old = _columns(parent)
    for name, info in _columns(facts).items():
        if "categories" not in info or "categories" not in old.get(name, {}):
            continue
        if info.get("type") != "text":
            continue
        new_cats = set(info["categories"]) - set(old[name]["categories"])
        gone = set(old[name]["categories"]) - set(info["categories"])
        if new_cats:
            yield Finding("categories", "warning", f"{name!r}: new {_few(new_cats)}")
        if gone:
            yield Finding("categories", "warning", f"{name!r}: vanished {_few(gone)}")


def _duplicates(facts: Facts) -> Iterator[Finding]:
    count = int(facts.get("duplicate_rows", 0))
    if count:
        yield Finding(
            "duplicates", "warning", f"{count} item(s) repeat another item's content (other id)"
        )


def _leakage(leaked: Sequence[str]) -> Iterator[Finding]:
    if leaked:
        yield Finding(
            "leakage",
            "error",
            f"{len(leaked)} item(s) have an exact duplicate in another split, e.g. {_few(leaked)}",
        )


def _label_shift(facts: Facts, parent: Facts | None) -> Iterator[Finding]:
    if parent is None:
        return
    new, old = facts.get("labels", {}), parent.get("labels", {})
    total_new, total_old = sum(new.values()), sum(old.values())
    if not total_new or not total_old:
        return
    distance = 0.5 * sum(
        abs(new.get(k, 0) / total_new - old.get(k, 0) / total_old) for k in {*new, *old}
    )
    if distance > SHIFT_THRESHOLD:
        yield Finding(
            "label shift",
            "warning",
            f"label distribution moved by {distance:.2f} (total variation) since the parent",
        )


def _empty_files(facts: Facts) -> Iterator[Finding]:
    empty = int(facts.get("schema", {}).get("empty_files", 0))
    if empty:
        yield Finding("empty files", "error", f"{empty} empty file(s)")


def _few(values: Sequence[str] | set[str]) -> str:
    shown = sorted(str(v) for v in values)
    text = ", ".join(repr(v) for v in shown[:5])
    return text + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")
