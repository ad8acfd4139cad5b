"""Annotators see only their queues: what the team server shows a signed-in annotator of labelling.

On the team server a user whose role is exactly annotator
(:func:`flywheel_ml.core.policy.sees_only_assigned_queues`) reads and answers only the queues
that assign them tasks, by name or to anyone (``*``). Everything else about labelling is cut
out of what they are shown: other queues, other annotators' progress and hard items, other
annotators in the agreement figures, and label events in the activity log that are not theirs.
A queue that is not theirs answers 404 with the same message as a queue that does not exist, so
queue names cannot be probed. Viewers see the overview but may not annotate (the policy table);
scientists and above see every queue; the local UI (nobody signs in) is not scoped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from flywheel_ml.core.access import Principal
from flywheel_ml.core.policy import sees_only_assigned_queues
from flywheel_ml.errors import NotFoundError
from flywheel_ml.label.stage import ANYONE
from flywheel_ml.server import pages


@dataclass(frozen=True, slots=True)
class QueueScope:
    """The queues one annotator may see, and the filters that cut the rest out.

    Attributes:
        user: the signed-in annotator.
        queues: names of the queues that assign them tasks (by name or to ``*``).
    """

    user: str
    queues: frozenset[str]

    def require(self, queue: str) -> None:
        """Nothing when ``queue`` is theirs.

        Raises:
            NotFoundError: the queue is someone else's (worded as for a missing queue).
        """
        if queue not in self.queues:
            raise NotFoundError(f"no queue {queue!r}", hint="see `flywheel label queue list`")

    def mine(self, annotator: str) -> bool:
        """Whether an annotator name on a task or a progress row is this user's (or anyone's)."""
        return annotator in (self.user, ANYONE)

    def label_data(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The label page's data with only this user's queues, progress rows and hard items."""
        queues = [
            {**q, "progress": [p for p in q["progress"] if self.mine(p["annotator"])]}
            for q in data["queues"]
            if q["name"] in self.queues
        ]
        return {
            **data,
            "queues": queues,
            "hard": [h for h in data["hard"] if h["annotator"] == self.user],
            "baseline": self.baseline(data["baseline"]),
        }

    def baseline(self, baseline: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """An agreement record with the other annotators' names and figures removed.

        The whole-team measures (kappa, alpha, mean accuracy) stay: they name nobody.
        """
        if baseline is None:
            return None
        return {
            **baseline,
            "annotators": [a for a in baseline.get("annotators", []) if a == self.user],
            "accuracy": {k: v for k, v in baseline.get("accuracy", {}).items() if k == self.user},
            "support": {k: v for k, v in baseline.get("support", {}).items() if k == self.user},
            "cohen": {},  # every pair names another annotator
        }

    def events(self, events: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """Activity entries without the label events that are not this user's.

        Kept of the label stage: what the user did, changes of the label document, and the
        creation and growth of their own queues; every other stage's events are kept.
        """
        return [e for e in events if e["stage"] != "label" or self._shows(e)]

    def _shows(self, event: Mapping[str, Any]) -> bool:
        kind = str(event["kind"])
        if event["actor"] == self.user or kind.startswith("guide."):
            return True  # their own work, and changes of the label document everyone follows
        return kind.startswith("queue.") and event["subject"] in self.queues


def queue_scope(request: Request) -> QueueScope | None:
    """The scope of the signed-in annotator of ``request``; None when nothing is cut (anyone
    else, or the local UI)."""
    principal = request.scope.get(pages.PRINCIPAL_SCOPE_KEY)
    if not isinstance(principal, Principal) or not sees_only_assigned_queues(principal.role):
        return None
    ws = pages.workspace(request)
    names = frozenset(
        q.name
        for q in ws.label.queues()
        if principal.user in q.annotators or ANYONE in q.annotators
    )
    return QueueScope(user=principal.user, queues=names)
