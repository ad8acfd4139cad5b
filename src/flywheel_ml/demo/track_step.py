"""The demo's track step: a few models trained on the digits inside runs, ranked, plotted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flywheel_ml.errors import FlywheelError
from flywheel_ml.reports.metric_plot import Curve, write_metric_plot
from flywheel_ml.workspace import Workspace

_DATASET = "digits@v2"


def track_step(ws: Workspace, say: Callable[[str], None]) -> list[tuple[str, str]]:
    """Train three scikit-learn models on the train split, score them on val, rank and plot."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from flywheel_ml.track import fit

    (X_train, y_train), (X_val, y_val), datasets = _splits(ws)
    source = datasets[0] if datasets else "scikit-learn's digits"
    say(f"4 track: training 3 models on {source} train ({len(y_train):,} rows), scored on val")

    def scaled(model: Any) -> Any:
        return make_pipeline(StandardScaler(), model)

    candidates: list[tuple[str, dict[str, Any], Any]] = [
        ("logreg-C1", {"kind": "linear"}, scaled(LogisticRegression(C=1.0, max_iter=300))),
        ("logreg-C0.01", {"kind": "linear"}, scaled(LogisticRegression(C=0.01, max_iter=300))),
        (
            "mlp-32",
            {"kind": "neural"},
            scaled(MLPClassifier(hidden_layer_sizes=(32,), max_iter=60, random_state=0)),
        ),
    ]
    runs = []
    for name, tags, model in candidates:
        with ws.track.start_run(name, tags=tags, datasets=datasets, seed=13) as run:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                fit(
                    model,
                    X_train,
                    y_train,
                    run=run,
                    eval_sets={"val": (X_val, y_val)},
                    coverage_threshold=0.5,
                )
            # The loss curve: the MLP's own, or the log-loss on val of a linear model's fit.
            if not hasattr(model[-1], "loss_curve_"):
                _log_val_loss(run, model, (X_train, y_train), (X_val, y_val))
        got = ws.track.get_run(run.id)
        runs.append(got)
        say(f"  {name}: val accuracy {got.metrics['val_accuracy']:.3f}, "
            f"p95 latency {got.metrics['latency_p95_ms']:.2f} ms ({got.short_id})")  # fmt: skip
    board = ws.track.leaderboard(limit=3)
    for entry in board:
        marks = (
            "meets every constraint"
            if entry.passed
            else "; ".join(
                [
                    *entry.failed_constraints,
                    *(f"{c} not measured" for c in entry.unmeasured_constraints),
                ]
            )
        )
        say(f"  #{entry.rank} {entry.run.name}: accuracy {entry.objective_value:.3f} — {marks}")
    plot = ws.root / "reports" / "loss.html"
    curves = [Curve(f"{r.name} ({r.short_id})", ws.track.metric_series(r.id, "loss")) for r in runs]
    write_metric_plot(curves, plot, title="loss")
    say(f"  loss curves written to {plot.relative_to(ws.root)}")
    return [
        ("runs", f"flywheel -C {ws.root} track list --sort -metrics.val_accuracy"),
        ("leaderboard", f"flywheel -C {ws.root} track leaderboard"),
        ("best run", f"flywheel -C {ws.root} track show {board[0].run.short_id}"),
        ("loss curves", str(plot)),
    ]


def _splits(ws: Workspace) -> tuple[tuple[Any, Any], tuple[Any, Any], list[str]]:
    """Train and val features/labels from the data step's version (or scikit-learn's copy),
    and the dataset references to record."""
    try:
        train = ws.data.load(_DATASET, split="train")
        val = ws.data.load(_DATASET, split="val")
    except FlywheelError:  # without the data step's version, use scikit-learn's copy
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        X, y = load_digits(return_X_y=True)
        X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, random_state=13)
        return (X_train, y_train), (X_val, y_val), []
    features = [c for c in train.columns if c.startswith("px")]
    return (
        (train[features].to_numpy(), train["label"].to_numpy()),
        (val[features].to_numpy(), val["label"].to_numpy()),
        [_DATASET],
    )


def _log_val_loss(run: Any, model: Any, train: tuple[Any, Any], val: tuple[Any, Any]) -> None:
    """Log-loss on val as the model is refit with more iterations: a learning curve."""
    import warnings

    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import log_loss

    for step, iterations in enumerate((5, 10, 20, 40, 80)):
        partial = clone(model).set_params(logisticregression__max_iter=iterations)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            partial.fit(*train)
        probabilities = partial.predict_proba(val[0])
        run.log_metric("loss", log_loss(val[1], probabilities, labels=list(range(10))), step=step)
