"""Adding versions, references, loading, diffs and the sealed test set on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from flywheel_ml.data.versions import parse_ref
from flywheel_ml.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    SealedTestError,
)
from tests.data.conftest import reviews_frame


def test_table_versions_refs_and_noop(workspace: Any, reviews_csv: Path) -> None:
    data = workspace.data
    v1 = data.add(reviews_csv, name="reviews", label="sentiment", id="review_id", message="one")
    assert (v1.ref, v1.items, v1.parent) == ("reviews@v1", 200, None)
    assert v1.digest.startswith("blake3:")
    # The same content again is no new version.
    assert data.add(reviews_csv, name="reviews").digest == v1.digest
    v2 = data.add(reviews_frame(300), name="reviews", message="more rows")
    assert (v2.number, v2.parent, v2.items) == (2, v1.digest, 300)
    assert data.get_version("reviews@v1").digest == v1.digest
    assert data.get_version("reviews@latest").digest == v2.digest
    assert data.get_version("reviews").digest == v2.digest
    assert data.get_version(v1.digest[7:19]).digest == v1.digest
    assert data.get_version(v1.digest).ref == "reviews@v1"
    assert [v.ref for v in data.list_versions("reviews")] == ["reviews@v1", "reviews@v2"]
    assert [d.name for d in data.list_datasets()] == ["reviews"]
    assert v2.author == "tester" and v2.message == "more rows"
    with pytest.raises(NotFoundError):
        data.get_version("reviews@v9")
    with pytest.raises(NotFoundError):
        data.get_version("nothing@v1")


def test_load_splits_are_stable_and_test_is_sealed(workspace: Any) -> None:
    data = workspace.data
    data.add(reviews_frame(200), name="reviews", label="sentiment", id="review_id")
    data.add(reviews_frame(400), name="reviews")
    train1 = data.load("reviews@v1", split="train")
    train2 = data.load("reviews@v2", split="train")
    assert "review_id" in train1.columns and "__fw_split" not in train1.columns
    # Adding data never moves an item to another split.
    assert set(train1.review_id) <= set(train2.review_id)
    with pytest.raises(SealedTestError):
        data.load("reviews@v2", split="test")
    everything = data.load("reviews@v2")
    assert len(everything) == 400
    test = data.load("reviews@v2", split="test", purpose="final evaluation")
    assert len(test) > 0 and test.sentiment.notna().all()
    # Without a purpose, the test rows come back without labels.
    masked = everything[everything.review_id.isin(test.review_id)]
    assert masked.sentiment.isna().all()
    reads = data.audit()
    assert [(r.dataset, r.purpose, r.rows) for r in reads] == [
        ("reviews", "final evaluation", len(test))
    ]
    assert reads[0].actor == "tester"
    arrow = data.load("reviews@v2", split="val", as_arrow=True)
    assert arrow.num_rows == len(data.load("reviews@v2", split="val"))
    counts = data.get_version("reviews@v2").facts["splits"]
    assert sum(c["items"] for c in counts.values()) == 400
    assert counts["test"]["items"] == len(test)


def test_diff_reports_added_removed_relabelled_changed(workspace: Any) -> None:
    data = workspace.data
    frame = reviews_frame(10)
    data.add(frame, name="r", label="sentiment", id="review_id")
    new = frame.drop(index=0).copy()
    new.loc[1, "sentiment"] = "neg" if new.loc[1, "sentiment"] == "pos" else "pos"
    new.loc[2, "text"] = "edited"
    new = pd.concat([new, reviews_frame(1, start=50)], ignore_index=True)
    data.add(new, name="r")
    diff = data.diff("r@v1", "r@v2")
    assert diff.added == ("r00050",)
    assert diff.removed == ("r00000",)
    assert diff.relabelled == ("r00001",)
    assert diff.changed == ("r00002",)


def test_bad_input_leaves_no_state(workspace: Any) -> None:
    data = workspace.data
    frame = reviews_frame(5)
    frame.loc[3, "review_id"] = "r00001"
    with pytest.raises(InvalidInputError, match="r00001"):
        data.add(frame, name="r", id="review_id")
    with pytest.raises(InvalidInputError, match="label column"):
        data.add(reviews_frame(5), name="r", label="nope")
    with pytest.raises(InvalidInputError):
        data.add(reviews_frame(5), name="../evil")
    assert data.list_datasets() == []


def test_folder_dataset_labels_from_folder_export_and_noop(
    workspace: Any, pets_folder: Path, tmp_path: Path
) -> None:
    data = workspace.data
    v1 = data.add(pets_folder, name="pets", label_from_folder=True)
    assert v1.items == 30 and v1.facts["labels"] == {"bird": 10, "cat": 10, "dog": 10}
    assert data.add(pets_folder, name="pets", label_from_folder=True).digest == v1.digest
    (pets_folder / "cat" / "new.txt").write_bytes(b"another cat")
    (pets_folder / "dog" / "001.txt").rename(pets_folder / "dog" / "renamed.txt")
    v2 = data.add(pets_folder, name="pets", label_from_folder=True)
    assert v2.number == 2
    diff = data.diff("pets@v1", "pets@v2")
    assert len(diff.added) == 1 and not diff.removed
    frame = data.load("pets@v2")
    assert set(frame.columns) >= {"item_id", "path", "label", "object", "size"}
    out = tmp_path / "out"
    written = data.export("pets@v2", out, purpose="copy for a peer tool")
    assert len(written) == 31
    for path in written:
        rel = path.relative_to(out.resolve()).as_posix()
        assert path.read_bytes() == (pets_folder / rel).read_bytes()
    with pytest.raises(ConflictError):
        data.export("pets@v2", out, purpose="again")
    sealed = data.export("pets@v2", tmp_path / "sealed")
    test_items = v2.facts["splits"]["test"]["items"]
    assert len(sealed) == 31 - test_items


def test_kind_and_role_conflicts(workspace: Any, pets_folder: Path) -> None:
    data = workspace.data
    data.add(reviews_frame(5), name="r", label="sentiment")
    with pytest.raises(ConflictError):
        data.add(pets_folder, name="r")
    hard = data.add(reviews_frame(20, start=900), name="hard", label="sentiment",
                    as_test_set=True)  # fmt: skip
    assert hard.facts["splits"]["test"]["items"] == 20
    with pytest.raises(SealedTestError):
        data.load("hard@v1")
    assert len(data.load("hard@v1", purpose="ood check")) == 20


def test_split_policy_is_fixed_once_data_exists(workspace: Any) -> None:
    data = workspace.data
    policy = data.set_split_policy(train=0.6, val=0.2, test=0.2, seed=7)
    assert (policy.train, policy.seed) == (0.6, 7)
    data.set_split_policy(train=0.7, val=0.1, test=0.2, seed=7)  # no data yet: may change
    with pytest.raises(InvalidInputError):
        data.set_split_policy(train=0.7, val=0.7, test=0.2, seed=7)
    data.add(reviews_frame(50), name="r", label="sentiment")
    with pytest.raises(ConflictError):
        data.set_split_policy(train=0.8, val=0.1, test=0.1, seed=13)
    assert data.split_policy().train == 0.7


def test_checks_find_schema_changes_leakage_and_shift(workspace: Any) -> None:
    data = workspace.data
    frame = reviews_frame(300)
    data.add(frame, name="r", label="sentiment", id="review_id")
    assert data.check("r@v1").passed
    changed = frame.drop(columns=["stars"]).copy()
    changed["hour"] = changed["hour"] + 100
    changed.loc[:200, "sentiment"] = "neg"
    changed.loc[5, "text"] = None
    # Exact copies of the same content under new ids land in other splits: leakage.
    copies = changed.iloc[:40].copy()
    copies["review_id"] = [f"copy{i}" for i in range(40)]
    data.add(pd.concat([changed, copies], ignore_index=True), name="r")
    report = data.check("r@v2")
    checks = {f.check for f in report.findings}
    assert not report.passed
    assert {"schema", "out of range", "label shift", "leakage", "missing values"} <= checks
    assert data.last_check("r@v2") is not None and data.last_check("r@v2")["passed"] is False


def test_slices_are_saved_and_counted(workspace: Any) -> None:
    data = workspace.data
    data.add(reviews_frame(240), name="r", label="sentiment", id="review_id")
    data.add_slice("r", "night", where="hour >= 20 or hour < 6")
    counts = data.slice_counts("r@latest", "night")
    assert sum(counts.values()) == 100
    assert [s.name for s in data.list_slices("r")] == ["night"]
    with pytest.raises(InvalidInputError):
        data.add_slice("r", "bad", where="__import__('os')")
    with pytest.raises(InvalidInputError):
        data.add_slice("r", "bad", where="nope > 3")


def test_status_shows_data_evidence(workspace: Any) -> None:
    before = {s.stage: s for s in workspace.status()}["data"]
    assert not before.done
    workspace.data.add(reviews_frame(100), name="r", label="sentiment")
    after = {s.stage: s for s in workspace.status()}["data"]
    names = {d.name: d for d in after.deliverables}
    assert names["dataset versions"].done and "r@v1" in names["dataset versions"].evidence
    assert names["sealed test set"].done
    assert not names["data document"].done


def test_parse_ref_forms() -> None:
    assert parse_ref("reviews@v2").number == 2
    assert parse_ref("reviews@latest").number is None
    assert parse_ref("abcdef012345").prefix == "blake3:abcdef012345"
    with pytest.raises(InvalidInputError):
        parse_ref("reviews@v")
