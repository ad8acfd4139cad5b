"""Experiment-tracking speed: Flywheel (SQLite and PostgreSQL) against MLflow and TensorBoard.

Measured in one run, each peer in its own venv through the shared peer scripts
(/work/shared/bench/peers: ``mlflow_tracking_bench.py`` with the SQLite backend,
``tracking_peers_bench.py --peer tensorboard`` for tensorboardX event files). Every Flywheel
number counts its final ``flush()``: the points are committed (SQLite WAL with
``synchronous=FULL``), which neither peer does per batch.

Work (Flywheel / peers):

  one_by_one   ``run.log_metric`` one point per call, timed until ``flush()`` returns
               (MLflow ``log_metric``; TensorBoard ``add_scalar`` until ``close``)
  batch        ``run.log_batch(key, values)`` of ``--batch-points`` (MLflow ``log_batch``;
               TensorBoard has no batch form)
  concurrent   ``--procs`` processes released by one barrier, each its own run, one point per
               call, timed until each ``end()`` returns; total points/s, errors, points stored
  history      read a ``--history-points`` series back (``ws.track.metric_history`` DataFrame;
               MLflow ``get_metric_history``; TensorBoard ``EventAccumulator``)
  runs         create ``--runs`` runs with 10 params + 10 metrics, ended (MLflow create_run +
               log_batch + set_terminated; TensorBoard a writer with hparams per run)
  filter       ``list_runs("metrics.m0 > 0.5 and params.p1 = 3", order_by="-metrics.m1")`` over
               those runs (MLflow ``search_runs`` with the same filter; TensorBoard has no query:
               its loader time is shown)

MLflow is about 1,000x slower than the others here, so it runs smaller sizes
(``--mlflow-*``); its rates are per point or per run and comparable as rates.

Usage::

    .venv/bin/python benchmarks/track_vs_peers.py [--repeats 3] [--backends sqlite,postgres]

Writes ``benchmarks/results/track_vs_peers.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
PEERS_DIR = Path("/work/shared/bench/peers")
PEER_ROOT = Path("/tmp/peers")
PG_ADMIN = os.environ.get(
    "FLYWHEEL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
GOALS = {
    "one_by_one": (
        "points/s",
        ">= 4x TensorBoard and >= 100,000",
        lambda v, tb: v >= max(100_000, 4 * tb),
    ),
    "batch": ("points/s", ">= 500,000", lambda v, tb: v >= 500_000),
    "concurrent": ("points/s", ">= 2x TensorBoard, 0 lost, 0 errors", lambda v, tb: v >= 2 * tb),
    "history": ("s", "<= 0.18 s and >= 8x TensorBoard", lambda v, tb: v <= 0.18 and tb / v >= 8),
    "runs": ("s", "<= 1.3 s for 1,000", lambda v, tb: v <= 1.3),
    "filter": ("s", "<= 0.05 s", lambda v, tb: v <= 0.05),
}


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return float(statistics.median(values))


# -- Flywheel ---------------------------------------------------------------------------------


@contextmanager
def workspace(backend: str, *, folder: str | None = None) -> Iterator[Any]:
    """A fresh workspace on ``backend`` (in ``folder``, default the temp folder); the
    PostgreSQL schema is dropped afterwards."""
    import psycopg

    import flywheel_ml as fw

    with tempfile.TemporaryDirectory(prefix="fw-track-bench-", dir=folder) as tmp:
        schema = None
        if backend == "postgres":
            schema = f"bench_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(PG_ADMIN.replace("+psycopg", ""), autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            os.environ["FLYWHEEL_DB_URL"] = f"{PG_ADMIN}?options=-csearch_path%3D{schema}"
        else:
            os.environ.pop("FLYWHEEL_DB_URL", None)
        ws = fw.init_workspace(Path(tmp) / "ws", name="bench")
        try:
            yield ws
        finally:
            ws.close()
            if schema is not None:
                with psycopg.connect(PG_ADMIN.replace("+psycopg", ""), autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def ours_one_by_one(ws: Any, n: int) -> dict[str, float]:
    with ws.track.start_run("one") as run:
        log_metric = run.log_metric
        t0 = time.perf_counter()
        for i in range(n):
            log_metric("loss", 1.0 / (i + 1), step=i)
        loop = time.perf_counter() - t0
        run.flush()
        total = time.perf_counter() - t0
    stored = len(ws.track.metric_series(run.id, "loss"))
    return {
        "points_per_s": n / total,
        "loop_points_per_s": n / loop,
        "us_per_call": loop / n * 1e6,
        "stored": stored,
    }


def ours_batch(ws: Any, n: int) -> dict[str, float]:
    values = [1.0 / (i + 1) for i in range(n)]
    with ws.track.start_run("batch") as run:
        t0 = time.perf_counter()
        run.log_batch("loss", values)
        run.flush()
        total = time.perf_counter() - t0
    stored = len(ws.track.metric_series(run.id, "loss"))
    return {"points_per_s": n / total, "seconds": total, "stored": stored}


def _worker(root: str, db_url: str | None, points: int, barrier: Any, queue: Any) -> None:
    if db_url:
        os.environ["FLYWHEEL_DB_URL"] = db_url
    import flywheel_ml as fw

    errors: dict[str, int] = {}
    ws = fw.open_workspace(root)
    run = ws.track.start_run("worker")
    barrier.wait()
    start = time.time()
    for i in range(points):
        try:
            run.log_metric("loss", float(i), step=i)
        except Exception as exc:  # counted like the peers count theirs
            kind = "locked" if "locked" in str(exc) else type(exc).__name__
            errors[kind] = errors.get(kind, 0) + 1
    try:
        run.end()
    except Exception as exc:
        kind = "locked" if "locked" in str(exc) else type(exc).__name__
        errors[kind] = errors.get(kind, 0) + 1
    queue.put({"start": start, "end": time.time(), "run": run.id, "errors": errors})
    ws.close()


def ours_concurrent(ws: Any, procs: int, points: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(procs)
    queue = ctx.Queue()
    db_url = os.environ.get("FLYWHEEL_DB_URL")
    workers = [
        ctx.Process(target=_worker, args=(str(ws.root), db_url, points, barrier, queue))
        for _ in range(procs)
    ]
    for w in workers:
        w.start()
    results = [queue.get(timeout=600) for _ in workers]
    for w in workers:
        w.join(timeout=60)
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    stored = sum(len(ws.track.metric_series(r["run"], "loss")) for r in results)
    errors: dict[str, int] = {}
    for r in results:
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    return {
        "points_per_s": procs * points / wall,
        "wall_s": wall,
        "stored": stored,
        "lost": procs * points - stored,
        "errors": sum(errors.values()),
        "error_kinds": errors,
    }


def ours_history(ws: Any, n: int) -> dict[str, float]:
    with ws.track.start_run("history") as run:
        run.log_batch("loss", [1.0 / (i + 1) for i in range(n)])
    ws.track.metric_history(run.id, "loss")  # warm: pandas imported, run cached by the OS
    t0 = time.perf_counter()
    frame = ws.track.metric_history(run.id, "loss")
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    series = ws.track.metric_series(run.id, "loss")
    arrays_s = time.perf_counter() - t0
    assert len(frame) == n and len(series) == n
    return {"seconds": seconds, "points_per_s": n / seconds, "arrays_seconds": arrays_s}


def ours_runs(ws: Any, n: int, kv: int) -> dict[str, float]:
    from flywheel_ml.track.lineage import git_watch

    # Every run records the git commit and diff digest of this folder; git is asked again only
    # when a tracked file, the index or HEAD changed (others edit the shared tree meanwhile).
    watch = git_watch(os.path.abspath(os.getcwd()))
    asked = watch.refreshes
    t0 = time.perf_counter()
    for r in range(n):
        params = {f"p{j}": str((r + j) % 10) for j in range(kv)}
        with ws.track.start_run(f"run-{r}", params=params) as run:
            run.log_metrics({f"m{j}": ((r * 7919 + j * 104729) % 1000) / 1000.0 for j in range(kv)})
    create_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    every = ws.track.list_runs()
    all_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    found = ws.track.list_runs("metrics.m0 > 0.5 and params.p1 = 3", order_by="-metrics.m1")
    filter_s = time.perf_counter() - t0
    assert len(every) == n
    return {
        "create_s": create_s,
        "runs_per_s": n / create_s,
        "list_all_s": all_s,
        "filter_s": filter_s,
        "filter_found": len(found),
        "git_asked": watch.refreshes - asked,
    }


def durable_txn_floor_ms(n: int = 200) -> float:
    """Milliseconds per one-row transaction in SQLite WAL with synchronous=FULL, right now:
    what the disk allows for anything that commits durably (run creation, run end)."""
    import sqlite3

    with tempfile.TemporaryDirectory(prefix="fw-floor-") as tmp:
        conn = sqlite3.connect(Path(tmp) / "floor.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE t (a INTEGER)")
        t0 = time.perf_counter()
        for i in range(n):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t VALUES (?)", (i,))
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - t0
        conn.close()
    return elapsed / n * 1000


def run_ours(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    work: dict[str, Callable[[Any], dict[str, Any]]] = {
        "one_by_one": lambda ws: ours_one_by_one(ws, args.points),
        "batch": lambda ws: ours_batch(ws, args.batch_points),
        "concurrent": lambda ws: ours_concurrent(ws, args.procs, args.proc_points),
        "history": lambda ws: ours_history(ws, args.history_points),
        "runs": lambda ws: ours_runs(ws, args.runs, 10),
    }
    out: dict[str, Any] = {}
    if backend == "sqlite" and Path("/dev/shm").is_dir():
        # Run creation is bound by the disk's fsync; on tmpfs (fsync is free) the same code
        # shows its own cost, i.e. what an idle disk with a 0.17 ms commit would add to.
        reps = []
        for _ in range(args.repeats):
            with workspace(backend, folder="/dev/shm") as ws:
                reps.append(ours_runs(ws, args.runs, 10))
        out["runs_tmpfs"] = {
            "repeats": reps,
            "median": {k: median([r[k] for r in reps]) for k in reps[0]},
        }
        log(f"flywheel sqlite runs on tmpfs: {out['runs_tmpfs']['median']}")
    for name, fn in work.items():
        reps = []
        for rep in range(args.repeats):
            with workspace(backend) as ws:
                reps.append(fn(ws))
            log(f"flywheel {backend} {name} #{rep + 1}: {reps[-1]}")
        out[name] = {
            "repeats": reps,
            "median": {
                k: median([r[k] for r in reps])
                for k, v in reps[0].items()
                if isinstance(v, int | float)
            },
        }
    return out


# -- peers ------------------------------------------------------------------------------------


def run_peer(python: Path, script: str, argv: list[str]) -> dict[str, Any] | None:
    if not python.exists():
        log(f"peer venv missing: {python} (skipped)")
        return None
    cmd = [str(python), str(PEERS_DIR / script), *argv]
    log("== " + " ".join(cmd))
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    env.pop("FLYWHEEL_DB_URL", None)
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        log(done.stderr[-2000:])
        return None
    return json.loads(lines[-1])


def _med(doc: dict[str, Any] | None, test: str, key: str) -> float | None:
    try:
        return float(doc["results"][test]["summary"][key]["median"])  # type: ignore[index]
    except (KeyError, TypeError):
        return None


def run_peers(args: argparse.Namespace) -> dict[str, Any]:
    tb = run_peer(
        PEER_ROOT / "tensorboard" / "venv" / "bin" / "python",
        "tracking_peers_bench.py",
        [
            "--peer",
            "tensorboard",
            "--tests",
            "a_one,c_concurrent,d_history,e_runs",
            "--repeats",
            str(args.repeats),
            "--points",
            str(args.points),
            "--procs",
            str(args.procs),
            "--proc-points",
            str(args.proc_points),
            "--history-points",
            str(args.history_points),
            "--runs",
            str(args.runs),
            "--runs-kv",
            "10",
            "--workdir",
            str(PEER_ROOT / "tensorboard" / "work-flywheel"),
        ],
    )
    mlflow = run_peer(
        PEER_ROOT / "mlflow" / "venv" / "bin" / "python",
        "mlflow_tracking_bench.py",
        [
            "--backend",
            "sqlite",
            "--tests",
            "a_log_metric,b_log_batch,d_concurrent,e_history,e_search",
            "--repeats",
            str(args.mlflow_repeats),
            "--metric-steps",
            str(args.mlflow_points),
            "--batch-points",
            str(args.mlflow_batch_points),
            "--procs",
            str(args.procs),
            "--proc-points",
            str(args.mlflow_proc_points),
            "--history-points",
            str(args.mlflow_history_points),
            "--search-runs",
            str(args.mlflow_runs),
            "--search-kv",
            "10",
            "--workdir",
            str(PEER_ROOT / "mlflow" / "work-flywheel"),
        ],
    )
    tensorboard = {
        "one_by_one": _med(tb, "a_one", "points_per_s"),
        "concurrent": _med(tb, "c_concurrent", "points_per_s"),
        "concurrent_lost": _med(tb, "c_concurrent", "lost"),
        "history": _med(tb, "d_history", "seconds"),
        "runs": _med(tb, "e_runs", "create_s"),
        "runs_per_s": _med(tb, "e_runs", "runs_created_per_s"),
        "filter": _med(tb, "e_runs", "search_all_s"),
    }
    ml = {
        "one_by_one": _med(mlflow, "a_log_metric", "points_per_s"),
        "batch": _med(mlflow, "b_log_batch", "points_per_s"),
        "concurrent": _med(mlflow, "d_concurrent", "points_per_s"),
        "concurrent_errors": _med(mlflow, "d_concurrent", "errors"),
        "history_points_per_s": _med(mlflow, "e_history", "points_per_s"),
        "runs_per_s": _med(mlflow, "e_search", "runs_created_per_s"),
        "filter": _med(mlflow, "e_search", "search_filter_s"),
    }
    return {"tensorboard": tensorboard, "mlflow": ml, "raw": {"tensorboard": tb, "mlflow": mlflow}}


# -- report -----------------------------------------------------------------------------------


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "s":
        return f"{value:.3f} s"
    return f"{value:,.0f}/s"


def _ratio(ours: float | None, peer: float | None, unit: str) -> str:
    if not ours or not peer:
        return "n/a"
    return f"{(peer / ours if unit == 's' else ours / peer):,.1f}x"


def table(result: dict[str, Any], args: argparse.Namespace) -> str:
    peers = result["peers"]
    tb, ml = peers["tensorboard"], peers["mlflow"]
    runs_scale = args.runs / max(args.mlflow_runs, 1)
    hist_scale = args.history_points / max(args.mlflow_history_points, 1)
    rows = [
        (
            "one point per call",
            "one_by_one",
            "points_per_s",
            "points/s",
            tb["one_by_one"],
            ml["one_by_one"],
        ),
        (
            f"batch of {args.batch_points:,} points",
            "batch",
            "points_per_s",
            "points/s",
            None,
            ml["batch"],
        ),
        (
            f"{args.procs} processes x {args.proc_points:,} points",
            "concurrent",
            "points_per_s",
            "points/s",
            tb["concurrent"],
            ml["concurrent"],
        ),
        (
            f"read {args.history_points:,}-point history",
            "history",
            "seconds",
            "s",
            tb["history"],
            None
            if not ml["history_points_per_s"]
            else args.history_points / ml["history_points_per_s"],
        ),
        (
            f"create {args.runs:,} runs (10 params + 10 metrics)",
            "runs",
            "create_s",
            "s",
            tb["runs"],
            None if not ml["runs_per_s"] else args.runs / ml["runs_per_s"],
        ),
        (
            f"filter {args.runs:,} runs",
            "runs",
            "filter_s",
            "s",
            tb["filter"],
            None,  # MLflow filtered only its --mlflow-runs runs: shown in the notes
        ),
    ]
    backends = list(result["flywheel"])
    head = (
        "| work | "
        + " | ".join(f"Flywheel {b}" for b in backends)
        + " | TensorBoard | MLflow (SQLite) | Flywheel/TB | Flywheel/MLflow | goal | met |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for label, test, key, unit, tb_value, ml_value in rows:
        ours = [result["flywheel"][b][test]["median"].get(key) for b in backends]
        goal_key = "filter" if key == "filter_s" else test
        _unit, goal_text, check = GOALS[goal_key]
        first = ours[0]
        met = "n/a"
        if first is not None and (tb_value is not None or goal_key in ("batch", "runs", "filter")):
            met = "yes" if check(first, tb_value or 0.0) else "no"
        lines.append(
            f"| {label} | "
            + " | ".join(_fmt(v, unit) for v in ours)
            + f" | {_fmt(tb_value, unit)} | {_fmt(ml_value, unit)} | "
            f"{_ratio(first, tb_value, unit)} | {_ratio(first, ml_value, unit)} | "
            f"{goal_text} | {met} |"
        )
    conc = {b: result["flywheel"][b]["concurrent"]["median"] for b in backends}
    lost = ", ".join(f"{b} {int(c['lost'])}" for b, c in conc.items())
    errs = ", ".join(f"{b} {int(c['errors'])}" for b, c in conc.items())
    floor = (result["floor_durable_txn_ms_before"], result["floor_durable_txn_ms_after"])
    tmpfs = result["flywheel"].get("sqlite", {}).get("runs_tmpfs", {}).get("median")
    notes = [
        "",
        ""
        if not tmpfs
        else f"Run creation without the disk (SQLite on tmpfs, same code): {args.runs:,} runs in "
        f"{tmpfs['create_s']:.2f} s, filter {tmpfs['filter_s']:.3f} s; adding two commits of "
        "0.17 ms (the reference floor) per run gives the time on an idle disk.",
        f"Floor: one durable SQLite transaction (WAL, synchronous=FULL) took {floor[0]:.2f} ms "
        f"before and {floor[1]:.2f} ms after this run; a run costs two (start, end).",
        "Medians of repeats; ratios use Flywheel on SQLite (first column); 'met' checks the "
        "goal of issue 5 on SQLite.",
        f"Concurrent: lost points {lost}; errors {errs}; TensorBoard lost "
        f"{tb['concurrent_lost']}; MLflow errors {ml['concurrent_errors']}.",
        f"MLflow ran smaller sizes ({args.mlflow_points} one-by-one points, "
        f"{args.mlflow_batch_points:,} batch points, {args.procs} x {args.mlflow_proc_points} "
        f"concurrent, {args.mlflow_history_points:,}-point history, {args.mlflow_runs} runs); "
        f"its history and run-creation times are scaled by x{hist_scale:g} and x{runs_scale:g} "
        "from its rates.",
        f"MLflow's filter over its {args.mlflow_runs} runs took {ml['filter'] or 0:.3f} s "
        "(not comparable with the 1,000-run rows, so left out of the table).",
        "TensorBoard has no batch API and no query API: its 'filter' is EventMultiplexer "
        "loading every run.",
        "Every Flywheel number includes the flush that commits the points (durable on SQLite: "
        "WAL, synchronous=FULL).",
        "Runs are started from a git checkout: each records the commit and the digest of the "
        "uncommitted diff; over all run-creation repeats git was asked "
        f"{_git_asked(result)} time(s) (the first time, then after edits of tracked files).",
        f"Machine: {platform.node()}, {os.cpu_count()} cores, load average at start "
        f"{result['loadavg_at_start']:.1f}, at end {result.get('loadavg_at_end', math.nan):.1f}; "
        "other work shared the cores.",
    ]
    return "\n".join(
        ["# Experiment tracking: Flywheel vs MLflow and TensorBoard", "", *lines, *notes, ""]
    )


def _git_asked(result: dict[str, Any]) -> str:
    counts = [
        int(rep.get("git_asked", 0))
        for backend in result["flywheel"].values()
        for key in ("runs", "runs_tmpfs")
        for rep in backend.get(key, {}).get("repeats", [])
    ]
    return str(sum(counts)) if counts else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--points", type=int, default=50_000)
    parser.add_argument("--batch-points", type=int, default=1_000_000)
    parser.add_argument("--procs", type=int, default=8)
    parser.add_argument("--proc-points", type=int, default=5_000)
    parser.add_argument("--history-points", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1_000)
    parser.add_argument("--mlflow-repeats", type=int, default=1)
    parser.add_argument("--mlflow-points", type=int, default=300)
    parser.add_argument("--mlflow-batch-points", type=int, default=20_000)
    parser.add_argument("--mlflow-proc-points", type=int, default=40)
    parser.add_argument("--mlflow-history-points", type=int, default=20_000)
    parser.add_argument("--mlflow-runs", type=int, default=100)
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument(
        "--render-only", action="store_true", help="rewrite the .md from the saved .json"
    )
    args = parser.parse_args()
    if args.render_only:
        saved = json.loads((RESULTS / "track_vs_peers.json").read_text())
        markdown = table(saved, argparse.Namespace(**saved["args"]))
        (RESULTS / "track_vs_peers.md").write_text(markdown)
        print(markdown)
        return
    os.environ.setdefault("FLYWHEEL_USER", "bench")
    result: dict[str, Any] = {
        "bench": "track_vs_peers",
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "args": vars(args),
        "loadavg_at_start": os.getloadavg()[0],
        "python": platform.python_version(),
        "flywheel": {},
        "floor_durable_txn_ms_before": durable_txn_floor_ms(),
    }
    for backend in args.backends.split(","):
        result["flywheel"][backend] = run_ours(backend, args)
    empty = {
        "tensorboard": dict.fromkeys(
            (
                "one_by_one",
                "concurrent",
                "concurrent_lost",
                "history",
                "runs",
                "runs_per_s",
                "filter",
            )
        ),
        "mlflow": dict.fromkeys(
            (
                "one_by_one",
                "batch",
                "concurrent",
                "concurrent_errors",
                "history_points_per_s",
                "runs_per_s",
                "filter",
            )
        ),
    }
    result["peers"] = empty if args.skip_peers else run_peers(args)
    result["floor_durable_txn_ms_after"] = durable_txn_floor_ms()
    result["loadavg_at_end"] = os.getloadavg()[0]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "track_vs_peers.json").write_text(json.dumps(result, indent=2, default=str))
    markdown = table(result, args)
    (RESULTS / "track_vs_peers.md").write_text(markdown)
    print(markdown)


if __name__ == "__main__":
    main()
