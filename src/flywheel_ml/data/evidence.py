"""What the data stage shows in ``flywheel status``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flywheel_ml.core.lifecycle import Deliverable

if TYPE_CHECKING:
    from flywheel_ml.data.stage import DataStage


def data_deliverables(data: DataStage) -> tuple[Deliverable, ...]:
    """Versions, the split policy, the sealed test set (with audited reads), the document."""
    datasets = data.list_datasets()
    if not datasets:
        return (
            Deliverable("dataset versions", False,
                        next_step="flywheel data add FILE --name NAME --label COLUMN"),
            Deliverable("stable splits", False,
                        next_step="flywheel data split-policy --train 0.8 --val 0.1 "
                        "--test 0.1 --seed 13"),
        )  # fmt: skip
    latest = [v for d in datasets if (v := data.latest_or_none(d.name)) is not None]
    shown = ", ".join(f"{v.ref} ({v.items:,} items)" for v in latest[:4])
    policy = data.split_policy()
    test_items = sum(int(v.facts.get("splits", {}).get("test", {}).get("items", 0))
                     for v in latest)  # fmt: skip
    reads = len(data.audit())
    documented = [d.name for d in datasets if data.document_path(d.name).is_file()]
    return (
        Deliverable("dataset versions", True, evidence=shown),
        Deliverable("stable splits", True,
                    evidence=f"train {policy.train:g} / val {policy.val:g} / "
                    f"test {policy.test:g}, seed {policy.seed}"),
        Deliverable("sealed test set", test_items > 0,
                    evidence=f"{test_items:,} test items sealed; {reads} audited read(s)"
                    if test_items else "",
                    next_step="" if test_items else "raise --test in split-policy"),
        Deliverable("data document", bool(documented),
                    evidence=", ".join(f"docs/data-{n}.md" for n in documented),
                    next_step="" if documented else f"flywheel docs data {datasets[0].name}"),
    )  # fmt: skip
