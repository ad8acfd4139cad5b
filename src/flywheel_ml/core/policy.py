"""The one policy table of the team server: the lowest role allowed on each route.

A route is named by its HTTP method and its path template exactly as the app declares it
(``GET /api/v1/registry/models/{name}``), so a rule cannot be dodged by spelling a path
differently: the server first finds the route a request matches, then looks the route up here.
Anything not listed is denied to every role (admin included) — a new endpoint answers 403 in team
mode until a line is added below. ``HEAD`` follows ``GET``.

Who may do what: every role reads the project (viewer); downloading run artifacts (model bytes,
data files) needs scientist; annotating (the queue pages and answers) needs annotator, and an
annotator sees only the queues assigned to them (:func:`sees_only_assigned_queues`); changing
what is live (promote, rollback) needs lead.
"""

from __future__ import annotations

from flywheel_ml.core.access import Role

PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/static"),
        ("GET", "/static/vendor/plotly.min.js"),
        ("GET", "/login"),
        ("POST", "/login"),
        ("POST", "/logout"),
    }
)
"""Routes answered without a token: probes, static files, and signing in and out."""

_V, _A, _S, _L = Role.VIEWER, Role.ANNOTATOR, Role.SCIENTIST, Role.LEAD

POLICY: dict[tuple[str, str], Role] = {
    # the dashboard, activity, operations
    ("GET", "/"): _V,
    ("GET", "/ui/activity"): _V,
    ("GET", "/api/v1/dashboard"): _V,
    ("GET", "/api/v1/status"): _V,
    ("GET", "/api/v1/activity"): _V,
    ("GET", "/api/v1/openapi.json"): _V,
    ("GET", "/metrics"): _V,
    # plan
    ("GET", "/ui/plan"): _V,
    ("GET", "/api/v1/plan"): _V,
    # data
    ("GET", "/ui/data"): _V,
    ("GET", "/ui/data/diff"): _V,
    ("GET", "/ui/data/audit"): _V,
    ("GET", "/ui/data/versions/{ref}"): _V,
    ("GET", "/ui/data/documents/{name}"): _V,
    ("GET", "/api/v1/data"): _V,
    ("GET", "/api/v1/data/diff"): _V,
    ("GET", "/api/v1/data/audit"): _V,
    ("GET", "/api/v1/data/versions/{ref}"): _V,
    ("GET", "/api/v1/data/documents/{name}"): _V,
    # track
    ("GET", "/ui/track"): _V,
    ("GET", "/ui/track/compare"): _V,
    ("GET", "/ui/track/leaderboard"): _V,
    ("GET", "/ui/track/runs/{run_id}"): _V,
    ("GET", "/ui/track/runs/{run_id}/artifacts/{name:path}"): _S,
    ("GET", "/api/v1/track/runs"): _V,
    ("GET", "/api/v1/track/compare"): _V,
    ("GET", "/api/v1/track/leaderboard"): _V,
    ("GET", "/api/v1/track/runs/{run_id}"): _V,
    ("GET", "/api/v1/track/runs/{run_id}/metrics/{key:path}"): _V,
    # registry
    ("GET", "/ui/registry"): _V,
    ("GET", "/ui/registry/models/{name}"): _V,
    ("GET", "/ui/registry/versions/{ref}"): _V,
    ("GET", "/ui/registry/cards/{ref}"): _V,
    ("GET", "/api/v1/registry"): _V,
    ("GET", "/api/v1/registry/models/{name}"): _V,
    ("GET", "/api/v1/registry/versions/{ref}"): _V,
    ("GET", "/api/v1/registry/cards/{ref}"): _V,
    ("GET", "/ui/registry/readiness"): _V,
    ("GET", "/ui/registry/readiness/{ref}"): _V,
    ("GET", "/api/v1/registry/readiness/{ref}"): _V,
    # serve: reading is open to all, changing what is live needs a lead
    ("GET", "/ui/serve"): _V,
    ("GET", "/ui/serve/{model}"): _V,
    ("GET", "/ui/serve/{model}/{action}"): _L,
    ("POST", "/ui/serve/{model}/{action}"): _L,
    ("GET", "/api/v1/serve"): _V,
    ("GET", "/api/v1/serve/{model}"): _V,
    ("POST", "/api/v1/serve/{model}/{action}"): _L,
    # label: everyone sees progress and agreement; annotating needs an annotator, who answers
    # as the signed-in user (server/routes/label.py takes the actor from the token)
    ("GET", "/ui/label"): _V,
    ("GET", "/api/v1/label"): _V,
    ("GET", "/api/v1/label/agreement"): _V,
    ("GET", "/ui/label/queues/{queue}"): _A,
    ("POST", "/ui/label/queues/{queue}"): _A,
    ("GET", "/api/v1/label/queues/{queue}/next"): _A,
    ("POST", "/api/v1/label/queues/{queue}/answer"): _A,
    # an item's file (an image, a text) for the annotation page: annotators get the items of
    # their own queues only (server/routes/label.py); viewers read no data files
    ("GET", "/api/v1/label/items/{version}/{item}"): _A,
    # analyze
    ("GET", "/ui/analyze"): _V,
    ("GET", "/ui/analyze/reports/{name}"): _V,
    ("GET", "/api/v1/analyze/{ref}"): _V,
    # monitor
    ("GET", "/ui/monitor"): _V,
    ("GET", "/api/v1/monitor"): _V,
    # tune
    ("GET", "/ui/tune"): _V,
    ("GET", "/api/v1/tune"): _V,
}


def is_public(method: str, template: str) -> bool:
    """Whether ``method template`` is answered without authentication."""
    verb = method.upper()
    return ("GET" if verb == "HEAD" else verb, template) in PUBLIC_ROUTES


def required_role(method: str, template: str) -> Role | None:
    """The lowest role allowed to call ``method template``; None when no rule names it (deny)."""
    verb = method.upper()
    if verb == "HEAD":
        verb = "GET"
    return POLICY.get((verb, template))


def sees_only_assigned_queues(role: Role) -> bool:
    """Whether ``role`` sees only the label queues that assign it tasks (annotators do).

    An annotator may be an outside contractor: they read and answer their own queues only and
    see nothing of other annotators' queues, progress or answers (``server/queue_scope.py``).
    """
    return role == Role.ANNOTATOR


def allows(role: Role, method: str, template: str) -> bool:
    """Whether ``role`` may call ``method template`` (False for routes missing from the table)."""
    needed = required_role(method, template)
    return needed is not None and role >= needed
