"""The label document as text: YAML to edit, parsed and checked into a :class:`Guide`.

```yaml
kind: class            # class | multi | span
classes:
  - name: "7"
    definition: A seven; a crossed stem still counts.
    positive: [digit-0007]
    negative: [digit-0001]
hard_cases:
  - A 1 with a long flag is a 1, not a 7.
notes: Label what is written, not what was meant.
```
"""

from __future__ import annotations

from typing import Any

import yaml

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.label.entities import Guide, GuideClass

KINDS = ("class", "multi", "span")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise InvalidInputError(f"{where} must be a list of strings", hint="e.g. [a, b]")
    return tuple(str(v) for v in value)


def parse_guide(text: str) -> tuple[tuple[GuideClass, ...], str, tuple[str, ...], str]:
    """``(classes, kind, hard_cases, notes)`` of a YAML label document.

    Raises:
        InvalidInputError: not YAML, an unknown kind, a class without a name, duplicate names.
    """
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise InvalidInputError(
            f"the label document is not valid YAML: {exc}", hint="fix the YAML and try again"
        ) from None
    if not isinstance(data, dict):
        raise InvalidInputError(
            "the label document must be a YAML mapping", hint="start with `classes:`"
        )
    unknown = set(data) - {"kind", "classes", "hard_cases", "notes"}
    if unknown:
        raise InvalidInputError(
            f"unknown keys in the label document: {sorted(unknown)}",
            hint="use kind, classes, hard_cases and notes",
        )
    kind = str(data.get("kind") or "class")
    if kind not in KINDS:
        raise InvalidInputError(f"unknown kind {kind!r}", hint="use class, multi or span")
    classes = []
    for i, given in enumerate(data.get("classes") or []):
        entry = {"name": given} if isinstance(given, str | int) else given
        if not isinstance(entry, dict) or entry.get("name") in (None, ""):
            raise InvalidInputError(f"class #{i + 1} has no name", hint="give each a `name:`")
        classes.append(
            GuideClass(
                name=str(entry["name"]),
                definition=str(entry.get("definition") or ""),
                positive=_strings(entry.get("positive"), f"positive of {entry['name']}"),
                negative=_strings(entry.get("negative"), f"negative of {entry['name']}"),
            )
        )
    names = [c.name for c in classes]
    if len(set(names)) != len(names):
        raise InvalidInputError(
            "class names repeat in the label document", hint="give each class once"
        )
    hard = _strings(data.get("hard_cases"), "hard_cases")
    return tuple(classes), kind, hard, str(data.get("notes") or "")


def render_guide(guide: Guide | None) -> str:
    """The YAML text of a guide (a commented template when there is none yet)."""
    if guide is None:
        return (
            "# The label document: classes with definitions and example item ids.\n"
            "kind: class\nclasses:\n  - name: positive\n    definition: ''\n"
            "    positive: []\n    negative: []\nhard_cases: []\nnotes: ''\n"
        )
    data = {
        "kind": guide.kind,
        "classes": [
            {
                "name": c.name,
                "definition": c.definition,
                "positive": list(c.positive),
                "negative": list(c.negative),
            }
            for c in guide.classes
        ],
        "hard_cases": list(guide.hard_cases),
        "notes": guide.notes,
    }
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def guide_json(guide: Guide) -> dict[str, Any]:
    """A guide as JSON data."""
    return {
        "version": guide.version,
        "kind": guide.kind,
        "author": guide.author,
        "created_at": guide.created_at,
        "notes": guide.notes,
        "hard_cases": list(guide.hard_cases),
        "classes": [
            {
                "name": c.name,
                "definition": c.definition,
                "positive": list(c.positive),
                "negative": list(c.negative),
            }
            for c in guide.classes
        ],
    }


def guide_from_json(data: dict[str, Any]) -> tuple[GuideClass, ...]:
    """The classes of a guide stored as JSON data."""
    return tuple(
        GuideClass(
            str(c["name"]),
            str(c.get("definition", "")),
            tuple(c.get("positive", ())),
            tuple(c.get("negative", ())),
        )
        for c in data.get("classes", [])
    )
