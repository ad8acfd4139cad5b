"""The real ``flywheel`` CLI against a live team server: ``login``/``logout``, ``FLYWHEEL_URL``,
and which workspace a command uses when there are several."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

import flywheel_ml as fw
from flywheel_ml.server.team_app import create_team_app
from tests.conftest import run_cli
from tests.server.team_live import live_server, role_tokens


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    ws = fw.init_workspace(tmp_path / "server", name="Shared")
    tokens = role_tokens(ws)
    try:
        with live_server(create_team_app(ws)) as url:
            yield url, tokens
    finally:
        ws.close()


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "FLYWHEEL_URL": "",
        "FLYWHEEL_TOKEN": "",
        "FLYWHEEL_WORKSPACE": "",
        **extra,
    }


def test_login_then_commands_use_the_server_until_logout(
    tmp_path: Path, server: tuple[str, dict[str, str]]
) -> None:
    url, tokens = server
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    env = _env(tmp_path)
    done = run_cli("--json", "login", url, "--token", tokens["scientist"], cwd=laptop, env=env)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["user"] == "scientist-user" and answer["workspace"] == "Shared"
    saved = tmp_path / "config" / "flywheel" / "login.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600

    (laptop / "t.csv").write_text("id,x,label\na,1,0\nb,2,1\nc,3,0\nd,4,1\n", encoding="utf-8")
    added = run_cli(
        "data", "add", "t.csv", "--name", "t", "--label", "label", "--id", "id", cwd=laptop, env=env
    )
    assert added.returncode == 0, added.stderr
    listed = run_cli("--json", "data", "list", cwd=laptop, env=env)
    assert [d["name"] for d in json.loads(listed.stdout)] == ["t"]
    # A local workspace found upwards wins over the saved login ...
    local = tmp_path / "local"
    fw.init_workspace(local, name="Mine").close()
    mine = run_cli("--json", "data", "list", cwd=local, env=env)
    assert json.loads(mine.stdout) == []
    # ... and FLYWHEEL_URL wins over a local workspace.
    forced = run_cli(
        "--json",
        "data",
        "list",
        cwd=local,
        env=_env(tmp_path, FLYWHEEL_URL=url, FLYWHEEL_TOKEN=tokens["viewer"]),
    )
    assert [d["name"] for d in json.loads(forced.stdout)] == ["t"]

    out = run_cli("logout", cwd=laptop, env=env)
    assert out.returncode == 0 and not saved.exists()
    gone = run_cli("data", "list", cwd=laptop, env=env)
    assert gone.returncode == 2 and "no Flywheel workspace" in gone.stderr


def test_bad_logins_are_one_line_errors_with_exit_2(
    tmp_path: Path, server: tuple[str, dict[str, str]]
) -> None:
    url, _tokens = server
    env = _env(tmp_path)
    wrong = run_cli("login", url, "--token", "fwt_wrong", cwd=tmp_path, env=env)
    assert wrong.returncode == 2
    assert wrong.stderr.strip().startswith("error:") and len(wrong.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "config" / "flywheel" / "login.json").exists()
    scheme = run_cli("login", "ftp://x", "--token", "t", cwd=tmp_path, env=env)
    assert scheme.returncode == 2 and "http" in scheme.stderr
    half = run_cli("data", "list", cwd=tmp_path, env=_env(tmp_path, FLYWHEEL_URL=url))
    assert half.returncode == 2 and "FLYWHEEL_TOKEN" in half.stderr
