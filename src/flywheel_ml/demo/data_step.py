"""The demo's data step: two versions of the digits, their diff, splits, checks, document."""

from __future__ import annotations

from collections.abc import Callable

from flywheel_ml.reports.data_document import write_data_document
from flywheel_ml.workspace import Workspace


def data_step(ws: Workspace, say: Callable[[str], None]) -> list[tuple[str, str]]:
    """Add scikit-learn's digits as ``digits@v1`` (1,200 rows) and ``digits@v2`` (all 1,797)."""
    from sklearn.datasets import load_digits

    frame = load_digits(as_frame=True).frame
    frame.columns = [f"px{i}" for i in range(64)] + ["label"]
    frame.insert(0, "digit_id", [f"digit-{i:04d}" for i in range(len(frame))])
    say("2 data: fixing the split policy (train 0.8 / val 0.1 / test 0.1, seed 13)")
    ws.data.set_split_policy(train=0.8, val=0.1, test=0.1, seed=13)
    v1 = ws.data.add(frame.iloc[:1200], name="digits", label="label", id="digit_id",
                     message="first 1,200 scans")  # fmt: skip
    v2 = ws.data.add(frame, name="digits", message="all 1,797 scans")
    say(f"  added {v1.ref} ({v1.items:,} items) and {v2.ref} ({v2.items:,} items)")
    diff = ws.data.diff(v1.ref, v2.ref)
    say(f"  diff: {len(diff.added)} added, {len(diff.removed)} removed, "
        f"{len(diff.relabelled)} relabelled, {len(diff.changed)} changed")  # fmt: skip
    splits = v2.facts["splits"]
    say("  splits: " + ", ".join(f"{s} {info['items']:,}" for s, info in splits.items())
        + " (the test split is sealed: reads need a purpose and are audited)")  # fmt: skip
    document = write_data_document(ws.data, "digits")
    check = ws.data.last_check(v2.ref)
    verdict = "passed" if check and check["passed"] else "failed"
    say(f"  checks {verdict}; data document written to {document.markdown.relative_to(ws.root)}")
    return [
        ("dataset versions", f"flywheel -C {ws.root} data versions digits"),
        ("diff", f"flywheel -C {ws.root} data diff digits@v1 digits@v2"),
        ("splits", f"flywheel -C {ws.root} data splits digits@v2"),
        ("data checks", f"flywheel -C {ws.root} data check digits@v2"),
        ("data document", str(document.markdown)),
    ]
