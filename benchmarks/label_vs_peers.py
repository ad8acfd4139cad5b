"""Label errors vs cleanlab, agreement vs scikit-learn/krippendorff, Dawid–Skene recovery.

Three parts, one run:

1. **Label errors.** ``make_classification(N, 20 features, 10 informative, 5 redundant,
   10 classes, class_sep 1.5)`` with 10% or 20% of the labels replaced by another class (known
   indices). Probabilities: 5-fold out-of-fold ``LogisticRegression(max_iter=200)`` for
   N <= 100k (the realistic workflow), a Dirichlet "model" ``p ~ Dir(1 + 5 * onehot(true))``
   at 1M (as in /work/shared/bench/peers/cleanlab_bench.py). The SAME labels and probabilities
   (written to .npy) go to cleanlab 2.9 ``cleanlab.filter.find_label_issues(labels, pred_probs)``
   in its own venv (/tmp/peers/cleanlab/venv) and to Flywheel's
   ``flywheel_ml.label.suspects.find_suspects``. Precision / recall / F1 of the flagged set vs
   the injected errors; time = median of the repeats of the call alone (probabilities and
   imports not timed); repeats alternate between the two tools.
2. **Agreement** on 1M items x 3 annotators x 5 classes (each annotator right with p=0.8):
   Flywheel's ``measures`` (Cohen per pair, Fleiss, Krippendorff nominal + ordinal) vs
   scikit-learn ``cohen_kappa_score`` per pair and ``krippendorff.alpha`` (nominal, ordinal);
   values compared to 1e-9. Also with 10% missing ratings.
3. **Dawid–Skene** on 100k items x 10 sources x 5 classes, source accuracies spread over
   0.55-0.95, 30% abstentions: largest error of the estimated source accuracies.

Usage::

    .venv/bin/python benchmarks/label_vs_peers.py [--repeats 3] [--sizes 10000,100000,1000000]
        [--seed 0]

Writes ``benchmarks/results/label_vs_peers.json`` and ``.md``.
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
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
CLEANLAB = Path("/tmp/peers/cleanlab/venv/bin/python")

PEER_SCRIPT = r"""
import json, sys, time
import numpy as np
from cleanlab.filter import find_label_issues
folder, repeats = sys.argv[1], int(sys.argv[2])
labels = np.load(folder + "/labels.npy")
probs = np.load(folder + "/probs.npy")
times = []
for _ in range(repeats):
    t0 = time.perf_counter()
    mask = find_label_issues(labels, probs)
    times.append(time.perf_counter() - t0)
np.save(folder + "/cleanlab_mask.npy", mask)
import cleanlab
print(json.dumps({"times": times, "version": cleanlab.__version__}))
"""


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


def make_data(n: int, k: int, noise: float, seed: int) -> tuple[Any, Any, Any, Any]:
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n,
        n_features=20,
        n_informative=10,
        n_redundant=5,
        n_classes=k,
        n_clusters_per_class=1,
        flip_y=0.0,
        class_sep=1.5,
        random_state=seed,
    )
    rng = np.random.default_rng(seed + 1)
    idx = rng.choice(n, size=round(noise * n), replace=False)
    labels = y.copy()
    labels[idx] = (y[idx] + rng.integers(1, k, size=idx.size)) % k
    truth = np.zeros(n, dtype=bool)
    truth[idx] = True
    return X.astype(np.float32), y, labels, truth


def probabilities(X: Any, y: Any, labels: Any, k: int, *, oof: bool, seed: int) -> Any:
    if oof:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
        return cross_val_predict(
            LogisticRegression(max_iter=200), X, labels, cv=cv, method="predict_proba"
        )
    rng = np.random.default_rng(seed + 2)
    alpha = np.ones((len(y), k))
    alpha[np.arange(len(y)), y] += 5.0
    g = rng.standard_gamma(alpha)
    return g / g.sum(axis=1, keepdims=True)


def quality(mask: Any, truth: Any) -> dict[str, Any]:
    tp = int((mask & truth).sum())
    flagged, true = int(mask.sum()), int(truth.sum())
    p = tp / flagged if flagged else 0.0
    r = tp / true if true else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "flagged": flagged,
        "true_errors": true,
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(f1, 4),
    }


def label_errors(
    sizes: list[int], noises: list[float], repeats: int, *, seed: int = 0
) -> list[dict[str, Any]]:
    from flywheel_ml.label.suspects import find_suspects

    rows = []
    k = 10
    for noise in noises:
        for n in sizes:
            oof = n <= 100_000
            X, y, labels, truth = make_data(n, k, noise, seed)
            t0 = time.perf_counter()
            probs = np.asarray(probabilities(X, y, labels, k, oof=oof, seed=seed), dtype=np.float64)
            prob_s = time.perf_counter() - t0
            # Repeats alternate peer and Flywheel, so changing background load hits both.
            peer_times: list[float] = []
            times: list[float] = []
            found = None
            with tempfile.TemporaryDirectory() as folder:
                np.save(f"{folder}/labels.npy", labels)
                np.save(f"{folder}/probs.npy", probs)
                for _ in range(repeats):
                    out = subprocess.run(
                        [str(CLEANLAB), "-c", PEER_SCRIPT, folder, "1"],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    peer = json.loads(out.stdout.strip().splitlines()[-1])
                    peer_times += peer["times"]
                    t0 = time.perf_counter()
                    found = find_suspects(labels, probs)
                    times.append(time.perf_counter() - t0)
                peer_mask = np.load(f"{folder}/cleanlab_mask.npy")
            assert found is not None
            mask = np.zeros(n, dtype=bool)
            mask[found.indices] = True
            row = {
                "n": n,
                "noise": noise,
                "probs": "oof-logreg" if oof else "dirichlet",
                "prob_s": round(prob_s, 2),
                "cleanlab_version": peer["version"],
                "cleanlab_s": _median(peer_times),
                "flywheel_s": _median(times),
                "cleanlab": quality(peer_mask, truth),
                "flywheel": quality(mask, truth),
                "flywheel_estimated_errors": found.estimated_errors,
            }
            row["speedup"] = round(row["cleanlab_s"] / row["flywheel_s"], 1)
            print(
                f"noise {noise} n {n}: cleanlab {row['cleanlab']} {row['cleanlab_s']:.3f}s | "
                f"flywheel {row['flywheel']} {row['flywheel_s']:.4f}s",
                file=sys.stderr,
            )
            rows.append(row)
            del X, probs
    return rows


def agreement(n: int, repeats: int) -> list[dict[str, Any]]:
    import krippendorff
    from sklearn.metrics import cohen_kappa_score

    from flywheel_ml.label.agreement import measures

    rows = []
    for missing in (0.0, 0.1):
        rng = np.random.default_rng(0)
        truth = rng.integers(0, 5, n)
        r = np.stack(
            [np.where(rng.random(n) < 0.8, truth, rng.integers(0, 5, n)) for _ in range(3)], axis=1
        )
        if missing:
            r[rng.random(r.shape) < missing] = -1
        ours, times = None, []
        for _ in range(repeats):
            t0 = time.perf_counter()
            ours = measures(r)
            times.append(time.perf_counter() - t0)
        assert ours is not None
        t0 = time.perf_counter()
        cohen = {}
        for a, b in ours.cohen:
            both = (r[:, a] >= 0) & (r[:, b] >= 0)
            cohen[(a, b)] = cohen_kappa_score(r[both, a], r[both, b])
        sk_s = time.perf_counter() - t0
        data = r.T.astype(float)
        data[data < 0] = np.nan
        t0 = time.perf_counter()
        nominal = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
        ordinal = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal")
        kr_s = time.perf_counter() - t0
        gaps = [abs(cohen[p] - ours.cohen[p]) for p in cohen]
        gaps += [abs(nominal - ours.alpha_nominal), abs(ordinal - ours.alpha_ordinal)]
        diff = max(gaps)
        row = {
            "items": n,
            "annotators": 3,
            "classes": 5,
            "missing": missing,
            "flywheel_s": _median(times),
            "sklearn_cohen_s": sk_s,
            "krippendorff_s": kr_s,
            "reference_s": sk_s + kr_s,
            "max_abs_diff": diff,
            "fleiss_kappa": ours.fleiss_kappa,
            "alpha_nominal": ours.alpha_nominal,
            "alpha_ordinal": ours.alpha_ordinal,
        }
        print(f"agreement missing={missing}: {row}", file=sys.stderr)
        rows.append(row)
    return rows


def dawid_skene_recovery(n: int, m: int, repeats: int) -> dict[str, Any]:
    from flywheel_ml.label.aggregation import dawid_skene, majority_vote

    k = 5
    rng = np.random.default_rng(0)
    truth = rng.integers(0, k, n)
    accuracy = np.linspace(0.55, 0.95, m)
    wrong = (truth[:, None] + rng.integers(1, k, (n, m))) % k
    votes = np.where(rng.random((n, m)) < accuracy, truth[:, None], wrong)
    votes[rng.random((n, m)) < 0.3] = -1
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = dawid_skene(votes, k=k)
        times.append(time.perf_counter() - t0)
    assert result is not None
    realised = np.array(
        [(votes[votes[:, s] >= 0, s] == truth[votes[:, s] >= 0]).mean() for s in range(m)]
    )
    return {
        "items": n,
        "sources": m,
        "classes": k,
        "abstain": 0.3,
        "true_accuracy": accuracy.round(4).tolist(),
        "estimated_accuracy": np.round(result.accuracy, 4).tolist(),
        "max_abs_error_vs_generating": float(np.abs(result.accuracy - accuracy).max()),
        "max_abs_error_vs_realised": float(np.abs(result.accuracy - realised).max()),
        "label_accuracy": float((result.label == truth).mean()),
        "majority_label_accuracy": float((majority_vote(votes, k=k).label == truth).mean()),
        "iterations": result.iterations,
        "seconds": _median(times),
    }


def render(report: dict[str, Any]) -> str:
    lines = [
        "# Label stage: label errors vs cleanlab, agreement vs reference packages, Dawid–Skene",
        "",
        f"Run {report['started']} on a {report['cpus']}-core machine "
        f"(load average {report['load']}; above 2 the machine was shared): "
        "compare ratios within one row. Same labels and probabilities for both tools "
        f"(label-error data seed {report.get('seed', 0)}).",
        "",
        "## Label errors (flagged set vs the injected wrong labels)",
        "",
        "| noise | N | probs | tool | flagged | precision | recall | F1 | seconds | "
        "Flywheel faster by |",
        "|---:|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["label_errors"]:
        for tool in ("cleanlab", "flywheel"):
            q = r[tool]
            speed = f"{r['speedup']}x" if tool == "cleanlab" else ""
            lines.append(
                f"| {r['noise']:.0%} | {r['n']:,} | {r['probs']} | {tool} | "
                f"{q['flagged']:,} | {q['precision']:.3f} | {q['recall']:.3f} | "
                f"{q['f1']:.3f} | {r[tool + '_s']:.4f} | {speed} |"
            )
    lines += [
        "",
        "## Agreement (1M items x 3 annotators x 5 classes)",
        "",
        "| missing | Flywheel (Cohen x3 + Fleiss + alpha nominal + ordinal) s | "
        "sklearn Cohen x3 s | krippendorff nominal+ordinal s | ratio | max abs diff |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["agreement"]:
        ratio = r["reference_s"] / r["flywheel_s"]
        lines.append(
            f"| {r['missing']:.0%} | {r['flywheel_s']:.3f} | {r['sklearn_cohen_s']:.3f} | "
            f"{r['krippendorff_s']:.3f} | {ratio:.1f}x | {r['max_abs_diff']:.1e} |"
        )
    ds = report["dawid_skene"]
    lines += [
        "",
        f"## Dawid–Skene ({ds['items']:,} items x {ds['sources']} sources, "
        f"{ds['abstain']:.0%} abstentions)",
        "",
        f"- largest error of the estimated source accuracies: "
        f"{ds['max_abs_error_vs_generating']:.4f} vs the generating accuracies, "
        f"{ds['max_abs_error_vs_realised']:.4f} vs the realised ones",
        f"- label accuracy {ds['label_accuracy']:.4f} (majority vote "
        f"{ds['majority_label_accuracy']:.4f}); {ds['iterations']} EM iterations in "
        f"{ds['seconds']:.2f} s",
        "",
        "## Goals",
        "",
    ]
    lines += [
        f"- {g['goal']}: **{'met' if g['met'] else 'MISSED'}** ({g['detail']})"
        for g in report["goals"]
    ]
    lines += [
        "",
        f"Wall time of the whole run: {report['wall_s']:.0f} s. Reproduce: "
        "`.venv/bin/python benchmarks/label_vs_peers.py` (cleanlab 2.9 in "
        "/tmp/peers/cleanlab/venv: `python3 -m venv /tmp/peers/cleanlab/venv && "
        "/tmp/peers/cleanlab/venv/bin/pip install 'cleanlab==2.9.*' scikit-learn`).",
        "",
    ]
    return "\n".join(lines)


def goals(report: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    errors = report["label_errors"]
    for metric in ("precision", "recall", "f1"):
        worse = [
            f"{r['noise']:.0%}/{r['n']:,}"
            for r in errors
            if r["flywheel"][metric] < r["cleanlab"][metric]
        ]
        out.append(
            {
                "goal": f"label-error {metric} >= cleanlab's in every row",
                "met": not worse,
                "detail": "worse in " + ", ".join(worse) if worse else "all rows",
            }
        )
    at_1m = [r["speedup"] for r in errors if r["n"] >= 1_000_000]
    out.append(
        {
            "goal": ">= 10x faster than cleanlab at 1M",
            "met": bool(at_1m) and min(at_1m) >= 10,
            "detail": ", ".join(f"{s}x" for s in at_1m),
        }
    )
    full = [r for r in report["agreement"] if r["items"] >= 1_000_000]
    out.append(
        {
            "goal": "agreement on 1M x 3 <= 0.2 s",
            "met": all(r["flywheel_s"] <= 0.2 for r in full),
            "detail": ", ".join(
                f"{r['flywheel_s']:.3f} s ({r['missing']:.0%} missing)" for r in full
            ),
        }
    )
    out.append(
        {
            "goal": "agreement values equal the reference packages (1e-9)",
            "met": all(r["max_abs_diff"] <= 1e-9 for r in report["agreement"]),
            "detail": f"max diff {max(r['max_abs_diff'] for r in report['agreement']):.1e}",
        }
    )
    ds = report["dawid_skene"]
    out.append(
        {
            "goal": "Dawid–Skene recovers source accuracies within 0.02",
            "met": ds["max_abs_error_vs_generating"] <= 0.02,
            "detail": f"max error {ds['max_abs_error_vs_generating']:.4f}",
        }
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--noises", default="0.1,0.2")
    parser.add_argument("--agreement-items", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0, help="Seed of the label-error data.")
    args = parser.parse_args()
    if not CLEANLAB.exists():
        sys.exit(f"cleanlab venv missing: {CLEANLAB} (see the module docstring)")
    started = time.time()
    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load": "{:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg()),
    }
    report["agreement"] = agreement(args.agreement_items, args.repeats)
    report["dawid_skene"] = dawid_skene_recovery(100_000, 10, 1)
    report["label_errors"] = label_errors(
        [int(s) for s in args.sizes.split(",")],
        [float(x) for x in args.noises.split(",")],
        args.repeats,
        seed=args.seed,
    )
    report["seed"] = args.seed
    report["wall_s"] = time.time() - started
    report["load"] += " -> {:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg())
    report["goals"] = goals(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "label_vs_peers.json").write_text(json.dumps(report, indent=2, default=str))
    (RESULTS / "label_vs_peers.md").write_text(render(report))
    print(render(report))


if __name__ == "__main__":
    main()
