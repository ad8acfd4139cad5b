"""The project page and the pieces it is made of."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from flywheel_ml.plan.metrics import Direction

Op = Literal["<", "<=", ">", ">=", "=="]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": lambda a, b: math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12),
}


@dataclass(frozen=True, slots=True)
class Objective:
    """The one metric the project optimises, and whether higher or lower is better."""

    metric: str
    direction: Direction

    def __str__(self) -> str:
        return f"{self.metric} {self.direction}"

    def better(self, a: float, b: float) -> bool:
        """Whether value ``a`` is strictly better than ``b``."""
        return a > b if self.direction == "max" else a < b


@dataclass(frozen=True, slots=True)
class Constraint:
    """A satisficing constraint: ``metric op value``, e.g. ``latency_p95_ms < 10``."""

    metric: str
    op: Op
    value: float

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"

    def holds(self, measured: float) -> bool:
        """Whether a measured value meets the constraint (NaN never does)."""
        return not math.isnan(measured) and _OPS[self.op](measured, self.value)


@dataclass(frozen=True, slots=True)
class ProjectPage:
    """The project page: what problem, what value, is it feasible, what must the model reach.

    ``revision`` counts the saved changes (0 for a page never saved).
    """

    name: str = ""
    problem: str = ""
    value: str = ""
    feasibility: str = ""
    expectations: str = ""
    objective: Objective | None = None
    constraints: tuple[Constraint, ...] = ()
    references: tuple[str, ...] = ()
    revision: int = 0
    updated_at: datetime | None = None
    updated_by: str = ""


@dataclass(frozen=True, slots=True)
class PageRevision:
    """One saved change of the project page: the page after it, who, when and what changed."""

    revision: int
    page: ProjectPage
    summary: str
    changed_at: datetime
    changed_by: str


@dataclass(frozen=True, slots=True)
class ConstraintCheck:
    """One constraint against a measured value; ``measured`` is None when it was not measured."""

    constraint: Constraint
    measured: float | None

    @property
    def passed(self) -> bool:
        """Whether the value was measured and meets the constraint."""
        return self.measured is not None and self.constraint.holds(self.measured)


@dataclass(frozen=True, slots=True)
class Verdict:
    """How a set of metrics stands against the project page.

    Attributes:
        objective: the objective, or None when the page has none.
        objective_value: the measured objective, or None when it was not measured.
        checks: one check per constraint, in page order.
    """

    objective: Objective | None
    objective_value: float | None
    checks: tuple[ConstraintCheck, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        """Whether every constraint was measured and met."""
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> tuple[ConstraintCheck, ...]:
        """The constraints measured and not met."""
        return tuple(c for c in self.checks if c.measured is not None and not c.passed)

    @property
    def unmeasured(self) -> tuple[Constraint, ...]:
        """The constraints with no measured value."""
        return tuple(c.constraint for c in self.checks if c.measured is None)


@dataclass(frozen=True, slots=True)
class PageCheck:
    """Whether the project page is complete: the missing required parts and advisory warnings."""

    missing: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """Whether nothing required is missing."""
        return not self.missing
