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

# The store API (``/api/v1/stores/{store}/{method}``) that the REST client backend calls: one
# route per store method, each with its own rule. Reading the project's records is a viewer's
# (annotations included: the status of the label stage is computed from them; data files are
# object bytes, a scientist's); who annotates which queue, delayed production labels and writing
# are a scientist's; what changes the project for everyone (the page, the split policy, aliases,
# deletions of versions, what is live, gateways) is a lead's. Annotators answer through their
# queue routes above.
STORE_ROLES: dict[str, dict[str, Role]] = {
    "plan": {"latest_page": _V, "list_revisions": _V, "update_page": _L},
    "data": {
        **dict.fromkeys(
            ("get_dataset", "list_datasets", "list_versions", "latest_version", "get_version",
             "find_versions", "get_split_policy", "list_slices", "list_test_reads",
             "latest_check"),
            _V,
        ),
        # The first dataset sets the project's split policy: a scientist may set it once;
        # replacing it (which moves items between splits) is a lead's (STORE_ARGUMENT_ROLES).
        **dict.fromkeys(
            ("create_version", "put_slice", "delete_slice", "record_test_read", "record_check",
             "set_split_policy"),
            _S,
        ),
    },
    "label": {
        **dict.fromkeys(("list_guides", "list_functions", "latest_record", "list_annotations"), _V),
        # Queues and their tasks say who annotates what: annotators see only their own
        # queues, through the queue routes above (server/queue_scope.py).
        **dict.fromkeys(
            ("get_queue", "list_queues", "add_guide", "add_annotations", "create_queue",
             "add_tasks", "list_tasks", "finish_task", "put_function", "delete_function",
             "add_record"),
            _S,
        ),
    },
    "track": {
        **dict.fromkeys(
            ("get_run", "match_ids", "list_runs", "count_runs", "ranking_values", "get_runs",
             "change_token", "metric_series", "list_artifacts", "live_runs"),
            _V,
        ),
        **dict.fromkeys(
            ("create_run", "update_run", "finish_run", "heartbeat", "append_points",
             "add_artifact", "set_deleted", "mark_crashed"),
            _S,
        ),
    },
    "tune": {
        **dict.fromkeys(("read_journal", "get_study", "list_studies"), _V),
        **dict.fromkeys(("append_journal", "create_study", "set_fine_space"), _S),
    },
    "registry": {
        **dict.fromkeys(
            ("get_version", "list_versions", "aliases", "alias_history", "list_evaluations",
             "list_cases"),
            _V,
        ),
        **dict.fromkeys(("add_version", "add_evaluation", "put_case"), _S),
        **dict.fromkeys(("set_deleted", "move_alias"), _L),
    },
    "serve": {
        **dict.fromkeys(
            ("get_deployment", "list_deployments", "list_moves", "last_seq", "list_gateways"), _V
        ),
        **dict.fromkeys(("apply_move", "add_gateway", "remove_gateway"), _L),
    },
    "monitor": {
        **dict.fromkeys(
            ("get_rule", "list_rules", "list_evaluations", "list_alerts", "get_binning",
             "count_labels", "list_turns"),
            _V,
        ),
        **dict.fromkeys(
            ("add_rule", "delete_rule", "record_check", "put_binning", "add_labels",
             "get_labels", "save_turn"),
            _S,
        ),
    },
    "events": {"recent": _V, "record": _S},
}  # fmt: skip
"""The lowest role allowed on each store method of the store API."""

STORE_ARGUMENT_ROLES: dict[tuple[str, str, str], Role] = {
    ("data", "set_split_policy", "replace"): _L,
}
"""Store method arguments that, when true, need a higher role than the method itself."""

STORE_ROUTE = "/api/v1/stores/{store}/{method}"
"""The path template of the store API, with the store and method names filled in per route."""

POLICY.update(
    {
        ("POST", f"/api/v1/stores/{store}/{method}"): role
        for store, methods in STORE_ROLES.items()
        for method, role in methods.items()
    }
)
# Object bytes are data: reading and writing them is a scientist's, as downloading artifacts is.
POLICY.update(
    {
        ("GET", "/api/v1/objects/{digest}"): _S,
        ("PUT", "/api/v1/objects/{digest}"): _S,
        ("POST", "/api/v1/objects/batch"): _S,
        ("POST", "/api/v1/objects/missing"): _S,
        ("GET", "/api/v1/whoami"): _V,
    }
)


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
