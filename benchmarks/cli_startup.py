"""CLI start-up time: ``flywheel --help``, ``--version`` and ``status`` against the 0.3 s goal.

Each command is run as a fresh process (what a user waits for), ``--repeats`` times after one
discarded warm-up run, and reported as median/min/max wall time. Two kinds of reference rows show
where the time goes:

* the floor: ``python -c pass`` (interpreter start), ``import typer`` (the CLI framework) and
  ``import sqlalchemy`` (the database layer, which ``status`` must avoid to meet the goal);
* peers, when their venvs exist under ``/tmp/peers`` (see /work/shared/bench/peers/README.md):
  ``dvc`` and ``mlflow`` ``--help``/``--version``, and ``dvc status`` in an empty DVC repository,
  with the ratio ours/peer.

``status`` is measured twice: as a user sees it on an unchanged workspace (the status cache is
warm) and with ``--fresh`` (evidence read from the database, SQLAlchemy imported).

Usage::

    .venv/bin/python benchmarks/cli_startup.py [--repeats 10] [--peer-repeats 3]

Writes ``benchmarks/results/cli_startup.json`` and ``benchmarks/results/cli_startup.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

GOAL_SECONDS = 0.3
RESULTS = Path(__file__).resolve().parent / "results"
PEERS = Path("/tmp/peers")
BIN = Path(sys.executable).parent
FLYWHEEL = str(BIN / "flywheel")


@dataclass(frozen=True, slots=True)
class Case:
    """One command line to time, run in ``cwd``."""

    group: str  # "flywheel", "floor" or "peer"
    name: str
    argv: tuple[str, ...]
    cwd: Path
    goal: bool = False  # whether the 0.3 s goal applies
    pairs_with: str = ""  # the flywheel case a peer row is compared with


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYWHEEL_")}
    env.update(FLYWHEEL_USER="bench", MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
    return env


def _run(case: Case, env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(case.argv, cwd=case.cwd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(
            f"{' '.join(case.argv)} failed ({result.returncode}): {result.stderr.decode()[-500:]}"
        )
    return elapsed


def _time(case: Case, repeats: int, env: dict[str, str]) -> dict[str, object]:
    _run(case, env)  # warm-up: page cache and .pyc files, not measured
    samples = [_run(case, env) for _ in range(repeats)]
    median = statistics.median(samples)
    print(f"{case.group:8} {case.name:28} median {median:.3f} s", file=sys.stderr)
    return {
        "group": case.group,
        "name": case.name,
        "command": " ".join(
            Path(case.argv[0]).name if i == 0 else a for i, a in enumerate(case.argv)
        ),
        "samples_s": [round(s, 4) for s in samples],
        "median_s": round(median, 4),
        "min_s": round(min(samples), 4),
        "max_s": round(max(samples), 4),
        "goal_s": GOAL_SECONDS if case.goal else None,
        "meets_goal": (median <= GOAL_SECONDS) if case.goal else None,
        "pairs_with": case.pairs_with,
    }


def _make_workspace(base: Path, env: dict[str, str]) -> Path:
    """A demo-like workspace: init plus a complete project page (no scikit-learn needed)."""
    root = base / "digits"
    steps = [
        ["init", str(root), "--name", "Digit recognizer"],
        [
            "-C",
            str(root),
            "plan",
            "set",
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
        ],
    ]
    for step in steps:
        subprocess.run([FLYWHEEL, *step], cwd=base, env=env, check=True, capture_output=True)
    return root


def _peer_cases(base: Path, env: dict[str, str]) -> list[Case]:
    cases: list[Case] = []
    dvc = PEERS / "dvc" / "venv" / "bin" / "dvc"
    if dvc.is_file():
        repo = base / "dvc-repo"
        repo.mkdir()
        subprocess.run([str(dvc), "init", "--no-scm", "-q"], cwd=repo, env=env, check=True)
        cases += [
            Case("peer", "dvc --help", (str(dvc), "--help"), repo, pairs_with="flywheel --help"),
            Case(
                "peer",
                "dvc --version",
                (str(dvc), "--version"),
                repo,
                pairs_with="flywheel --version",
            ),
            Case("peer", "dvc status", (str(dvc), "status"), repo, pairs_with="flywheel status"),
        ]
    mlflow = PEERS / "mlflow" / "venv" / "bin" / "mlflow"
    if mlflow.is_file():
        cases += [
            Case(
                "peer", "mlflow --help", (str(mlflow), "--help"), base, pairs_with="flywheel --help"
            ),
            Case(
                "peer",
                "mlflow --version",
                (str(mlflow), "--version"),
                base,
                pairs_with="flywheel --version",
            ),
        ]
    return cases


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else ""


def _markdown(doc: dict[str, object]) -> str:
    rows = doc["results"]
    assert isinstance(rows, list)
    by_name = {r["name"]: r for r in rows}
    lines = [
        "# CLI start-up time",
        "",
        f"Measured {doc['measured_at']} on {doc['machine']} ({doc['cpus']} CPUs, load average "
        f"{doc['load_average_before']} before, {doc['load_average_after']} after); "
        f"{doc['repeats']} runs per flywheel/floor row, {doc['peer_repeats']} per peer row, "
        "each a fresh process after one warm-up run. Goal: "
        f"<= {GOAL_SECONDS} s median. Produced by `benchmarks/cli_startup.py`.",
        "",
        "| command | median s | min s | max s | goal | verdict |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if r["group"] != "flywheel":
            continue
        verdict = "meets" if r["meets_goal"] else "misses"
        lines.append(
            f"| `{r['name']}` | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['max_s']:.3f} "
            f"| {GOAL_SECONDS} | {verdict} |"
        )
    lines += [
        "",
        "## Floor: where the time goes",
        "",
        "| command | median s | min s | max s |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| `{r['command']}` | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['max_s']:.3f} |"
        for r in rows
        if r["group"] == "floor"
    ]
    peers = [r for r in rows if r["group"] == "peer"]
    if peers:
        lines += [
            "",
            "## Peers (same machine, same run)",
            "",
            "| peer command | peer median s | flywheel command | flywheel median s "
            "| ratio flywheel/peer |",
            "|---|---:|---|---:|---:|",
        ]
        for r in peers:
            ours = by_name[r["pairs_with"]]
            ratio = ours["median_s"] / r["median_s"]
            lines.append(
                f"| `{r['name']}` | {r['median_s']:.3f} | `{ours['name']}` "
                f"| {ours['median_s']:.3f} | {ratio:.2f} |"
            )
    lines += ["", f"Versions: {json.dumps(doc['versions'])}", ""]
    return "\n".join(lines)


def main() -> None:
    """Run every case and write the JSON and Markdown results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--peer-repeats", type=int, default=3)
    parser.add_argument("--no-peers", action="store_true")
    args = parser.parse_args()
    env = _clean_env()
    python = sys.executable
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="fw-bench-") as tmp:
        base = Path(tmp)
        root = _make_workspace(base, env)
        cases = [
            Case("flywheel", "flywheel --help", (FLYWHEEL, "--help"), root, goal=True),
            Case("flywheel", "flywheel --version", (FLYWHEEL, "--version"), root, goal=True),
            Case("flywheel", "flywheel status", (FLYWHEEL, "status"), root, goal=True),
            Case(
                "flywheel",
                "flywheel status --fresh",
                (FLYWHEEL, "status", "--fresh"),
                root,
                goal=True,
            ),
            Case("floor", "python -c pass", (python, "-c", "pass"), root),
            Case("floor", "import typer", (python, "-c", "import typer"), root),
            Case("floor", "import sqlalchemy", (python, "-c", "import sqlalchemy"), root),
        ]
        results = [_time(c, args.repeats, env) for c in cases]
        if not args.no_peers:
            results += [_time(c, args.peer_repeats, env) for c in _peer_cases(base, env)]
    versions = {
        "flywheel": _version([FLYWHEEL, "--version"]),
        "python": platform.python_version(),
    }
    for tool in ("dvc", "mlflow"):
        exe = PEERS / tool / "venv" / "bin" / tool
        if not args.no_peers and exe.is_file():
            versions[tool] = _version([str(exe), "--version"])
    doc: dict[str, object] = {
        "benchmark": "cli_startup",
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.system()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "repeats": args.repeats,
        "peer_repeats": args.peer_repeats,
        "goal_s": GOAL_SECONDS,
        "versions": versions,
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cli_startup.json").write_text(json.dumps(doc, indent=2) + "\n")
    (RESULTS / "cli_startup.md").write_text(_markdown(doc))
    print(_markdown(doc))


if __name__ == "__main__":
    main()
