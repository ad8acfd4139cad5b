"""schemathesis against the team server's OpenAPI schema, once per role and with no token: on a
live server on 127.0.0.1 over a seeded project, every operation gets schema-valid and invalid
requests (a bounded, derandomised number, so the run is repeatable and short) and none may
answer 5xx."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis

from flywheel_ml.core.access import ROLE_NAMES
from flywheel_ml.server.team_app import create_team_app
from tests.server.team_live import live_server, role_tokens, seed_team_project

EXAMPLES = 4
"""Generated requests per operation, generation mode and role (plus the schema's examples)."""


@dataclass
class Fuzzed:
    url: str
    tokens: dict[str, str]
    schema: Any


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    project = seed_team_project(tmp_path_factory.mktemp("fuzz") / "ws")
    ws = project.ws
    tokens = role_tokens(ws)
    # Something to annotate, so the label operations reach their stage verbs.
    ws.label.set_guide("classes:\n" + "".join(f"  - name: '{d}'\n" for d in range(10)))
    ws.label.create_queue("fuzz", "digits@latest", size=20, annotators=["annotator-user", "*"])
    try:
        with live_server(create_team_app(ws)) as url:
            schema = schemathesis.openapi.from_url(
                f"{url}/api/v1/openapi.json",
                headers={"authorization": f"Bearer {tokens['viewer']}"},
            )
            yield Fuzzed(url=url, tokens=tokens, schema=schema)
    finally:
        ws.close()


def _fuzz(operation: Any, mode: Any, url: str, headers: dict[str, str], examples: int) -> list[str]:
    """The 5xx answers to ``examples`` generated requests (and the schema's own examples)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable

    found: list[str] = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(base_url=url, headers=headers, timeout=60)
        if response.status_code >= 500:
            found.append(
                f"{operation.label} [{mode.value}] -> {response.status_code} "
                f"{response.text[:200]!r}\n    {case.as_curl_command()}"
            )

    with contextlib.suppress(Unsatisfiable):  # no invalid value exists for these parameters
        run()
    return found


def _modes(operation: Any, role: str) -> list[Any]:
    from schemathesis import GenerationMode

    if role == "none":
        return [GenerationMode.POSITIVE]  # the gate answers 401 before reading any input
    # A path parameter is any string, so only query, header and body parameters can be invalid.
    negative = len(operation.query) or len(operation.headers) or len(operation.body)
    return [GenerationMode.POSITIVE, *([GenerationMode.NEGATIVE] if negative else [])]


def test_no_operation_answers_5xx_for_any_role(fuzzed: Fuzzed) -> None:
    operations = [result.ok() for result in fuzzed.schema.get_all_operations()]
    assert len(operations) >= 25  # every /api/v1 route is in the schema
    failures: list[str] = []
    for role in ("none", *ROLE_NAMES):
        token = fuzzed.tokens.get(role)
        headers = {"authorization": f"Bearer {token}"} if token else {}
        examples = 1 if role == "none" else EXAMPLES
        for operation in operations:
            for mode in _modes(operation, role):
                found = _fuzz(operation, mode, fuzzed.url, headers, examples)
                failures += [f"as {role}: {line}" for line in found]
    assert not failures, "\n".join(failures)


@pytest.mark.postgres
def test_nul_bytes_in_any_parameter_are_4xx_on_postgresql(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL refuses NUL in text, so one reaching a query is a 500; none may get that far.
    import httpx

    import flywheel_ml as fw

    monkeypatch.setenv("FLYWHEEL_DB_URL", pg_url)
    ws = fw.init_workspace(tmp_path / "ws", name="Nul")
    try:
        ws.access.add_user("root", role="admin", actor="root")
        headers = {"authorization": f"Bearer {ws.access.create_token('root').token}"}
        wrong: list[str] = []
        with (
            live_server(create_team_app(ws)) as url,
            httpx.Client(base_url=url, headers=headers, timeout=120) as client,
        ):
            spec = client.get("/api/v1/openapi.json").json()
            for template, operations in spec["paths"].items():
                for method, operation in operations.items():
                    params = operation.get("parameters", [])
                    names = [p["name"] for p in params if p["in"] == "query"]
                    names += ["body"] if "requestBody" in operation else []
                    path = re.sub(r"\{\w+\}", "x", template)
                    for name in names:
                        query = {name: "a\x00b"} if name != "body" else {}
                        body = {"item": "a\x00b", "reason": "a\x00b"} if name == "body" else {}
                        answer = client.request(method, path, params=query, json=body)
                        if not 400 <= answer.status_code < 500:
                            wrong.append(f"{method} {path} ({name}): {answer.status_code}")
        assert not wrong, "\n".join(wrong)
    finally:
        ws.close()
