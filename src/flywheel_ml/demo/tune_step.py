"""The demo's tune step: baselines, a learning curve, a diagnosis and a small search on the
digits."""

from __future__ import annotations

from collections.abc import Callable

from flywheel_ml.workspace import Workspace

_CONFIG = """\
# A decision tree on the digits: `flywheel train configs/tree.yaml`
data: digits@v2
label: label
model: sklearn.tree.DecisionTreeClassifier
params: {max_depth: 12}
seed: 13
train_dev: 0.1
search:
  max_depth: {int: [2, 24]}
  min_samples_leaf: {int: [1, 16], log: true}
  criterion: {choice: [gini, entropy]}
"""


def tune_step(ws: Workspace, say: Callable[[str], None]) -> list[tuple[str, str]]:
    """Baselines (floor) and a simulated human level (ceiling), a learning curve with its
    verdict, a bias/variance diagnosis and a coarse-to-fine search of 8 trials."""
    from flywheel_ml.reports.tune_plots import write_learning_curve, write_study_plots
    from flywheel_ml.tune import parse_config

    say("5 tune: baselines on digits@v2 (each a run tagged baseline)")
    for run in ws.tune.baselines("digits@v2"):
        say(f"  {run.tags['baseline']}: val accuracy {run.metrics['val_accuracy']:.3f}")
    ws.tune.record_human_baseline(
        0.98, note="simulated: the demo has no annotators; a typical human level for digits"
    )
    say("  human level 0.980 recorded as the ceiling (simulated)")
    path = ws.root / "configs" / "tree.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(_CONFIG, encoding="utf-8")
    config = parse_config(_CONFIG, source=str(path))
    curve = ws.tune.learning_curve(config, sizes=(0.25, 0.5, 1.0))
    curve_plot = write_learning_curve(curve, ws.root / "reports" / "learning-curve.html")
    say(f"  learning curve of the tree: {curve.verdict}")
    run = ws.tune.train(config, config_text=_CONFIG, name="tree")
    found = ws.tune.diagnose(run.id)
    say(f"  diagnosis of {run.name} ({run.short_id}): train error {found.train_error:.3f}, "
        f"val error {found.val_error:.3f} -> {found.dominant.replace('_', ' ')}; "
        f"first remedy: {found.remedies[0]}")  # fmt: skip
    result = ws.tune.search(config, study="tree", n_trials=8)
    say(f"  search: {result.completed} trials (4 random, 4 TPE in the narrowed space), best "
        f"val accuracy {result.best_value:.3f} with {result.best_params}")  # fmt: skip
    report = ws.tune.study_report("tree")
    plots = write_study_plots(report.handle, ws.root / "reports" / "tree")
    return [
        ("baselines", f"flywheel -C {ws.root} track list --where 'tags.kind = baseline'"),
        ("learning curve", str(curve_plot)),
        ("diagnosis", f"flywheel -C {ws.root} tune diagnose {run.short_id}"),
        ("search", f"flywheel -C {ws.root} tune show tree"),
        ("search history", str(plots["history"])),
    ]
