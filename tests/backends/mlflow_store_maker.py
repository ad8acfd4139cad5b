"""Write MLflow tracking stores with MLflow itself (the ``mlflow`` extra), for the import tests.

Usage: ``python mlflow_store_maker.py TRACKING_URI [--bulk]``, with MLFLOW_DISABLE_TELEMETRY,
DO_NOT_TRACK (and MLFLOW_ALLOW_FILE_STORE for a file store) set, in a folder that becomes the
artifact root. The store holds:

* experiment ``models``: run ``lr`` (params, tags, a ``loss`` curve with a NaN point, an artifact
  ``docs/notes.txt``) whose model is registered twice as ``digits-clf`` (v1 saved with skops, v2
  with cloudpickle) with aliases ``champion`` -> 1 and ``previous`` -> 2; run ``crashed`` (FAILED);
  run ``gone`` (deleted);
* with ``--bulk``, experiment ``bulk``: 100 runs x 1,000 points of ``loss``
  (values :func:`bulk_points`), param ``lr`` = the run's number, logged with ``log_batch``.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

BULK_RUNS = 100
BULK_POINTS = 1000
LOSS = (0.9, 0.5, float("nan"), 0.25)


def bulk_points(run: int) -> list[tuple[int, float, int]]:
    """``(step, value, timestamp ms)`` of bulk run number ``run``'s ``loss``."""
    rng = random.Random(run)
    return [(s, rng.random(), 1_700_000_000_000 + run * 10_000 + s) for s in range(BULK_POINTS)]


def make_store(uri: str, *, bulk: bool) -> None:
    """Write the store described in the module docstring at ``uri``."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    models = client.create_experiment("models")
    with mlflow.start_run(experiment_id=models, run_name="lr") as run:
        mlflow.log_params({"C": 1.0, "solver": "lbfgs"})
        mlflow.set_tags({"team": "vision"})
        for step, value in enumerate(LOSS):
            mlflow.log_metric("loss", value, step=step)
        mlflow.log_metric("val_accuracy", 0.95)
        Path("notes.txt").write_text("lr notes\n")
        mlflow.log_artifact("notes.txt", artifact_path="docs")
        Path("notes.txt").unlink()
        from sklearn.datasets import load_digits
        from sklearn.linear_model import LogisticRegression

        X, y = load_digits(return_X_y=True)
        model = LogisticRegression(max_iter=200).fit(X[:300], y[:300])
        for fmt in ("skops", "cloudpickle"):
            mlflow.sklearn.log_model(
                model, name=f"model-{fmt}", serialization_format=fmt,
                registered_model_name="digits-clf",
            )  # fmt: skip
        del run
    client.set_registered_model_alias("digits-clf", "champion", "1")
    client.set_registered_model_alias("digits-clf", "previous", "2")
    crashed = client.create_run(models, run_name="crashed")
    client.log_param(crashed.info.run_id, "C", "40")
    client.set_terminated(crashed.info.run_id, status="FAILED")
    gone = client.create_run(models, run_name="gone")
    client.set_terminated(gone.info.run_id)
    client.delete_run(gone.info.run_id)
    if not bulk:
        return
    experiment = client.create_experiment("bulk")
    for number in range(BULK_RUNS):
        started = 1_700_000_000_000 + number * 10_000
        created = client.create_run(
            experiment, run_name=f"bulk-{number}", start_time=started, tags={"kind": "bulk"}
        )
        client.log_batch(
            created.info.run_id,
            metrics=[Metric("loss", v, t, s) for s, v, t in bulk_points(number)],
            params=[Param("lr", str(number))],
            tags=[RunTag("batch", "yes")],
        )
        client.set_terminated(created.info.run_id, end_time=started + 5_000)


if __name__ == "__main__":
    make_store(sys.argv[1], bulk="--bulk" in sys.argv[2:])
