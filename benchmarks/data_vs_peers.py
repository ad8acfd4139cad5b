"""Dataset versioning: Flywheel against DVC, git-lfs and xvc on the same files, in one run.

The work is the one of ``dvc_bench.py`` / ``dataversion_peers_bench.py`` (the shared peer
benchmarks): ``--n-files`` random files of ``--file-kb`` KiB in folders of 100 (``small/``) and
one random file of ``--big-mb`` MiB (``big.bin``), generated once under ``--work``/data and copied
into a fresh repository or workspace per repeat (untimed, then ``sync``). Steps, each the wall
clock of one command (process start and imports included), measured after ``os.sync()``:

  add_small        record small/ as a version      (flywheel data add small --name small)
  add_big          record big.bin                  (flywheel data add big.bin --name big)
  status_clean     is the folder unchanged?        (flywheel data status small)
  add_small_noop   add again, nothing changed
  status_dirty     after overwriting --modify files
  add_small_incr   add those changes
  checkout         restore small/ and big.bin after deleting them
                   (flywheel data export small@latest / big@latest)

Flywheel also reports ``add_big_link`` (``--link``: hardlink into the store), the in-process
time of a no-op add and of status (the library call, imports done), and ``load`` of a
``--rows``-row table against ``pandas.read_parquet`` on the very Parquet object it reads.
Peers whose add is two commands (git-lfs: ``git add`` + ``git commit``) are charged both.

Peers come from their own places (a peer that is missing is skipped and named in the result):
DVC from ``/tmp/peers/dvc/venv`` (``install_dq_peers.sh``), git-lfs from Debian
(``apt-get install git-lfs``), xvc from ``/tmp/peers/xvc/venv`` (``pip install xvc``).

Usage::

    .venv/bin/python benchmarks/data_vs_peers.py [--repeats 3] [--big-mb 2048] \
        [--peers dvc,gitlfs,xvc]

Writes ``benchmarks/results/data_vs_peers.json`` and ``benchmarks/results/data_vs_peers.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
FLYWHEEL = str(Path(sys.executable).with_name("flywheel"))
STEPS = (
    ("add_small", "<= 1.0 s", 1.0),
    ("add_big", "<= 1.5 s", 1.5),
    ("status_clean", "<= 0.25 s", 0.25),
    ("add_small_noop", "<= 0.25 s", 0.25),
    ("status_dirty", "", None),
    ("add_small_incr", "<= 0.3 s", 0.3),
    ("checkout", "", None),
)
PEER_STEPS = {
    # step -> the peer's keys whose times add up to the same work
    "gitlfs": {
        "add_small": ("add_small_s", "commit_small_s"),
        "add_big": ("add_big_s", "commit_big_s"),
        "add_small_incr": ("add_small_incr_s", "commit_incr_s"),
    },
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


# --------------------------------------------------------------------------- data


def small_path(root: Path, i: int) -> Path:
    return root / "small" / f"d{i // 100:03d}" / f"f{i:06d}.bin"


def ensure_data(
    root: Path, n_files: int, file_kb: int, big_mb: int, seed: int = 0
) -> dict[str, Any]:
    """The same files and manifest as the shared ``dq_data.py``, so the peers reuse them."""
    want = {"n_files": n_files, "file_kb": file_kb, "big_mb": big_mb, "seed": seed}
    manifest = root / "manifest.json"
    if manifest.exists() and json.loads(manifest.read_text()) == want:
        return {"generated": False, **want}
    started = time.perf_counter()
    shutil.rmtree(root / "small", ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for i in range(n_files):
        path = small_path(root, i)
        if i % 100 == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(file_kb * 1024))
    with (root / "big.bin").open("wb") as handle:
        left = big_mb * 1024 * 1024
        while left:
            n = min(64 << 20, left)
            handle.write(rng.randbytes(n))
            left -= n
    os.sync()
    manifest.write_text(json.dumps(want))
    return {"generated": True, "gen_s": round(time.perf_counter() - started, 2), **want}


def modify_small(root: Path, n: int, n_files: int, seed: int) -> None:
    """Overwrite ``n`` evenly spread small files with new bytes (as the peers' benchmarks do)."""
    rng = random.Random(seed)
    step = max(1, n_files // n)
    for i in list(range(0, n_files, step))[:n]:
        path = small_path(root, i)
        path.write_bytes(rng.randbytes(path.stat().st_size))


# --------------------------------------------------------------------------- flywheel


def timed(args: list[str], cwd: Path) -> float:
    os.sync()
    started = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{args} failed: {done.stderr[-2000:]}")
    return round(elapsed, 4)


def inproc(call: Any, repeats: int = 5) -> float:
    call()  # warm: imports and caches, as in a long-lived process
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 4)


def flywheel_repeat(work: Path, data: Path, rep: int, args: argparse.Namespace) -> dict[str, Any]:
    import flywheel_ml as fw

    ws = work / f"fw{rep}"
    shutil.rmtree(ws, ignore_errors=True)
    subprocess.run([FLYWHEEL, "init", str(ws)], check=True, capture_output=True)
    shutil.copytree(data / "small", ws / "small")
    shutil.copyfile(data / "big.bin", ws / "big.bin")
    out: dict[str, Any] = {"load_avg_start": load_average()}
    data_cmd = [FLYWHEEL, "data"]
    out["add_small_s"] = timed([*data_cmd, "add", "small", "--name", "small"], ws)
    out["add_big_s"] = timed([*data_cmd, "add", "big.bin", "--name", "big"], ws)
    out["status_clean_s"] = timed([*data_cmd, "status", "small"], ws)
    out["add_small_noop_s"] = timed([*data_cmd, "add", "small", "--name", "small"], ws)
    with fw.open_workspace(ws) as workspace:
        out["add_small_noop_inproc_s"] = inproc(
            lambda: workspace.data.add(ws / "small", name="small")
        )
        out["status_clean_inproc_s"] = inproc(lambda: workspace.data.status("small"))
    modify_small(ws, args.modify, args.n_files, seed=1000 + rep)
    out["status_dirty_s"] = timed([*data_cmd, "status", "small"], ws)
    out["add_small_incr_s"] = timed([*data_cmd, "add", "small", "--name", "small"], ws)
    shutil.rmtree(ws / "small")
    (ws / "big.bin").unlink()
    os.sync()
    # The goal is for the 20k files; the peers restore both in one command, so the
    # compared row is the sum and each part is reported too.
    out["checkout_small_s"] = timed([*data_cmd, "export", "small@latest", "--to", "small"], ws)
    out["checkout_big_s"] = timed([*data_cmd, "export", "big@latest", "--to", "."], ws)
    out["checkout_s"] = round(out["checkout_small_s"] + out["checkout_big_s"], 4)
    restored = sum(len(files) for _, _, files in os.walk(ws / "small"))
    out["checkout_ok"] = restored == args.n_files and (ws / "big.bin").stat().st_size == (
        args.big_mb << 20
    )
    verify = subprocess.run(
        [FLYWHEEL, "verify", "--json"], cwd=ws, capture_output=True, text=True, check=False
    )
    out["verify_ok"] = verify.returncode == 0 and json.loads(verify.stdout)["ok"]
    # --link: hardlink the big file into the store (a fresh workspace, so nothing is deduplicated).
    link_ws = work / f"fwlink{rep}"
    shutil.rmtree(link_ws, ignore_errors=True)
    subprocess.run([FLYWHEEL, "init", str(link_ws)], check=True, capture_output=True)
    shutil.copyfile(data / "big.bin", link_ws / "big.bin")
    out["add_big_link_s"] = timed([*data_cmd, "add", "big.bin", "--name", "big", "--link"], link_ws)
    out["load_avg_end"] = load_average()
    if not args.keep:
        shutil.rmtree(ws, ignore_errors=True)
        shutil.rmtree(link_ws, ignore_errors=True)
    return out


def load_bench(work: Path, rows: int, repeats: int) -> dict[str, Any]:
    """``ws.data.load`` of a table against ``pandas.read_parquet`` of the same stored Parquet."""
    import numpy as np
    import pandas as pd

    import flywheel_ml as fw

    ws_dir = work / "fwload"
    shutil.rmtree(ws_dir, ignore_errors=True)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(8)})
    frame.insert(0, "id", [f"row{i}" for i in range(rows)])
    frame["label"] = rng.integers(0, 10, size=rows)
    with fw.init_workspace(ws_dir) as ws:
        started = time.perf_counter()
        version = ws.data.add(frame, name="big_table", label="label", id="id")
        add_s = time.perf_counter() - started
        part = ws.data.manifest(version)["parts"][0]["object"]
        path = ws.objects.path_of(part)

        def pandas_read() -> None:
            pd.read_parquet(path)

        result = {
            "rows": rows,
            "add_table_s": round(add_s, 4),
            "pandas_read_parquet_s": inproc(pandas_read, repeats),
            "load_all_s": inproc(lambda: ws.data.load(version.ref), repeats),
            "load_train_s": inproc(lambda: ws.data.load(version.ref, split="train"), repeats),
            "load_arrow_s": inproc(lambda: ws.data.load(version.ref, as_arrow=True), repeats),
        }
    shutil.rmtree(ws_dir, ignore_errors=True)
    result["load_ratio"] = round(result["load_all_s"] / result["pandas_read_parquet_s"], 2)
    return result


# --------------------------------------------------------------------------- peers


def last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            parsed: dict[str, Any] = json.loads(line)
            return parsed
    raise ValueError("no JSON line in the peer's output")


def run_peer(name: str, args: argparse.Namespace) -> dict[str, Any]:
    peers = Path(args.peers_dir)
    common = ["--work", str(args.work), "--n-files", str(args.n_files), "--file-kb",
              str(args.file_kb), "--big-mb", str(args.big_mb), "--modify", str(args.modify),
              "--repeats", str(args.repeats), "--tests", "add,checkout"]  # fmt: skip
    if name == "dvc":
        python = Path(args.dvc_python)
        if not python.exists() or not (peers / "dvc_bench.py").exists():
            return {"skipped": f"DVC not installed at {python} (run install_dq_peers.sh dvc)"}
        command = [str(python), str(peers / "dvc_bench.py"), *common]
    else:
        tool = {"gitlfs": "gitlfs", "xvc": "xvc"}[name]
        if tool == "gitlfs" and shutil.which("git-lfs") is None:
            return {"skipped": "git-lfs not installed (apt-get install git-lfs)"}
        if tool == "xvc" and not Path(args.xvc_python).exists():
            return {"skipped": f"xvc not installed at {args.xvc_python} (pip install xvc)"}
        command = [sys.executable, str(peers / "dataversion_peers_bench.py"), "--tools", tool,
                   "--xvc-python", args.xvc_python, *common]  # fmt: skip
    log(f"peer {name}: {' '.join(command)}")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"skipped": f"{name} benchmark failed: {done.stderr.strip()[-500:]}"}
    return normalize_peer(name, last_json(done.stdout))


def normalize_peer(name: str, result: dict[str, Any]) -> dict[str, Any]:
    """Put the per-tool summary of ``dataversion_peers_bench.py`` at ``summary``."""
    if name == "dvc" or "results" not in result:
        return result
    tool = result["results"].get(name, {})
    if not tool.get("summary"):
        errors = "; ".join(tool.get("errors", []))[:500] or "no successful repeat"
        return {**result, "summary": None, "skipped": f"{name} did not complete: {errors}"}
    return {**result, "summary": tool["summary"]}


def peer_step(name: str, summary: dict[str, Any], step: str) -> float | None:
    keys = PEER_STEPS.get(name, {}).get(step, (f"{step}_s",))
    total = 0.0
    for key in keys:
        value = summary.get(key)
        if isinstance(value, dict):
            value = value.get("median")
        if value is None:
            return None if key == keys[0] else total
        total += float(value)
    return round(total, 4)


# --------------------------------------------------------------------------- report


def summarize(reps: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [k for k in reps[0] if k.endswith("_s")]
    return {
        k: {
            "median": round(statistics.median(r[k] for r in reps), 4),
            "min": round(min(r[k] for r in reps), 4),
            "max": round(max(r[k] for r in reps), 4),
        }
        for k in keys
    }


def build_rows(ours: dict[str, Any], peers: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for step, goal, limit in STEPS:
        mine = ours[f"{step}_s"]["median"]
        theirs = {
            name: peer_step(name, result.get("summary") or {}, step)
            for name, result in peers.items()
            if "skipped" not in result
        }
        known = [v for v in theirs.values() if v is not None]
        best = min(known) if known else None
        rows.append({
            "step": step,
            "goal": goal,
            "flywheel_s": mine,
            "meets_goal": None if limit is None else mine <= limit,
            "peers_s": theirs,
            "best_peer_s": best,
            "best_peer_over_flywheel": None if best is None else round(best / mine, 2),
        })  # fmt: skip
    return rows


def markdown(result: dict[str, Any]) -> str:
    args = result["args"]
    peers = result["peers"]
    names = [n for n in peers if "skipped" not in peers[n]]
    lines = [
        "# Dataset versioning: Flywheel vs DVC, git-lfs, xvc",
        "",
        f"Same run, same machine ({result['env']['cpus']} CPUs; load average "
        f"{result['env']['load_avg_start']} at start, {result['env']['load_avg_end']} at the "
        "end: above 2 the machine was shared and absolute times are inflated, compare the "
        "ratio column), warm page cache. Data: "
        f"{args['n_files']:,} files of {args['file_kb']} KiB and one {args['big_mb']:,} MiB file; "
        f"{args['modify']} files modified for the incremental steps; median of "
        f"{args['repeats']} repeats, wall clock of each command including process start.",
        "",
        "| step | goal | Flywheel (s) | "
        + " | ".join(f"{n} (s)" for n in names)
        + " | best peer / Flywheel |",
        "|---|---|---:|" + "---:|" * len(names) + "---:|",
    ]
    for row in result["rows"]:
        cells = [
            "-" if row["peers_s"].get(n) is None else f"{row['peers_s'][n]:.3f}" for n in names
        ]
        ratio = row["best_peer_over_flywheel"]
        met = "" if row["meets_goal"] is None else (" ✔" if row["meets_goal"] else " ✘")
        lines.append(
            f"| {row['step']} | {row['goal']}{met} | {row['flywheel_s']:.3f} | "
            + " | ".join(cells)
            + f" | {'-' if ratio is None else f'{ratio:.2f}x'} |"
        )
    ours = result["flywheel"]["summary"]
    repeats = result["flywheel"]["repeats"]
    load = result["load"]
    lines += [
        "",
        "Flywheel only:",
        "",
        f"- checkout split in its parts: the 20,000 files "
        f"{ours['checkout_small_s']['median']:.3f} s (goal <= 2 s: "
        f"{'met' if ours['checkout_small_s']['median'] <= 2.0 else 'missed'}), big.bin "
        f"{ours['checkout_big_s']['median']:.3f} s",
        f"- `add big.bin --link` (hardlink): {ours['add_big_link_s']['median']:.3f} s",
        f"- no-op add in process: {ours['add_small_noop_inproc_s']['median']:.4f} s; "
        f"status in process: {ours['status_clean_inproc_s']['median']:.4f} s (goal <= 0.05 s)",
        f"- `load` of {load['rows']:,} rows: {load['load_all_s']:.3f} s vs "
        f"`pandas.read_parquet` of the same file {load['pandas_read_parquet_s']:.3f} s "
        f"(ratio {load['load_ratio']}, goal <= 2); train split only {load['load_train_s']:.3f} s",
        f"- checkout restored every file: {all(r['checkout_ok'] for r in repeats)}; "
        f"`flywheel verify` clean: {all(r['verify_ok'] for r in repeats)}",
        "",
    ]
    skipped = {n: p["skipped"] for n, p in peers.items() if "skipped" in p}
    if skipped:
        lines += ["Skipped peers:", ""] + [f"- {n}: {why}" for n, why in skipped.items()] + [""]
    lines += [
        "Peers whose add is two commands are charged both (git-lfs: `git add` + `git commit`). "
        "xvc's `status_clean` is `xvc file list`. Reproduce: `.venv/bin/python "
        "benchmarks/data_vs_peers.py " + " ".join(result["argv"]) + "`.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", default="/tmp/dqbench")
    parser.add_argument("--n-files", type=int, default=20000)
    parser.add_argument("--file-kb", type=int, default=4)
    parser.add_argument("--big-mb", type=int, default=2048)
    parser.add_argument("--modify", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--peers", default="dvc,gitlfs,xvc")
    parser.add_argument("--peers-dir", default="/work/shared/bench/peers")
    parser.add_argument("--dvc-python", default="/tmp/peers/dvc/venv/bin/python")
    parser.add_argument("--xvc-python", default="/tmp/peers/xvc/venv/bin/python")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--out", default=str(RESULTS / "data_vs_peers"))
    parser.add_argument("--render", help="only re-render the Markdown of this results JSON")
    args = parser.parse_args()
    if args.render:
        saved = json.loads(Path(args.render).read_text())
        saved["peers"] = {n: normalize_peer(n, p) for n, p in saved["peers"].items()}
        saved["rows"] = build_rows(saved["flywheel"]["summary"], saved["peers"])
        Path(args.render).write_text(json.dumps(saved, indent=2, default=str) + "\n")
        Path(args.render).with_suffix(".md").write_text(markdown(saved))
        return
    work = Path(args.work)
    data = work / "data"
    env = {"cpus": os.cpu_count(), "python": platform.python_version(),
           "platform": platform.platform(), "load_avg_start": load_average()}  # fmt: skip
    generated = ensure_data(data, args.n_files, args.file_kb, args.big_mb)
    log(f"data ready: {generated}")
    reps = []
    for rep in range(args.repeats):
        log(f"flywheel repeat {rep}")
        reps.append(flywheel_repeat(work, data, rep, args))
        log(json.dumps(reps[-1]))
    log("load benchmark")
    load = load_bench(work, args.rows, args.repeats)
    log(json.dumps(load))
    peers: dict[str, dict[str, Any]] = {}
    for name in [p for p in args.peers.split(",") if p]:
        peers[name] = run_peer(name, args)
        log(f"{name}: {json.dumps(peers[name].get('summary', peers[name]))[:600]}")
    ours = summarize(reps)
    env["load_avg_end"] = load_average()
    result = {
        "bench": "data_vs_peers",
        "env": env,
        "argv": sys.argv[1:],
        "args": {k: v for k, v in vars(args).items() if k not in {"keep", "out"}},
        "data": generated,
        "flywheel": {"repeats": reps, "summary": ours},
        "load": load,
        "peers": peers,
        "rows": build_rows(ours, peers),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
