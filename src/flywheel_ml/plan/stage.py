"""The plan stage's verbs: read, change and check the project page."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.identity import current_actor
from flywheel_ml.core.lifecycle import Deliverable
from flywheel_ml.errors import InvalidInputError
from flywheel_ml.plan.entities import Constraint, PageCheck, PageRevision, ProjectPage, Verdict
from flywheel_ml.plan.gates import satisfies
from flywheel_ml.plan.grammar import parse_constraint, parse_objective
from flywheel_ml.plan.store import PlanStore

_TEXT_FIELDS = ("name", "problem", "value", "feasibility", "expectations")
_MAX_TEXT = 20_000


class PlanStage:
    """The project page of one workspace.

    Args:
        store: where revisions are kept.
        default_name: the project name shown before the page is first saved.
    """

    def __init__(self, store: PlanStore, *, default_name: str = "") -> None:
        self._store = store
        self._default_name = default_name

    def get(self) -> ProjectPage:
        """The current project page (an empty page named after the project when never saved)."""
        return self._store.latest_page() or ProjectPage(name=self._default_name)

    def set(
        self,
        *,
        name: str | None = None,
        problem: str | None = None,
        value: str | None = None,
        feasibility: str | None = None,
        expectations: str | None = None,
        objective: str | None = None,
        constraints: Sequence[str] | None = None,
        add_constraints: Sequence[str] = (),
        remove_constraints: Sequence[str] = (),
        references: Sequence[str] | None = None,
        add_references: Sequence[str] = (),
        actor: str | None = None,
    ) -> ProjectPage:
        """Change the given parts of the page and keep the change as a new revision.

        Every argument left as None keeps its current value. ``constraints`` replaces the list;
        ``add_constraints`` adds to it (a constraint on the same metric and operator replaces the
        old one); ``remove_constraints`` removes constraints by metric name. Everything is parsed
        before anything is written, so a bad value changes nothing.

        Raises:
            InvalidInputError: an unknown metric, a malformed constraint or objective, text
                longer than 20,000 characters, or no change asked for at all.
        """
        asked = (name, problem, value, feasibility, expectations, objective, constraints)
        if all(a is None for a in (*asked, references)) and not (
            add_constraints or remove_constraints or add_references
        ):
            raise InvalidInputError(
                "nothing to change on the project page",
                hint="pass at least one part, e.g. --problem '...' (see flywheel plan set --help)",
            )
        texts = {
            "name": name,
            "problem": problem,
            "value": value,
            "feasibility": feasibility,
            "expectations": expectations,
        }
        for key, text in texts.items():
            if text is not None and len(text) > _MAX_TEXT:
                raise InvalidInputError(
                    f"--{key} is {len(text)} characters long", hint=f"keep it under {_MAX_TEXT}"
                )
        parsed_objective = None if objective is None else parse_objective(objective)
        replaced = None if constraints is None else [parse_constraint(c) for c in constraints]
        added = [parse_constraint(c) for c in add_constraints]
        removed = {r.strip() for r in remove_constraints}
        refs = None if references is None else _clean_refs(references)
        more_refs = _clean_refs(add_references)

        def change(page: ProjectPage) -> tuple[ProjectPage, str]:
            updates: dict[str, object] = {k: v for k, v in texts.items() if v is not None}
            if parsed_objective is not None:
                updates["objective"] = parsed_objective
            current = list(page.constraints if replaced is None else replaced)
            current = _merge_constraints(current, added)
            current = [c for c in current if c.metric not in removed and str(c) not in removed]
            updates["constraints"] = tuple(current)
            base_refs = page.references if refs is None else tuple(refs)
            updates["references"] = tuple(dict.fromkeys([*base_refs, *more_refs]))
            new_page = dataclasses.replace(page, **updates)  # type: ignore[arg-type]
            if not new_page.name:
                new_page = dataclasses.replace(new_page, name=self._default_name)
            return new_page, _summarize(page, new_page)

        return self._store.update_page(change, actor=actor or current_actor(), at=utc_now())

    def history(self) -> list[PageRevision]:
        """Every saved revision, oldest first."""
        return self._store.list_revisions()

    def check(self) -> PageCheck:
        """What the page still lacks: required parts in ``missing``, advice in ``warnings``."""
        page = self.get()
        missing = [f for f in ("problem", "value", "feasibility") if not getattr(page, f).strip()]
        if page.objective is None:
            missing.append("objective")
        warnings = []
        if not page.expectations.strip():
            warnings.append("expectations: say what result would count as success")
        if not page.constraints:
            warnings.append(
                "constraints: add satisficing constraints such as 'latency_p95_ms < 10'"
            )
        if not page.references:
            warnings.append("references: cite prior work or a baseline to beat")
        return PageCheck(missing=tuple(missing), warnings=tuple(warnings))

    def satisfies(self, metrics: Mapping[str, float]) -> Verdict:
        """Judge ``metrics`` against the current page (see :func:`flywheel_ml.plan.satisfies`)."""
        return satisfies(self.get(), metrics)

    def deliverables(self) -> tuple[Deliverable, ...]:
        """The plan stage's evidence for ``status``."""
        page = self.get()
        check = self.check()
        if page.revision == 0:
            return (
                Deliverable(
                    "project page",
                    False,
                    next_step="flywheel plan set --problem ... "
                    "--objective 'accuracy max' --constraint 'latency_p95_ms < 10'",
                ),
            )
        evidence = f"revision {page.revision}"
        if page.updated_at is not None:
            evidence += f", {page.updated_at:%Y-%m-%d %H:%M} by {page.updated_by}"
        if page.objective is not None:
            evidence += f"; objective {page.objective}; {len(page.constraints)} constraint(s)"
        if check.complete:
            return (Deliverable("project page", True, evidence=evidence),)
        return (
            Deliverable(
                "project page",
                False,
                evidence=evidence,
                next_step="flywheel plan set --" + " --".join(check.missing) + " ...",
            ),
        )


def _merge_constraints(current: list[Constraint], added: Iterable[Constraint]) -> list[Constraint]:
    for new in added:
        current = [c for c in current if (c.metric, c.op) != (new.metric, new.op)]
        current.append(new)
    return current


def _clean_refs(refs: Iterable[str]) -> list[str]:
    return [r.strip() for r in refs if r.strip()]


def _summarize(old: ProjectPage, new: ProjectPage) -> str:
    changed = [
        f
        for f in (*_TEXT_FIELDS, "objective", "constraints", "references")
        if getattr(old, f) != getattr(new, f)
    ]
    return "changed " + ", ".join(changed) if changed else "no change"
