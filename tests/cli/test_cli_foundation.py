"""End-to-end: the real ``flywheel`` binary on a fresh workspace (SQLite, then PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest

import flywheel_ml
from flywheel_ml.workspace import init_workspace, open_workspace

Cli = Callable[..., CompletedProcess[str]]
UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/test"
FULL_PAGE = [
    "--problem",
    "Recognise handwritten digits",
    "--value",
    "Saves keying every form",
    "--feasibility",
    "1,797 labelled scans; published models reach 97%",
    "--objective",
    "accuracy max",
    "--constraint",
    "latency_p95_ms < 10",
    "--constraint",
    "model_mb < 50",
]


def ok(result: CompletedProcess[str], code: int = 0) -> CompletedProcess[str]:
    assert result.returncode == code, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def as_json(result: CompletedProcess[str], code: int = 0) -> Any:
    return json.loads(ok(result, code).stdout)


def one_error_line(result: CompletedProcess[str], *, contains: str = "") -> str:
    assert result.returncode == 2, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert contains in lines[0]
    return lines[0]


def revision_count(root: Path) -> int:
    with open_workspace(root) as ws:
        return len(ws.plan.history())


def event_count(root: Path) -> int:
    with open_workspace(root) as ws:
        return len(ws.events.recent(limit=10_000))


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A fresh workspace (made in-process: ``flywheel init`` itself is tested below)."""
    init_workspace(tmp_path / "digits", name="Digit recognizer").close()
    return tmp_path / "digits"


def set_page(root: Path, **fields: Any) -> None:
    with open_workspace(root) as opened:
        opened.plan.set(**fields)


def test_version(tmp_path: Path, cli: Cli) -> None:
    result = ok(cli("--version", cwd=tmp_path))
    assert result.stdout.strip() == f"flywheel {flywheel_ml.__version__}"


def test_help_lists_the_commands(tmp_path: Path, cli: Cli) -> None:
    out = ok(cli("--help", cwd=tmp_path)).stdout
    for command in ("init", "plan", "status", "verify", "demo", "--json", "--debug", "-C"):
        assert command in out


def test_init_creates_the_workspace(tmp_path: Path, cli: Cli) -> None:
    data = as_json(cli("init", "digits", "--name", "Digit recognizer", "--json", cwd=tmp_path))
    root = tmp_path / "digits"
    assert data["root"] == str(root)
    assert data["name"] == "Digit recognizer"
    assert data["database"].startswith("sqlite:///")
    assert (root / "flywheel.toml").is_file()
    assert (root / ".flywheel" / "flywheel.db").is_file()
    assert (root / ".flywheel" / "objects").is_dir()


def test_init_twice_is_refused(ws: Path, cli: Cli) -> None:
    before = (ws / "flywheel.toml").read_text()
    one_error_line(cli("init", str(ws), cwd=ws.parent), contains="already holds")
    assert (ws / "flywheel.toml").read_text() == before


def test_plan_set_show_history_check(ws: Path, cli: Cli) -> None:
    result = ok(cli("plan", "set", "--problem", "Recognise digits", cwd=ws))
    assert "revision 1" in result.stdout
    check = ok(cli("plan", "check", cwd=ws), code=1)
    for missing in ("value", "feasibility", "objective"):
        assert f"missing: {missing}" in check.stdout
    assert "missing: problem" not in check.stdout

    ok(cli("plan", "set", *FULL_PAGE, "--reference", "UCI optdigits", cwd=ws))
    assert "complete" in ok(cli("plan", "check", cwd=ws)).stdout
    shown = ok(cli("plan", "show", cwd=ws)).stdout
    for text in ("Digit recognizer", "Recognise handwritten digits", "accuracy", "model_mb < 50"):
        assert text in shown
    history = ok(cli("plan", "show", "--history", cwd=ws)).stdout
    assert "tester" in history and "changed" in history

    revisions = as_json(cli("plan", "show", "--history", "--json", cwd=ws))
    assert [r["revision"] for r in revisions] == [1, 2]
    assert all(r["changed_by"] == "tester" for r in revisions)
    assert all(r["changed_at"].endswith("+00:00") for r in revisions)
    page = as_json(cli("plan", "show", "--json", cwd=ws))
    assert page["objective"] == {"metric": "accuracy", "direction": "max"}
    assert page["constraints"] == [
        {"metric": "latency_p95_ms", "op": "<", "value": 10.0},
        {"metric": "model_mb", "op": "<", "value": 50.0},
    ]
    assert page["references"] == ["UCI optdigits"]
    with open_workspace(ws) as opened:
        kinds = [e.kind for e in opened.events.recent(stage="plan")]
    assert kinds == ["page.changed", "page.changed"]


def test_remove_constraint(ws: Path, cli: Cli) -> None:
    ok(cli("plan", "set", *FULL_PAGE, cwd=ws))
    page = as_json(cli("plan", "set", "--remove-constraint", "model_mb", "--json", cwd=ws))
    assert [c["metric"] for c in page["constraints"]] == ["latency_p95_ms"]


def test_status_follows_the_page(ws: Path, cli: Cli) -> None:
    text = ok(cli("status", cwd=ws)).stdout
    for stage in ("plan", "data", "label", "track", "tune", "analyze", "registry", "serve"):
        assert stage in text
    assert "monitor" in text
    before = as_json(cli("status", "--json", cwd=ws))
    assert before["stages"][0]["stage"] == "plan"
    assert len(before["stages"]) == 9
    assert before["project"] == "Digit recognizer"
    assert not before["stages"][0]["done"]
    ok(cli("plan", "set", *FULL_PAGE, cwd=ws))
    after = as_json(cli("status", "--json", cwd=ws))  # a cached status must not hide the change
    plan = after["stages"][0]
    assert plan["done"]
    assert "revision 1" in plan["deliverables"][0]["evidence"]
    fresh = as_json(cli("status", "--fresh", "--json", cwd=ws))
    assert fresh == after


@pytest.mark.parametrize(
    "command",
    [
        ["plan", "set", "--expectations", "95%"],
        ["plan", "show"],
        ["plan", "show", "--history"],
        ["plan", "check"],
        ["status"],
        ["verify"],
    ],
)
def test_json_before_and_after_the_subcommand(ws: Path, cli: Cli, command: list[str]) -> None:
    code = 1 if command == ["plan", "check"] else 0
    first = as_json(cli("--json", *command, cwd=ws), code)
    second = as_json(cli(*command, "--json", cwd=ws), code)
    assert type(first) is type(second)
    if command[:2] != ["plan", "set"]:
        assert first == second


def test_verify_reports_corrupt_objects(ws: Path, cli: Cli) -> None:
    with open_workspace(ws) as opened:
        good = opened.objects.put_bytes(b"good")
        bad = opened.objects.put_bytes(b"will be altered")
        path = opened.objects.path_of(bad)  # type: ignore[union-attr]
    clean = {"checked": 2, "corrupt": [], "ok": True, "swept": 0}
    assert as_json(cli("verify", "--json", cwd=ws)) == clean
    path.write_bytes(b"altered!")
    result = ok(cli("verify", cwd=ws), code=1)
    assert f"corrupt: {bad}" in result.stdout
    assert good not in result.stdout
    data = as_json(cli("verify", "--json", cwd=ws), code=1)
    assert data == {"checked": 2, "corrupt": [bad], "ok": False, "swept": 0}


@pytest.mark.parametrize(
    ("args", "contains"),
    [
        (["--constraint", "acuracy > 0.9"], "unknown metric 'acuracy'"),
        (["--constraint", "accuracy >> 0.9"], "malformed constraint"),
        (["--constraint", "accuracy"], "malformed constraint"),
        (["--constraint", "model_mb < inf"], "finite number"),
        (["--objective", "accuracy upwards"], "unknown direction"),
        (["--objective", "auc max"], "unknown metric"),
        (["--problem", "x" * 20_001], "characters long"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    ws: Path, cli: Cli, args: list[str], contains: str
) -> None:
    set_page(ws, problem="kept")
    revisions, events = revision_count(ws), event_count(ws)
    line = one_error_line(cli("plan", "set", "--value", "lost", *args, cwd=ws), contains=contains)
    assert " — " in line  # what was wrong — how to fix it
    result = cli("plan", "set", *args, "--json", cwd=ws)
    one_error_line(result, contains=contains)
    assert json.loads(result.stdout)["error"] == "invalid_input"
    assert (revision_count(ws), event_count(ws)) == (revisions, events)
    with open_workspace(ws) as opened:
        assert (opened.plan.get().problem, opened.plan.get().value) == ("kept", "")


def test_unknown_metric_error_lists_the_valid_ones(ws: Path, cli: Cli) -> None:
    line = one_error_line(cli("plan", "set", "--constraint", "foo < 1", cwd=ws))
    for name in ("accuracy", "f1_macro", "latency_p95_ms", "model_mb", "throughput_rps"):
        assert name in line


@pytest.mark.parametrize(
    "command", [["status"], ["plan", "show"], ["plan", "set", "--problem", "x"], ["verify"]]
)
def test_missing_workspace(tmp_path: Path, cli: Cli, command: list[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    one_error_line(cli(*command, cwd=empty), contains="no Flywheel workspace")
    assert list(empty.iterdir()) == []


def test_unreachable_postgres_url(ws: Path, cli: Cli) -> None:
    set_page(ws, problem="kept")
    env = {"FLYWHEEL_DB_URL": UNREACHABLE}
    for command in (["plan", "set", "--problem", "lost"], ["status"], ["plan", "show"]):
        one_error_line(cli(*command, cwd=ws, env=env), contains="cannot reach the database")
    assert revision_count(ws) == 1


def test_finding_the_workspace(ws: Path, tmp_path: Path, cli: Cli) -> None:
    set_page(ws, problem="found")
    deep = ws / "notebooks" / "deep"
    deep.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    found = [
        as_json(cli("plan", "show", "--json", cwd=deep)),
        as_json(cli("-C", str(ws), "plan", "show", "--json", cwd=elsewhere)),
        as_json(cli("--workspace", str(deep), "plan", "show", "--json", cwd=elsewhere)),
        as_json(cli("plan", "show", "--json", cwd=elsewhere, env={"FLYWHEEL_WORKSPACE": str(ws)})),
    ]
    assert [page["problem"] for page in found] == ["found"] * 4
    one_error_line(cli("-C", str(ws / "typo"), "status", cwd=elsewhere))
    one_error_line(cli("status", cwd=elsewhere, env={"FLYWHEEL_WORKSPACE": str(elsewhere)}))


def test_debug_shows_the_traceback(ws: Path, cli: Cli) -> None:
    result = cli("--debug", "plan", "set", "--constraint", "foo < 1", cwd=ws)
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert "InvalidInputError" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: unknown metric")
    after = cli("plan", "set", "--constraint", "foo < 1", "--debug", cwd=ws)
    assert "Traceback" in after.stderr


@pytest.mark.postgres
def test_the_same_flow_on_postgres(tmp_path: Path, pg_url: str, cli: Cli) -> None:
    env = {"FLYWHEEL_DB_URL": pg_url}
    data = as_json(cli("init", "digits", "--name", "PG project", "--json", cwd=tmp_path, env=env))
    assert data["database"].startswith("postgresql")
    ws = tmp_path / "digits"
    assert not (ws / ".flywheel" / "flywheel.db").exists()
    one_error_line(cli("init", "digits", cwd=tmp_path, env=env), contains="already holds")
    ok(cli("plan", "set", "--problem", "p", cwd=ws, env=env))
    as_json(cli("plan", "check", "--json", cwd=ws, env=env), code=1)
    ok(cli("plan", "set", *FULL_PAGE, cwd=ws, env=env))
    ok(cli("plan", "check", cwd=ws, env=env))
    history = as_json(cli("plan", "show", "--history", "--json", cwd=ws, env=env))
    assert [r["revision"] for r in history] == [1, 2]
    status = as_json(cli("status", "--json", cwd=ws, env=env))
    assert status["project"] == "PG project" and status["stages"][0]["done"]
    assert as_json(cli("verify", "--json", cwd=ws, env=env))["ok"]
    one_error_line(
        cli("plan", "set", "--constraint", "acuracy > 1", cwd=ws, env=env),
        contains="unknown metric",
    )
    assert len(as_json(cli("plan", "show", "--history", "--json", cwd=ws, env=env))) == 2
    # The SQLite file was never created: every store lives in the PostgreSQL schema.
    assert not (ws / ".flywheel" / "flywheel.db").exists()


def test_plan_set_without_options_is_refused(ws: Path, cli: Cli) -> None:
    one_error_line(cli("plan", "set", cwd=ws), contains="nothing to change")
    assert revision_count(ws) == 0


@pytest.mark.parametrize("command", [["plan", "set", "--bogus"], ["nosuch"]])
def test_usage_errors_are_one_line(ws: Path, cli: Cli, command: list[str]) -> None:
    result = cli(*command, cwd=ws)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
