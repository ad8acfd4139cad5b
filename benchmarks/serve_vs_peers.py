"""The prediction gateway against KServe's ModelServer and ``mlflow models serve``, in one run.

Every server gets the same model (scikit-learn ``LogisticRegression(max_iter=2000)`` fitted on
the bundled digits data, in the server's own venv), the same rows and the same client: stdlib
``http.client`` over keep-alive connections to 127.0.0.1, one connection per client thread.
Each server is started as a fresh process and measured for:

* cold start: process start until the first 200 answer to a one-row prediction (polled every
  20 ms);
* ``seq``: ``--n-requests`` one-row requests, one after another;
* ``conc``: ``--conc-requests`` one-row requests over ``--threads`` client threads;
* ``batch``: ``--batch-requests`` requests of ``--batch-rows`` rows;
* RSS of the server's process tree after the load.

A 1,000-row correctness check compares every server's answers with its model's ``predict``.
Each server uses its native request body with the same 64 float values per row: Flywheel
``{"rows": ...}``, KServe V1 ``{"instances": ...}``, MLflow ``{"dataframe_split": ...}``.
Flywheel answers with class probabilities by default; the ``flywheel`` row asks for predictions
only (``"probabilities": false``), the same work as the peers, and ``flywheel+proba`` shows the
default. Flywheel answers a ``LogisticRegression`` with a verified numpy kernel of the model's own
arithmetic (``flywheel_ml.registry.kernels``, saved with the version at registration, so the
gateway never imports scikit-learn); ``flywheel-sklearn`` calls the estimator's ``predict`` like
the peers do, to show what the kernel is worth. Repeats go round-robin over the servers
so background load hits all alike; the machine load average is recorded with every repeat.

Peers live in their own venvs (created with ``--install`` when missing)::

    /tmp/peers/kserve/venv    pip install kserve scikit-learn
    /tmp/peers/mlflow/venv    pip install mlflow scikit-learn

Usage::

    .venv/bin/python benchmarks/serve_vs_peers.py [--repeats 3] [--peers kserve,mlflow]

Writes ``benchmarks/results/serve_vs_peers.json`` and ``benchmarks/results/serve_vs_peers.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
PEERS = Path("/tmp/peers")
LOOPBACK = "127.0.0.1"
NO_TELEMETRY = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "KSERVE_DISABLE_TELEMETRY": "true",
}
GOALS = {
    "seq_rps_ratio": 1.2,
    "seq_p50_ms": 0.6,
    "conc_rps_ratio": 1.5,
    "batch_rows_ratio": 1.2,
    "batch_rows_per_s": 200_000,
    "cold_start_s": 1.5,
    "rss_mb": 200,
}

TRAIN = r"""
import json, os, sys
import joblib
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
wd, mode = sys.argv[1], sys.argv[2]
X, y = load_digits(return_X_y=True)
clf = LogisticRegression(max_iter=2000).fit(X, y)
out = {"rows": X.tolist(), "expected": clf.predict(X).tolist()}
if mode == "flywheel":
    import skops.io as sio
    sio.dump(clf, os.path.join(wd, "model.skops"))
elif mode == "kserve":
    joblib.dump(clf, os.path.join(wd, "model.joblib"))
elif mode == "mlflow":
    import mlflow, mlflow.sklearn
    from mlflow.models import infer_signature
    df = load_digits(as_frame=True).data
    clf = LogisticRegression(max_iter=2000).fit(df, y)
    mlflow.set_tracking_uri("sqlite:///" + os.path.join(wd, "mlflow.db"))
    exp = mlflow.create_experiment("serve", artifact_location=os.path.join(wd, "art"))
    with mlflow.start_run(experiment_id=exp):
        info = mlflow.sklearn.log_model(clf, name="model",
                                        signature=infer_signature(df, clf.predict(df)))
    out["model_uri"], out["tracking_uri"] = info.model_uri, mlflow.get_tracking_uri()
    out["expected"] = clf.predict(df).tolist()
with open(os.path.join(wd, "train.json"), "w") as f:
    json.dump(out, f)
"""

# `flywheel-sklearn`: the gateway as `flywheel serve start` runs it, with the benchmark's own
# resolver that hands it the plain estimator (a skops file loaded with its trusted types), to
# show what the serving kernel is worth. `flywheel` and `flywheel+proba` run the real command.
FLYWHEEL_SERVER = r"""
import sys
import flywheel_ml as fw
from flywheel_ml.serve.predictors import EstimatorPredictor
from flywheel_ml.server.run import run_gateway


class SkopsResolver:
    def __init__(self, path, compiled):
        self.path = path
        self.compiled = compiled

    def resolve(self, ref):
        import skops.io as sio
        trusted = sio.get_untrusted_types(file=self.path)
        model = sio.load(self.path, trusted=trusted)
        return EstimatorPredictor(model, version_ref=ref, compiled=self.compiled)


ws = fw.open_workspace(sys.argv[1])
ws.serve.resolver = SkopsResolver(sys.argv[2], sys.argv[4] == "compiled")
run_gateway(ws, host="127.0.0.1", port=int(sys.argv[3]))
"""

KSERVE_SERVER = r"""
import argparse
import contextlib
import joblib
import uvicorn
import kserve
from kserve.utils.utils import get_predict_input, get_predict_response

_Config = uvicorn.Config


class _LoopbackConfig(_Config):  # kserve hard-codes host 0.0.0.0: keep it on loopback
    def __init__(self, *args, **kwargs):
        kwargs["host"] = "127.0.0.1"
        super().__init__(*args, **kwargs)


uvicorn.Config = _LoopbackConfig


class SKLearnModel(kserve.Model):  # as kserve/python/sklearnserver
    def __init__(self, name, path):
        super().__init__(name)
        self.path = path
        self.ready = False

    def load(self):
        self._model = joblib.load(self.path)
        self.ready = True
        return self.ready

    def predict(self, payload, headers=None):
        instances = get_predict_input(payload)
        result = self._model.predict(instances)
        return get_predict_response(payload, result, self.name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(parents=[kserve.model_server.parser])
    parser.add_argument("--model_path", required=True)
    args, _ = parser.parse_known_args()
    model = SKLearnModel(args.model_name, args.model_path)
    model.load()
    kserve.ModelServer().start([model])
"""


def log(message: str) -> None:
    print(f"[serve_vs_peers] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def run_load(port: int, path: str, body: bytes, n: int, threads: int, max_wall_s: float) -> dict:
    """``n`` requests over ``threads`` keep-alive connections; bounded by ``max_wall_s``."""
    headers = {"Content-Type": "application/json"}
    counts = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]
    latencies: list[list[float]] = [[] for _ in range(threads)]
    failures = [0] * threads
    barrier = threading.Barrier(threads + 1)
    deadline = time.perf_counter() + max_wall_s

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=60)
        conn.connect()
        barrier.wait()
        for _ in range(counts[index]):
            if time.perf_counter() > deadline:
                break
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                failures[index] += 1
                conn.close()
                conn = http.client.HTTPConnection(LOOPBACK, port, timeout=60)
                continue
            latencies[index].append(time.perf_counter() - started)
            if response.status != 200:
                failures[index] += 1
        conn.close()

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in pool:
        t.join()
    wall = time.perf_counter() - started
    flat = [x for part in latencies for x in part]
    ok = len(flat) - sum(failures)
    return {
        "completed": len(flat),
        "non_200": sum(failures),
        "wall_s": round(wall, 4),
        "rps": round(ok / wall, 1),
        "p50_ms": round(percentile(flat, 50) * 1000, 3),
        "p99_ms": round(percentile(flat, 99) * 1000, 3),
    }


def one_request(
    port: int, path: str, body: bytes | None, method: str = "POST"
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def children(pid: int) -> list[int]:
    found = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as handle:
                found += [int(x) for x in handle.read().split()]
    except OSError:
        pass
    return found


def tree(pid: int) -> list[int]:
    out, todo = [pid], [pid]
    while todo:
        for kid in children(todo.pop()):
            out.append(kid)
            todo.append(kid)
    return out


def rss_mb(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process tree by PID (children first), SIGKILL what is left."""
    pids = tree(proc.pid)
    for pid in reversed(pids):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=15)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def bodies(server: str, rows: list[list[float]]) -> bytes:
    if server in ("flywheel", "flywheel-sklearn"):
        return json.dumps({"rows": rows, "probabilities": False}).encode()
    if server == "flywheel+proba":
        return json.dumps({"rows": rows}).encode()
    if server == "kserve":
        return json.dumps({"instances": rows}).encode()
    cols = [f"pixel_{i // 8}_{i % 8}" for i in range(len(rows[0]))]
    return json.dumps({"dataframe_split": {"columns": cols, "data": rows}}).encode()


def install(peer: str) -> None:
    venv = PEERS / peer / "venv"
    if (venv / "bin" / "python").exists():
        return
    log(f"installing {peer} into {venv}")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", peer, "scikit-learn"], check=True)


def versions(python: str, names: list[str]) -> dict[str, str | None]:
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: out[n] = None\n"
        "print(json.dumps(out))"
    )
    done = subprocess.run([python, "-c", code, *names], capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout))


def prepare(server: str, work: Path) -> dict[str, Any]:
    """Train the model in the server's venv and return how to start the server."""
    if server.startswith("flywheel"):
        python = sys.executable
        mode = "flywheel"
    else:
        python = str(PEERS / server / "venv" / "bin" / "python")
        mode = server
        if not Path(python).exists():
            return {"error": f"no venv at {PEERS / server / 'venv'} (run with --install)"}
    wd = work / mode
    if not (wd / "train.json").exists():
        wd.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **NO_TELEMETRY}
        done = subprocess.run(
            [python, "-c", TRAIN, str(wd), mode],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if done.returncode != 0:
            return {"error": "training failed: " + done.stderr[-800:]}
    trained = json.loads((wd / "train.json").read_text())
    spec: dict[str, Any] = {"python": python, "wd": wd, "trained": trained}
    if mode == "flywheel":
        spec["versions"] = versions(python, ["flywheel-ml", "scikit-learn", "starlette", "uvicorn"])
        ws_dir = wd / "ws"
        if not ws_dir.exists():
            # The model goes through the real registry: registered (which saves its verified
            # serving kernel) and deployed, so `flywheel serve start` serves it as users get it.
            setup = (
                "import sys, flywheel_ml as fw\n"
                "import skops.io as sio\n"
                "ws = fw.init_workspace(sys.argv[1], name='bench')\n"
                "path = sys.argv[2]\n"
                "m = sio.load(path, trusted=sio.get_untrusted_types(file=path))\n"
                "with ws.track.start_run(name='bench-model') as run:\n"
                "    run.log_model(m)\n"
                "    run_id = run.id\n"
                "ws.registry.register(run_id, name='digits')\n"
                "ws.serve.deploy('digits@v1')\n"
            )
            subprocess.run(
                [python, "-c", setup, str(ws_dir), str(wd / "model.skops")],
                check=True,
                env={**os.environ, "FLYWHEEL_USER": "bench"},
            )
        (wd / "server.py").write_text(FLYWHEEL_SERVER)
        spec.update(ping="/readyz", path="/v1/models/digits/predict")
        if server == "flywheel-sklearn":
            spec["cmd"] = lambda port: [
                python,
                str(wd / "server.py"),
                str(ws_dir),
                str(wd / "model.skops"),
                str(port),
                "plain",
            ]
        else:
            flywheel = str(Path(python).with_name("flywheel"))
            spec["cmd"] = lambda port: [
                flywheel, "-C", str(ws_dir), "serve", "start", "--port", str(port)
            ]  # fmt: skip
    elif mode == "kserve":
        spec["versions"] = versions(python, ["kserve", "scikit-learn", "fastapi", "uvicorn"])
        (wd / "server.py").write_text(KSERVE_SERVER)
        spec.update(ping="/v1/models/digits", path="/v1/models/digits:predict")
        spec["cmd"] = lambda port: [
            python,
            str(wd / "server.py"),
            "--model_name",
            "digits",
            "--model_path",
            str(wd / "model.joblib"),
            "--http_port",
            str(port),
            "--enable_grpc",
            "false",
        ]
    else:
        spec["versions"] = versions(python, ["mlflow", "scikit-learn", "fastapi", "uvicorn"])
        spec.update(ping="/ping", path="/invocations")
        spec["env"] = {"MLFLOW_TRACKING_URI": trained["tracking_uri"]}
        spec["cmd"] = lambda port: [
            str(Path(python).parent / "mlflow"),
            "models",
            "serve",
            "-m",
            trained["model_uri"],
            "--env-manager",
            "local",
            "-p",
            str(port),
            "-h",
            LOOPBACK,
        ]
    return spec


def measure(server: str, spec: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    rows = spec["trained"]["rows"]
    batch = [rows[i % len(rows)] for i in range(args.batch_rows)]
    expected = [spec["trained"]["expected"][i % len(rows)] for i in range(args.batch_rows)]
    body1, body_batch = bodies(server, rows[:1]), bodies(server, batch)
    port = free_port()
    env = {**os.environ, **NO_TELEMETRY, **spec.get("env", {})}
    env["PATH"] = str(Path(spec["python"]).parent) + os.pathsep + env.get("PATH", "")
    env.pop("PYTHONPATH", None)
    out: dict[str, Any] = {"loadavg_before": os.getloadavg()[0]}
    log_path = spec["wd"] / f"server-{server}.log"
    started = time.perf_counter()
    with open(log_path, "ab") as sink:
        proc = subprocess.Popen(
            spec["cmd"](port),
            env=env,
            cwd=spec["wd"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.perf_counter() + args.start_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}; see {log_path}")
            try:
                if one_request(port, spec["path"], body1)[0] == 200:
                    break
            except OSError:
                pass
            if time.perf_counter() > deadline:
                raise TimeoutError("server did not answer")
            time.sleep(0.02)
        out["cold_start_s"] = round(time.perf_counter() - started, 3)
        status, data = one_request(port, spec["path"], body_batch)
        doc = json.loads(data)
        preds = doc["predictions"] if isinstance(doc, dict) else doc
        out["check_match"] = status == 200 and [int(p) for p in preds] == expected
        run_load(port, spec["path"], body1, args.warmup, 1, args.max_wall_s)
        out["seq"] = run_load(port, spec["path"], body1, args.n_requests, 1, args.max_wall_s)
        out["conc"] = run_load(
            port, spec["path"], body1, args.conc_requests, args.threads, args.max_wall_s
        )
        out["batch"] = run_load(
            port, spec["path"], body_batch, args.batch_requests, 1, args.max_wall_s
        )
        out["batch"]["rows_per_s"] = round(out["batch"]["rps"] * args.batch_rows)
        out["rss_mb"] = rss_mb(proc.pid)
    except Exception as exc:  # a broken peer is a result, not a crash
        out["error"] = repr(exc)[:400]
    finally:
        stop(proc)
    out["loadavg_after"] = os.getloadavg()[0]
    return out


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def summarize(reps: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in reps if "error" not in r]
    if not ok:
        return {"error": reps[0].get("error") if reps else "not run"}
    return {
        "seq_rps": median([r["seq"]["rps"] for r in ok]),
        "seq_p50_ms": median([r["seq"]["p50_ms"] for r in ok]),
        "seq_p99_ms": median([r["seq"]["p99_ms"] for r in ok]),
        "conc_rps": median([r["conc"]["rps"] for r in ok]),
        "conc_p50_ms": median([r["conc"]["p50_ms"] for r in ok]),
        "batch_rows_per_s": median([r["batch"]["rows_per_s"] for r in ok]),
        "batch_p50_ms": median([r["batch"]["p50_ms"] for r in ok]),
        "cold_start_s": median([r["cold_start_s"] for r in ok]),
        "rss_mb": median([r["rss_mb"] for r in ok]),
        "check_match": all(r["check_match"] for r in ok),
        "non_200": sum(r[p]["non_200"] for r in ok for p in ("seq", "conc", "batch")),
        "ok_repeats": len(ok),
    }


def ratio(
    ours: float | None, theirs: float | None, *, lower_is_better: bool = False
) -> float | None:
    if not ours or not theirs:
        return None
    return round(theirs / ours if lower_is_better else ours / theirs, 2)


def markdown(result: dict[str, Any]) -> str:
    table = result["table"]
    metrics = [
        ("seq_rps", "1-row sequential, req/s", False),
        ("seq_p50_ms", "1-row sequential p50, ms", True),
        ("seq_p99_ms", "1-row sequential p99, ms", True),
        ("conc_rps", f"1-row, {result['args']['threads']} client threads, req/s", False),
        ("batch_rows_per_s", f"{result['args']['batch_rows']}-row batches, rows/s", False),
        ("cold_start_s", "cold start to first prediction, s", True),
        ("rss_mb", "RSS after load, MB", True),
    ]
    servers = [s for s in table if "error" not in table[s]]
    peers = [s for s in servers if not s.startswith("flywheel")]
    head = (
        "| metric | "
        + " | ".join(servers)
        + " | "
        + " | ".join(f"flywheel vs {p}" for p in peers)
        + " |"
    )
    lines = [
        "# Prediction serving: Flywheel gateway vs peers",
        "",
        f"Run {result['when']} on {result['machine']['cpus']} CPUs "
        f"({result['machine']['platform']}); medians of {result['args']['repeats']} repeats "
        "round-robin; same client (stdlib http.client, keep-alive, 127.0.0.1), same digits "
        "LogisticRegression. Ratios: >1 means Flywheel is better (faster, smaller). "
        "`flywheel` asks for predictions only (like the peers); `flywheel+proba` also returns "
        "class probabilities (the default); `flywheel-sklearn` calls the estimator's own "
        "`predict` instead of the verified numpy kernel saved at registration "
        "(registry/kernels.py). Every Flywheel variant also writes each answered row (inputs, "
        "answer, version, latency) to its Parquet prediction log, as `flywheel serve start` "
        "does; the peers log nothing. Goals use `flywheel`.",
        "",
        head,
        "|" + "---|" * (1 + len(servers) + len(peers)),
    ]
    for key, label, lower in metrics:
        cells = [str(table[s].get(key)) for s in servers]
        ours = table.get("flywheel", {}).get(key)
        ratios = [str(ratio(ours, table[p].get(key), lower_is_better=lower)) for p in peers]
        lines.append(f"| {label} | " + " | ".join(cells + ratios) + " |")
    lines += ["", "Goals (issue 7) against the run above:", ""]
    for name, verdict in result["goals"].items():
        lines.append(f"- {name}: {verdict}")
    broken = {s: table[s]["error"] for s in table if "error" in table[s]}
    for server, error in broken.items():
        lines.append(f"- {server} not measured: {error}")
    loads = [r.get("loadavg_before") for v in result["runs"].values() for r in v]
    lines += [
        "",
        f"Machine load average during the run: {min(loads):.1f} to {max(loads):.1f} "
        "(other work shared the 2 cores; compare within this table only).",
        "",
    ]
    return "\n".join(lines)


def goals(table: dict[str, Any]) -> dict[str, str]:
    ours, peer = table.get("flywheel", {}), table.get("kserve", {})
    if "error" in ours:
        return {"all": "flywheel not measured"}
    out = {}

    def judge(name: str, value: float | None, goal: float, lower: bool) -> None:
        if value is None:
            out[name] = "not measured"
            return
        met = value <= goal if lower else value >= goal
        out[name] = (
            f"{value} ({'met' if met else 'NOT met'}; goal {'<=' if lower else '>='} {goal})"
        )

    if "error" not in peer:
        judge(
            "1-row sequential vs KServe",
            ratio(ours["seq_rps"], peer["seq_rps"]),
            GOALS["seq_rps_ratio"],
            False,
        )
        judge(
            "1-row 8 threads vs KServe",
            ratio(ours["conc_rps"], peer["conc_rps"]),
            GOALS["conc_rps_ratio"],
            False,
        )
        judge(
            "1000-row batches vs KServe",
            ratio(ours["batch_rows_per_s"], peer["batch_rows_per_s"]),
            GOALS["batch_rows_ratio"],
            False,
        )
    judge("1-row p50 ms", ours["seq_p50_ms"], GOALS["seq_p50_ms"], True)
    judge("batch rows/s", ours["batch_rows_per_s"], GOALS["batch_rows_per_s"], False)
    judge("cold start s", ours["cold_start_s"], GOALS["cold_start_s"], True)
    judge("RSS MB", ours["rss_mb"], GOALS["rss_mb"], True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peers", default="kserve,mlflow")
    parser.add_argument("--install", action="store_true", help="create missing peer venvs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-requests", type=int, default=2000)
    parser.add_argument("--conc-requests", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--batch-rows", type=int, default=1000)
    parser.add_argument("--batch-requests", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--max-wall-s", type=float, default=60.0)
    parser.add_argument("--start-timeout", type=float, default=120.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    if args.install:
        for peer in peers:
            install(peer)
    servers = ["flywheel", "flywheel+proba", "flywheel-sklearn", *peers]
    work = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    specs = {}
    for server in servers:
        specs[server] = prepare(server, work)
        log(f"{server}: {specs[server].get('error') or specs[server]['versions']}")
    runs: dict[str, list[dict[str, Any]]] = {s: [] for s in servers}
    for repeat in range(args.repeats):
        for server in servers:
            if "error" in specs[server]:
                continue
            one = measure(server, specs[server], args)
            runs[server].append(one)
            log(
                f"repeat {repeat + 1} {server}: "
                + json.dumps(
                    {k: one.get(k) for k in ("cold_start_s", "rss_mb", "check_match", "error")}
                    | {
                        p: {k: one[p][k] for k in ("rps", "p50_ms")}
                        for p in ("seq", "conc", "batch")
                        if p in one
                    }
                )
            )
    table = {
        s: ({"error": specs[s]["error"]} if "error" in specs[s] else summarize(runs[s]))
        for s in servers
    }
    result = {
        "bench": "serve_vs_peers",
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "versions": {s: specs[s].get("versions") for s in servers},
        "table": table,
        "goals": goals(table),
        "runs": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "serve_vs_peers.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "serve_vs_peers.md").write_text(markdown(result))
    shutil.rmtree(work, ignore_errors=True)
    print(markdown(result))


if __name__ == "__main__":
    main()
