"""The label stage on a real workspace: guide, imports, agreement, aggregation, apply, queues,
suspects, and the sealed test set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flywheel_ml.errors import ConflictError, InvalidInputError, NotFoundError
from flywheel_ml.label import QueueItem
from tests.label.conftest import split_ids

GUIDE = "classes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\nhard_cases: ['a 1 with a flag is a 1']\n"


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_guide_versions_and_items_labelled_under_older_ones(ws: Any, tmp_path: Path) -> None:
    first, stale = ws.label.set_guide(GUIDE)
    assert (first.version, stale) == (1, [])
    same, _ = ws.label.set_guide(GUIDE)
    assert same.version == 1  # unchanged text makes no version
    ids = split_ids(ws, count=3)
    ws.label.annotate("digits", ids[0], 4, annotator="ann1")
    second, stale = ws.label.set_guide(GUIDE.replace("is a 1", "is a 1, not a 7"))
    assert second.version == 2
    assert stale == [("digits", ids[0])]
    ws.label.annotate("digits", ids[0], 4, annotator="ann1")
    assert ws.label.stale_items() == []
    assert [g.version for g in ws.label.guides()] == [1, 2]
    with pytest.raises(InvalidInputError):
        ws.label.set_guide("classes: [a, a]")
    with pytest.raises(InvalidInputError):
        ws.label.set_guide("kind: boxes")


def test_import_jsonl_csv_and_label_studio_with_provenance(ws: Any, tmp_path: Path) -> None:
    ws.label.set_guide(GUIDE)
    ids = split_ids(ws, count=4)
    _write_jsonl(
        tmp_path / "a.jsonl",
        [
            {"item": ids[0], "label": 3, "duration": 4.5, "hard": True, "note": "faint"},
            {
                "item": ids[1],
                "label": "7",
                "annotator": "ann9",
                "created_at": "2026-01-02T03:04:05Z",
            },
        ],
    )
    made = ws.label.import_annotations(tmp_path / "a.jsonl", dataset="digits", annotator="ann1")
    assert [(a.annotator, a.label, a.guide_version) for a in made] == [
        ("ann1", 3, 1),
        ("ann9", "7", 1),
    ]
    assert made[0].duration_s == 4.5 and made[0].hard and made[0].note == "faint"
    assert made[1].created_at.year == 2026 and made[0].provenance == "import a.jsonl"
    (tmp_path / "b.csv").write_text(f"item,label,duration\n{ids[2]},5,1.5\n")
    csv_made = ws.label.import_annotations(tmp_path / "b.csv", dataset="digits", annotator="ann2")
    assert csv_made[0].label == "5" and csv_made[0].duration_s == 1.5
    studio = [
        {
            "id": 1,
            "data": {"item": ids[3]},
            "annotations": [
                {
                    "completed_by": {"email": "x@y"},
                    "lead_time": 3.0,
                    "result": [{"type": "choices", "value": {"choices": ["8"]}}],
                },
                {"completed_by": 2, "was_cancelled": True, "result": []},
            ],
        }
    ]
    (tmp_path / "ls.json").write_text(json.dumps(studio))
    ls_made = ws.label.import_annotations(tmp_path / "ls.json", dataset="digits")
    assert [(a.annotator, a.label, a.duration_s) for a in ls_made] == [("x@y", "8", 3.0)]
    assert [a.item for a in ws.label.hard_items()] == [ids[0]]
    assert len(ws.label.annotations("digits")) == 4


def test_bad_imports_store_nothing(ws: Any, tmp_path: Path) -> None:
    ws.label.set_guide(GUIDE)
    ids = split_ids(ws, count=2)
    cases = [
        [{"item": ids[0], "label": 3}, {"item": "no-such-item", "label": 3}],
        [{"item": ids[0], "label": 3}, {"item": ids[1], "label": "cat"}],
        [{"item": ids[0], "label": [3, 4]}],
    ]
    for rows in cases:
        with pytest.raises((InvalidInputError, NotFoundError)):
            ws.label.import_annotations(
                _write_jsonl(tmp_path / "x.jsonl", rows), dataset="digits", annotator="a"
            )
    (tmp_path / "bad.jsonl").write_text('{"item": "x"\n')
    with pytest.raises(InvalidInputError, match="line 1"):
        ws.label.import_annotations(tmp_path / "bad.jsonl", dataset="digits", annotator="a")
    with pytest.raises(InvalidInputError, match="annotator"):
        ws.label.import_annotations(
            _write_jsonl(tmp_path / "y.jsonl", [{"item": ids[0], "label": 3}]), dataset="digits"
        )
    assert ws.label.annotations() == []


def test_multi_label_and_span_annotations_are_stored(ws: Any) -> None:
    ws.label.set_guide("kind: span\n")
    item = split_ids(ws, count=1)[0]
    span = [{"start": 0, "end": 4, "labels": ["loop"]}]
    ws.label.annotate("digits", item, span, annotator="a")
    assert ws.label.annotations()[0].label == span


def _two_annotators(ws: Any, tmp_path: Path, count: int = 40) -> list[str]:
    ws.label.set_guide(GUIDE)
    ids = split_ids(ws, split=None, count=count)
    truth = {
        str(i): int(v)
        for i, v in zip(
            *ws.data.load("digits@latest", split="train")[["digit_id", "label"]].to_numpy().T,
            strict=True,
        )
    }
    a = [{"item": i, "label": truth.get(i, 1) if n % 8 else 0} for n, i in enumerate(ids)]
    b = [{"item": i, "label": truth.get(i, 1) if n % 5 else 9} for n, i in enumerate(ids)]
    ws.label.import_annotations(
        _write_jsonl(tmp_path / "a.jsonl", a), dataset="digits", annotator="ann1"
    )
    ws.label.import_annotations(
        _write_jsonl(tmp_path / "b.jsonl", b), dataset="digits", annotator="ann2"
    )
    return ids


def test_agreement_is_recorded_as_the_human_baseline(ws: Any, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError):
        ws.label.agreement("digits")
    _two_annotators(ws, tmp_path)
    report = ws.label.agreement("digits")
    assert report.items == 40 and report.annotators == ("ann1", "ann2")
    assert 0.5 < report.alpha_nominal < 1
    baseline = ws.label.human_baseline("digits")
    assert baseline is not None
    assert baseline["mean_accuracy"] == pytest.approx(report.mean_accuracy)
    assert baseline["alpha_nominal"] == pytest.approx(report.alpha_nominal)
    assert ws.label.human_baseline("other") is None


def test_apply_writes_a_version_with_source_and_confidence(ws: Any, tmp_path: Path) -> None:
    ids = _two_annotators(ws, tmp_path)
    result = ws.label.aggregate("digits", method="dawid-skene")
    assert set(result.sources) == {"ann1", "ann2"} and len(result.items) == 40
    version = ws.label.apply("digits", method="dawid-skene", message="round 1")
    assert version.ref == "digits@v2" and version.message == "round 1"
    frame = ws.data.load("digits@v2", split="train")
    annotated = frame[frame["digit_id"].isin(ids)]
    assert set(annotated["label_source"]) == {"annotators:dawid-skene"}
    assert annotated["label_confidence"].between(0, 1).all()
    untouched = frame[~frame["digit_id"].isin(ids)]
    assert set(untouched["label_source"]) == {"dataset"}
    assert (untouched["label_confidence"] == 1.0).all()
    assert str(frame["label"].dtype).startswith("int")
    # The test labels were carried over through the audited path.
    reads = ws.data.audit(dataset="digits")
    assert len(reads) == 1 and reads[0].purpose.startswith("label apply")
    test = ws.data.load("digits@v2", split="test", purpose="check")
    before = ws.data.load("digits@v1", split="test", purpose="check")
    assert test["label"].notna().all() and len(test) == len(before)


def test_labelling_functions_vote_and_label_unlabelled_items(
    ws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mylfs.py").write_text(
        "def dark_center(items):\n"
        "    return ['0' if v < 2 else None for v in items['px36']]\n"
        "def broken(items):\n    return [1]\n"
    )
    monkeypatch.chdir(tmp_path)
    _two_annotators(ws, tmp_path)
    ws.label.add_function("dark_center", "mylfs:dark_center")
    assert [f.name for f in ws.label.functions()] == ["dark_center"]
    result = ws.label.aggregate("digits", method="majority")
    assert "lf:dark_center" in result.sources
    assert 0 < result.coverage["lf:dark_center"] < 1
    assert len(result.items) > 40
    ws.label.add_function("broken", "mylfs:broken")
    with pytest.raises(InvalidInputError, match="returned 1 labels"):
        ws.label.aggregate("digits")
    assert ws.label.remove_function("broken")
    with pytest.raises(InvalidInputError):
        ws.label.add_function("x", "not a target")


def test_queues_with_a_model_prelabel_overlap_and_progress(ws: Any) -> None:
    queue = ws.label.create_queue(
        "q1",
        "digits@v1",
        strategy="uncertainty",
        model="clf@v1",
        size=20,
        overlap=0.25,
        annotators=["ann1", "ann2"],
    )
    assert queue.strategy == "uncertainty" and queue.version == "digits@v1"
    tasks = ws.label.tasks("q1")
    assert len({t.item for t in tasks}) == 20 and len(tasks) == 25
    scores = [t.score for t in sorted(tasks, key=lambda t: t.position)]
    assert scores == sorted(scores, reverse=True)
    assert all(t.prelabel is not None and 0 < t.confidence <= 1 for t in tasks)
    test_ids = set(split_ids(ws, split="test", count=1000))
    assert not {t.item for t in tasks} & test_ids  # test items stay out by default
    progress = {p.annotator: p for p in ws.label.progress("q1")}
    assert progress["ann1"].open + progress["ann2"].open == 25
    for strategy in ("random", "margin", "entropy", "diversity"):
        made = ws.label.create_queue(
            f"q-{strategy}",
            "digits@v1",
            strategy=strategy,
            size=5,
            model="clf@v1" if strategy in ("margin", "entropy") else None,
            annotators=["ann1"],
        )
        assert len(ws.label.tasks(made.name)) == 5
    with pytest.raises(ConflictError):
        ws.label.create_queue("q1", "digits@v1", size=5, annotators=["a"])
    with pytest.raises(InvalidInputError, match="model"):
        ws.label.create_queue("q2", "digits@v1", strategy="entropy", size=5, annotators=["a"])
    with pytest.raises(NotFoundError):
        ws.label.create_queue(
            "q3", "digits@v1", strategy="entropy", model="nope@v1", size=5, annotators=["a"]
        )


def test_next_submit_skip_and_hard_are_durable(ws: Any) -> None:
    ws.label.set_guide(GUIDE)
    ws.label.create_queue("q", "digits@v1", strategy="random", size=3, annotators=["ann1"])
    view = ws.label.next_task("q", "ann1")
    assert view is not None and view.remaining == 3 and view.guide.version == 1
    assert "label" not in view.content and "px0" in view.content
    first = view.task.item
    made = ws.label.submit("q", first, "ann1", 7, duration_s=2.0)
    assert made.queue == "q" and made.guide_version == 1 and made.duration_s == 2.0
    with pytest.raises(NotFoundError):
        ws.label.submit("q", first, "ann1", 7)  # a task is answered once
    second = ws.label.next_task("q", "ann1").task.item
    ws.label.skip("q", second, "ann1")
    third = ws.label.next_task("q", "ann1").task.item
    ws.label.mark_hard("q", third, "ann1", note="two digits")
    assert ws.label.next_task("q", "ann1") is None
    statuses = {t.item: t.status for t in ws.label.tasks("q")}
    assert statuses == {first: "done", second: "skipped", third: "done"}
    assert [(a.item, a.note) for a in ws.label.hard_items()] == [(third, "two digits")]
    with pytest.raises(InvalidInputError):
        ws.label.create_queue("q4", "digits@v1", size=3, annotators=["ann1"], overlap=2)
    ws.label.create_queue("q5", "digits@v1", size=1, annotators=["ann1"])
    item = ws.label.next_task("q5", "ann1").task.item
    with pytest.raises(InvalidInputError):
        ws.label.submit("q5", item, "ann1", "cat")
    assert ws.label.next_task("q5", "ann1") is not None  # a refused label closes nothing


def test_enqueue_production_items_and_apply_adds_them(ws: Any) -> None:
    import numpy as np

    row = {f"px{i}": np.float64(i % 16) for i in range(64)}  # numpy values, as from a log
    added = ws.label.enqueue(
        "prod",
        [
            QueueItem(
                item="req-17",
                data=row,
                prelabel="3",
                confidence=0.41,
                provenance="from production, request id req-17",
            ),
            QueueItem(
                item=split_ids(ws, count=1)[0],
                prelabel=np.int64(5),
                confidence=np.float64(0.5),
                provenance="from production, request id req-18",
            ),
        ],
        dataset="digits",
    )
    assert added == 2
    assert ws.label.enqueue("prod", [QueueItem(item="req-17", data=row)]) == 0
    view = ws.label.next_task("prod", "anyone")
    assert view.task.prelabel == "3" and view.task.provenance.endswith("req-17")
    assert view.content["px1"] == 1.0
    made = ws.label.submit("prod", "req-17", "ann5", 3)
    assert made.provenance == "from production, request id req-17" and made.annotator == "ann5"
    with pytest.raises(InvalidInputError):
        ws.label.enqueue("new", [QueueItem(item="x")], dataset="digits")
    with pytest.raises(InvalidInputError):
        ws.label.enqueue("other", [QueueItem(item="x", data=row)])
    version = ws.label.apply("digits", message="production labels")
    frame = ws.data.load(version.ref)
    new = frame[frame["digit_id"] == "req-17"]
    assert len(new) == 1 and int(new["label"].iloc[0]) == 3 and version.items == 301


def test_suspects_check_only_train_and_val_and_feed_a_queue(ws: Any) -> None:
    frame = ws.data.load("digits@v1", split="train")
    flipped = frame.copy()
    wrong = flipped["digit_id"].tolist()[:15]
    flipped.loc[flipped["digit_id"].isin(wrong), "label"] = (
        flipped.loc[flipped["digit_id"].isin(wrong), "label"] + 3
    ) % 10
    full = ws.data.load("digits@v1", split="test", purpose="test fixture")
    both = __import__("pandas").concat([flipped, ws.data.load("digits@v1", split="val"), full])
    ws.data.add(both, name="digits", message="noisy")
    reads_before = len(ws.data.audit())
    report = ws.label.suspects("digits@v2", queue="review")
    assert len(ws.data.audit()) == reads_before  # no sealed read
    test_ids = set(split_ids(ws, split="test", count=1000))
    assert not set(report.items) & test_ids
    assert report.checked == len(flipped) + len(ws.data.load("digits@v1", split="val"))
    hits = set(report.items) & set(wrong)
    assert len(hits) >= 10 and len(hits) / len(report.items) > 0.5
    assert report.estimated_errors > 0
    tasks = ws.label.tasks("review")
    assert [t.item for t in tasks] == list(report.items)
    assert tasks[0].provenance.startswith("suspect: given")
    ws_status = {d.name: d for d in ws.label.deliverables()}
    assert ws_status["label-error list"].done
    top = ws.label.suspects("digits@v2", top=3, by="normalized_margin")
    assert len(top.items) == 3


def test_status_shows_what_is_missing(ws: Any) -> None:
    shown = {d.name: d for d in ws.label.deliverables()}
    assert not shown["label document"].done
    assert "guide edit" in shown["label document"].next_step
    stages = {s.stage: s for s in ws.status()}
    assert len(stages["label"].deliverables) == 4


def test_apply_adds_only_queued_items_that_were_labelled(ws: Any) -> None:
    row = {f"px{i}": float(i % 16) for i in range(64)}
    items = [QueueItem(item=f"req-{n}", data=row, prelabel="3") for n in range(3)]
    assert ws.label.enqueue("prod", items, dataset="digits") == 3
    ws.label.submit("prod", "req-0", "ann1", 3)
    ws.label.skip("prod", "req-1", "ann1")
    version = ws.label.apply("digits", message="one production label")
    frame = ws.data.load(version.ref)
    added = sorted(i for i in frame["digit_id"] if str(i).startswith("req-"))
    assert added == ["req-0"]
    assert frame.loc[frame["digit_id"] == "req-0", "label"].tolist() == [3]
