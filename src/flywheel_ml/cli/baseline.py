"""``flywheel baseline DATASET`` (simple baselines) and ``flywheel baseline human --value V`` /
``--from-labels`` (the human level, given or taken from annotator agreement)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from flywheel_ml.cli.context import emit, open_ws

if TYPE_CHECKING:
    from rich.console import Console

    from flywheel_ml.track.entities import Run


def baseline_command(
    target: Annotated[
        str,
        typer.Argument(help="A dataset version (digits@v2), or 'human' to record the human level."),
    ],
    label: Annotated[str, typer.Option(help="Label column.")] = "label",
    text: Annotated[
        str | None, typer.Option(help="A text column: adds TF-IDF + logistic regression.")
    ] = None,
    value: Annotated[
        float | None, typer.Option(help="human: the human score (e.g. accuracy 0.96).")
    ] = None,
    metric: Annotated[str, typer.Option(help="human: which metric the value is.")] = "accuracy",
    note: Annotated[str, typer.Option(help="human: how it was measured.")] = "",
    from_labels: Annotated[
        bool,
        typer.Option(
            "--from-labels",
            help="human: take the annotators' mean accuracy vs consensus from label agreement.",
        ),
    ] = False,
    dataset: Annotated[
        str | None,
        typer.Option(
            help="human --from-labels: measure agreement on this dataset now "
            "(default: the newest recorded agreement)."
        ),
    ] = None,
) -> None:
    """Train the simple baselines (each a run tagged baseline) and show the floor and ceiling;
    or record the human baseline (--value, or --from-labels)."""
    from flywheel_ml.errors import InvalidInputError

    recorded = None
    with open_ws() as ws:
        if target == "human":
            if (value is None) == (not from_labels):
                raise InvalidInputError(
                    "baseline human needs exactly one of --value and --from-labels",
                    hint="e.g. --value 0.96 --note '2 annotators', or --from-labels",
                )
            if from_labels:
                if metric != "accuracy":
                    raise InvalidInputError(
                        "label agreement measures accuracy", hint="drop --metric"
                    )
                recorded = ws.tune.record_human_baseline_from_labels(dataset)
            else:
                assert value is not None
                recorded = ws.tune.record_human_baseline(value, metric=metric, note=note)
        else:
            ws.tune.baselines(target, label=label, text=text)
        runs = ws.tune.baseline_runs()
    board = _board(runs, metric)
    data: dict[str, Any] = {"metric": metric, "baselines": board}
    if recorded is not None:
        data["human"] = {
            "run": recorded.short_id,
            "value": recorded.metrics.get(f"val_{metric}"),
            "source": recorded.tags.get("source", "manual"),
            "note": recorded.tags.get("note", ""),
        }

    def render(out: Console) -> None:
        from rich.table import Table

        table = Table("run", "baseline", f"val {metric}", "role")
        for row in board:
            score = row["value"]
            table.add_row(
                row["run"], row["baseline"], "" if score is None else f"{score:.4f}", row["role"]
            )
        out.print(table)
        if recorded is not None and data["human"]["note"]:
            out.print(f"human level: {data['human']['note']}")
        out.print("floor: the best trivial baseline to beat; ceiling: the human level")

    emit(data, render)


def _board(runs: list[Run], metric: str) -> list[dict[str, Any]]:
    """The newest run of each baseline, best first, with floor/ceiling roles."""
    newest: dict[str, Run] = {}
    for run in runs:  # newest first
        newest.setdefault(run.tags.get("baseline", run.name), run)
    key = f"val_{metric}"
    rows = sorted(newest.items(), key=lambda kv: -kv[1].metrics.get(key, float("-inf")))
    trivial = {"majority", "stratified", "mean"}
    floor = max((r.metrics.get(key, float("-inf")) for n, r in rows if n in trivial), default=None)
    out = []
    for name, run in rows:
        role = "ceiling" if name == "human" else ""
        if name in trivial and run.metrics.get(key) == floor:
            role = "floor"
        out.append(
            {
                "run": run.short_id,
                "id": run.id,
                "baseline": name,
                "value": run.metrics.get(key),
                "role": role,
            }
        )
    return out


def register(app: typer.Typer) -> None:
    """Add ``baseline`` to the root command."""
    app.command("baseline")(baseline_command)
