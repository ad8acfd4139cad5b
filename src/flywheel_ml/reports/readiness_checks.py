"""The 28 tests of the ML Test Score as checks over :class:`Facts`: each returns its state,
points (0.5 done once and on record, 1 checked automatically on every release), evidence and
the command that would produce a missing fact."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flywheel_ml.reports.readiness_facts import Facts, Section, State

STALE_AFTER = timedelta(days=30)

Check = Callable[[Facts], tuple[State, float, str, str]]


def _ok(evidence: str, *, automated: bool = False) -> tuple[State, float, str, str]:
    return "passed", 1.0 if automated else 0.5, evidence, ""


def _no(state: State, evidence: str, next_step: str) -> tuple[State, float, str, str]:
    return state, 0.0, evidence, next_step


def _outside(why: str) -> Check:
    return lambda _facts: _no("outside Flywheel", why, "")


def _from_stage(stage: str, word: str, next_step: str, *, automated: bool = False) -> Check:
    def check(facts: Facts) -> tuple[State, float, str, str]:
        done, evidence, _ = facts.deliverable(stage, word)
        if done:
            return _ok(evidence, automated=automated)
        return _no("not measurable yet", "", next_step)

    return check


# -- data --------------------------------------------------------------------------------------


def _schema(facts: Facts) -> tuple[State, float, str, str]:
    dataset = facts.version.dataset
    if not dataset or not facts.schema:
        return _no("not measurable yet", "", "train on a dataset version: flywheel data add ...")
    if facts.last_check is None:
        return _no(
            "not measurable yet", f"{dataset} has a schema", f"flywheel data check {dataset}"
        )
    if not facts.last_check["passed"]:
        return _no(
            "failed", f"the last check of {dataset} failed", f"flywheel data check {dataset}"
        )
    columns = len(facts.schema.get("columns", {}))
    return _ok(f"{dataset}: schema of {columns} columns, checks passed", automated=True)


# -- model -------------------------------------------------------------------------------------


def _versioned_spec(facts: Facts) -> tuple[State, float, str, str]:
    run = facts.run
    if run is None:
        return _no("not measurable yet", "", "register a model from a tracked run")
    lineage = run.lineage
    if not lineage.git_commit:
        return _no("failed", f"run {run.short_id} was not in git", "train from a git checkout")
    if lineage.git_dirty:
        return _no(
            "failed",
            f"run {run.short_id} ran with uncommitted changes ({lineage.git_commit[:10]}+diff)",
            "commit the training code and config, then retrain",
        )
    return _ok(f"run {run.short_id} at commit {lineage.git_commit[:10]}", automated=True)


def _objective(facts: Facts) -> str:
    return facts.page.objective.metric if facts.page.objective is not None else ""


def _simpler_not_better(facts: Facts) -> tuple[State, float, str, str]:
    metric = _objective(facts)
    run = facts.run
    # Simpler models only: the human level is the ceiling, not a baseline to beat.
    baselines = [
        r
        for r in facts.runs
        if ("baseline" in r.tags or r.tags.get("kind") == "baseline")
        and r.tags.get("baseline") != "human"
    ]
    if not metric or run is None or not baselines:
        return _no("not measurable yet", "", "flywheel baseline DATASET (baselines as runs)")
    # The objective as logged: itself, then its validation form, then any other form.
    keys = sorted(
        (k for k in run.metrics if k == metric or k.endswith(f"_{metric}")),
        key=lambda k: (k != metric, k != f"val_{metric}", k),
    )
    if not keys:
        return _no("not measurable yet", f"run {run.short_id} has no {metric}", "log it")
    key = keys[0]
    higher = facts.page.objective is None or facts.page.objective.direction == "max"
    scored = [(r.metrics[key], r) for r in baselines if key in r.metrics]
    if not scored:
        return _no("not measurable yet", f"no baseline logged {key}", "flywheel baseline DATASET")
    best_value, best = max(scored, key=lambda p: p[0] if higher else -p[0])
    mine = run.metrics[key]
    better = mine > best_value if higher else mine < best_value
    text = f"{key} {mine:.4g} vs best baseline {best.name} {best_value:.4g}"
    return _ok(text, automated=True) if better else _no("failed", text, "improve the model")


def _trained_by_ci(facts: Facts) -> tuple[State, float, str, str]:
    # `flywheel ci run` tags its runs; a model trained that way went through the whole
    # pipeline (data, config, training, tracking) on a clean checkout of a pushed commit.
    run = facts.run
    if run is None or "ci.commit" not in run.tags:
        return _no(
            "not measurable yet",
            "" if run is None else f"run {run.short_id} was not trained by flywheel ci",
            "flywheel ci install, then push a branch train/<config>",
        )
    branch, commit = run.tags.get("ci.branch", ""), str(run.tags["ci.commit"])
    return _ok(f"run {run.short_id} trained by CI from {branch} at {commit[:10]}", automated=True)


def _slices(facts: Facts) -> tuple[State, float, str, str]:
    evaluation = facts.evaluation
    if evaluation is None:
        return _no("not measurable yet", "", f"flywheel registry evaluate {facts.version.ref}")
    if not evaluation.slices and not evaluation.test_sets:
        return _no(
            "not measurable yet",
            f"evaluation {evaluation.id[-8:]} measured no slice",
            "flywheel data slice add DATASET NAME --where ..., then evaluate again",
        )
    broken = [
        g.name
        for g in evaluation.gates
        if g.gate == "no_regression" and g.name != "all" and not g.passed
    ]
    names = ", ".join(sorted([*evaluation.slices, *evaluation.test_sets]))
    if broken:
        return _no("failed", f"regressed on {', '.join(broken)}", "fix those slices")
    return _ok(f"measured on {names}", automated=True)


# -- infrastructure ----------------------------------------------------------------------------


def _reproducible(facts: Facts) -> tuple[State, float, str, str]:
    run, metric = facts.run, _objective(facts)
    if run is None or run.lineage.seed is None:
        return _no("not measurable yet", "", "train with a seed (seed=...) twice")
    twins = [
        r
        for r in facts.runs
        if r.id != run.id
        and r.params == run.params
        and r.lineage.seed == run.lineage.seed
        and r.datasets == run.datasets
        and r.status == "finished"
    ]
    if not twins:
        return _no(
            "not measurable yet",
            f"run {run.short_id} has no twin (same params, seed, data)",
            "train the same config with the same seed again",
        )
    keys = [k for k in run.metrics if metric and (k == metric or k.endswith(f"_{metric}"))]
    keys = keys or sorted(run.metrics)
    for twin in twins:
        same = all(abs(twin.metrics.get(k, float("nan")) - run.metrics[k]) <= 1e-9 for k in keys)
        if same:
            return _ok(f"runs {run.short_id} and {twin.short_id} agree on {', '.join(keys)}")
    return _no("failed", f"{len(twins)} twin run(s) disagree", "pin seeds and library versions")


def _behaviour_tested(facts: Facts) -> tuple[State, float, str, str]:
    evaluation = facts.evaluation
    cases = [g for g in evaluation.gates if g.gate == "behaviour"] if evaluation else []
    if not cases:
        return _no("not measurable yet", "", f"flywheel registry case add {facts.version.name} ...")
    failed = [g.name for g in cases if not g.passed]
    if failed:
        return _no("failed", f"behavioural cases failed: {', '.join(failed)}", "fix the model")
    return _ok(f"{len(cases)} behavioural case(s) pass", automated=True)


def _validated(facts: Facts) -> tuple[State, float, str, str]:
    evaluation = facts.evaluation
    if evaluation is None:
        return _no("not measurable yet", "", f"flywheel registry evaluate {facts.version.ref}")
    failed = [c.constraint for c in evaluation.constraints if not c.passed]
    failed += [g.name for g in evaluation.gates if not g.passed]
    if failed:
        return _no("failed", f"failed: {', '.join(failed)}", "fix them before serving")
    overridden = [
        m for m in facts.alias_moves if m.override and m.to_version == facts.version.version
    ]
    if overridden:
        return _no("failed", "an alias was moved to it by override", "evaluate without overrides")
    return _ok(
        f"evaluation {evaluation.id[-8:]} on {evaluation.dataset} passed every constraint",
        automated=True,
    )


def _move(kind: str, title: str, command: str) -> Check:
    def check(facts: Facts) -> tuple[State, float, str, str]:
        found = [m for m in facts.moves if m.kind == kind]
        if not found:
            version = facts.version
            return _no("not measurable yet", "", command.format(ref=version.ref, name=version.name))
        last = found[-1]
        when = last.at.isoformat(timespec="seconds") if last.at else "?"
        return _ok(f"{title} {len(found)} time(s), last {when} by {last.actor}", automated=True)

    return check


# -- monitoring --------------------------------------------------------------------------------


def _skew(facts: Facts) -> tuple[State, float, str, str]:
    served = facts.served
    if served is None or served.rows == 0:
        return _no("not measurable yet", "", "serve it and send traffic: flywheel serve start")
    expected = len(facts.version.feature_names)
    if served.widths and served.widths != {expected}:
        return _no(
            "failed", f"served rows had {sorted(served.widths)} features, trained on {expected}", ""
        )
    return _ok(f"{served.rows} served rows with the {expected} training features", automated=True)


def _stale(facts: Facts) -> tuple[State, float, str, str]:
    moves = [m for m in facts.alias_moves if m.alias == "champion"]
    if not moves:
        return _no("not measurable yet", "", f"flywheel registry alias {facts.version.name} ...")
    age = facts.now - moves[-1].at
    text = f"champion set {age.days} day(s) ago"
    return _ok(text) if age <= STALE_AFTER else _no("failed", text, "retrain and re-evaluate")


def _stable(facts: Facts) -> tuple[State, float, str, str]:
    served = facts.served
    if served is None or served.rows == 0:
        return _no("not measurable yet", "", "serve it and send traffic")
    if served.non_finite:
        return _no("failed", f"{served.non_finite} served row(s) with non-finite probabilities", "")
    return _ok(f"{served.rows} served rows, every probability finite", automated=True)


def _performance(facts: Facts) -> tuple[State, float, str, str]:
    evaluation = facts.evaluation
    if evaluation is None or "latency_p95_ms" not in evaluation.metrics:
        return _no("not measurable yet", "", f"flywheel registry evaluate {facts.version.ref}")
    latency = [c for c in evaluation.constraints if c.metric.startswith("latency")]
    p95 = evaluation.metrics["latency_p95_ms"]
    if any(not c.passed for c in latency):
        return _no("failed", f"latency p95 {p95:.3g} ms breaks the constraint", "")
    return _ok(f"latency p95 {p95:.3g} ms measured at release", automated=bool(latency))


def _quality(facts: Facts) -> tuple[State, float, str, str]:
    evaluation = facts.evaluation
    gates = [g for g in evaluation.gates if g.gate == "no_regression"] if evaluation else []
    # "no champion to compare with" and the like pass without comparing anything.
    gates = [g for g in gates if g.score is not None]
    if not gates:
        return _no("not measurable yet", "", "evaluate against a champion (no-regression gate)")
    failed = [g.name for g in gates if not g.passed]
    if failed:
        return _no("failed", f"regressed: {', '.join(failed)}", "")
    return _ok(f"no-regression gate passed ({len(gates)} check(s))", automated=True)


_CANARIED = _move("canary", "canaried", "flywheel serve canary {ref} --percent 10")
_ROLLED_BACK = _move("rollback", "rolled back", "flywheel serve rollback {name}")

TESTS: tuple[tuple[Section, str, Check], ...] = (
    ("data", "Feature expectations are captured in a schema", _schema),
    (
        "data",
        "All features are beneficial",
        _from_stage("analyze", "feature", "flywheel analyze features REF --on val"),
    ),
    ("data", "No feature's cost is too much", _outside("Flywheel records no per-feature cost")),
    ("data", "Features adhere to meta-level requirements", _outside("a policy review")),
    ("data", "The data pipeline has appropriate privacy controls", _outside("a privacy review")),
    ("data", "New features can be added quickly", _outside("a property of the team's code")),
    ("data", "All input feature code is tested", _outside("the project's own unit tests")),
    ("model", "Model specs are reviewed and submitted (versioned)", _versioned_spec),
    (
        "model",
        "Offline proxy metrics correlate with online metrics",
        _from_stage(
            "monitor", "live", "flywheel monitor labels import delayed.csv, then monitor accuracy"
        ),
    ),
    (
        "model",
        "All hyperparameters have been tuned",
        _from_stage("tune", "search", "flywheel tune search CONFIG --trials 60"),
    ),
    (
        "model",
        "The impact of model staleness is known",
        _from_stage("monitor", "stale", 'flywheel monitor rules add "age(champion) > 30d"'),
    ),
    ("model", "A simpler model is not better", _simpler_not_better),
    ("model", "Model quality is sufficient on important data slices", _slices),
    ("model", "The model is tested for considerations of inclusion", _slices),
    ("infrastructure", "Training is reproducible", _reproducible),
    ("infrastructure", "Model specs are unit tested", _behaviour_tested),
    (
        "infrastructure",
        "The ML pipeline is integration tested",
        _trained_by_ci,
    ),
    ("infrastructure", "Model quality is validated before serving", _validated),
    (
        "infrastructure",
        "The model is debuggable",
        _from_stage("analyze", "error", "flywheel docs error-analysis REF"),
    ),
    ("infrastructure", "Models are canaried before serving", _CANARIED),
    ("infrastructure", "Serving models can be rolled back", _ROLLED_BACK),
    (
        "monitoring",
        "Dependency changes result in notification",
        _from_stage("monitor", "alerts", "flywheel monitor rules add ... --notify webhook:URL"),
    ),
    (
        "monitoring",
        "Data invariants hold for inputs",
        _from_stage("monitor", "alert rules", 'flywheel monitor rules add "psi(feature=*) > 0.2"'),
    ),
    ("monitoring", "Training and serving are not skewed", _skew),
    ("monitoring", "Models are not too stale", _stale),
    ("monitoring", "Models are numerically stable", _stable),
    ("monitoring", "Computing performance has not regressed", _performance),
    ("monitoring", "Prediction quality has not regressed", _quality),
)
