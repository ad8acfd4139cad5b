"""The demo's label step: SIMULATED annotators with known error rates label part of the digits.

Nothing here is a real person: three simulated annotators copy the dataset's own label of 150
training items and replace it by another digit at a fixed rate. The step shows what the label
stage makes of that: agreement, Dawid–Skene's estimate of each annotator's accuracy (against
the rate the simulation used), likely wrong labels in ``digits@v2`` and an uncertainty queue
ranked by the champion model with its pre-labels.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from flywheel_ml.demo.release_step import MODEL
from flywheel_ml.workspace import Workspace

_DATASET = "digits"
SIMULATED = (("sim-ann1", 0.03), ("sim-ann2", 0.10), ("sim-ann3", 0.25))
"""Simulated annotators and the share of their labels the simulation makes wrong."""

GUIDE = """\
kind: class
classes:
{classes}
hard_cases:
  - A 1 with a long flag is a 1 if the flag is shorter than the stem; else a 7.
  - A 4 whose top is closed is still a 4.
  - If two digits are written, label the larger one and tag the item hard.
notes: Label what is written, not what the writer meant.
"""


def label_step(ws: Workspace, say: Callable[[str], None]) -> list[tuple[str, str]]:
    """Guide, simulated annotations, agreement, Dawid–Skene, suspects, an uncertainty queue."""
    import numpy as np

    classes = "\n".join(f"  - name: '{d}'\n    definition: the handwritten digit {d}"
                        for d in range(10))  # fmt: skip
    guide, _ = ws.label.set_guide(GUIDE.format(classes=classes))
    say(f"3 label: label document v{guide.version} (10 classes, 3 hard cases)")
    train = ws.data.load(f"{_DATASET}@v2", split="train").iloc[:150]
    rng = np.random.default_rng(7)
    folder = ws.settings.state_dir / "demo-labels"
    folder.mkdir(parents=True, exist_ok=True)
    truth = train["label"].to_numpy()
    for name, error_rate in SIMULATED:
        wrong = rng.random(truth.size) < error_rate
        given = np.where(wrong, (truth + rng.integers(1, 10, truth.size)) % 10, truth)
        seconds = rng.gamma(4.0, 1.5, truth.size)
        path = folder / f"{name}.jsonl"
        path.write_text("\n".join(
            json.dumps({"item": i, "label": str(g), "duration": round(float(s), 1)})
            for i, g, s in zip(train["digit_id"], given.tolist(), seconds, strict=True)
        ))  # fmt: skip
        ws.label.import_annotations(path, dataset=_DATASET, annotator=name)
    rates = ", ".join(f"{n} {r:.0%}" for n, r in SIMULATED)
    say(f"  SIMULATED annotators (known error rates: {rates}) labelled 150 train items each")
    report = ws.label.agreement(_DATASET)
    kappas = ", ".join(f"{p.replace('|', '/')} {k:.2f}" for p, k in report.cohen.items())
    say(f"  agreement (simulated): Cohen's kappa {kappas}; Fleiss {report.fleiss_kappa:.2f}; "
        f"Krippendorff's alpha {report.alpha_nominal:.2f}")  # fmt: skip
    say(f"  human baseline recorded (simulated): mean accuracy vs consensus "
        f"{report.mean_accuracy:.1%}")  # fmt: skip
    result = ws.label.aggregate(_DATASET, method="dawid-skene")
    estimates = ", ".join(f"{n} {result.accuracy[n]:.1%} (simulated {1 - r:.0%})"
                          for n, r in SIMULATED)  # fmt: skip
    say(f"  Dawid-Skene accuracy estimates: {estimates}")
    agreed = sum(1 for item, lab in zip(result.items, result.labels, strict=True)
                 if lab == str(dict(zip(train["digit_id"], truth, strict=True))[item]))  # fmt: skip
    say(f"  aggregated labels match the dataset's on {agreed} of {len(result.items)} items")
    suspects = ws.label.suspects(f"{_DATASET}@v2", top=5, folds=3, queue="digits-suspects")
    shown = "; ".join(f"{i} labelled {g}, model says {s}"
                      for i, g, s in zip(suspects.items, suspects.given, suspects.suggested,
                                         strict=True))  # fmt: skip
    say(f"  suspects: about {suspects.estimated_errors} of {suspects.checked:,} train/val labels "
        f"look wrong (out-of-fold); top: {shown}")  # fmt: skip
    look_at = [
        ("label document", f"flywheel -C {ws.root} label guide show"),
        ("agreement", f"flywheel -C {ws.root} label agreement"),
        ("label suspects", f"flywheel -C {ws.root} label suspects digits@v2 --top 20"),
    ]
    if ws.registry.list_versions(MODEL) and "champion" in ws.registry.aliases(MODEL):
        queue = ws.label.create_queue(
            "digits-uncertain", f"{_DATASET}@v2", strategy="uncertainty",
            model=f"{MODEL}@champion", size=40, overlap=0.25,
            annotators=[n for n, _ in SIMULATED],
        )  # fmt: skip
        first = ws.label.tasks(queue.name)[0]
        say(f"  uncertainty queue {queue.name}: 40 items the champion is least sure of, for 3 "
            f"annotators with 25% overlap; first: {first.item}, pre-label {first.prelabel} "
            f"(confidence {first.confidence:.2f})")  # fmt: skip
        look_at.append(("label queue", f"flywheel -C {ws.root} label queue show {queue.name}"))
    return look_at
