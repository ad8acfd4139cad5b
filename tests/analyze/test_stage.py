"""The analyze stage on a real workspace: numbers equal scikit-learn's, test reads are audited,
decisions are recorded, results come out as DataFrames."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from flywheel_ml.errors import InvalidInputError, SealedTestError
from tests.analyze.conftest import Analyzed


def _val(analyzed: Analyzed, ref: str) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    ws = analyzed.ws
    model = ws.registry.load_model(ref)
    frame = ws.data.load("digits@v1", split="val")
    features = [f"px{i}" for i in range(64)]
    return frame["label"].to_numpy().astype(int), model.predict(frame[features].to_numpy())


def test_errors_equal_scikit_learn_on_the_val_split(analyzed: Analyzed) -> None:
    found = analyzed.ws.analyze.errors(analyzed.weak, on="val")
    y, predicted = _val(analyzed, analyzed.weak)
    assert found.rows == len(y)
    assert found.accuracy == pytest.approx(accuracy_score(y, predicted))
    assert found.errors == int((y != predicted).sum())
    assert found.macro_f1 == pytest.approx(f1_score(y, predicted, average="macro"))
    labels = sorted(set(y) | set(predicted))
    assert [list(r) for r in found.confusion] == confusion_matrix(
        y, predicted, labels=labels
    ).tolist()
    frame = found.confusion_frame()
    assert frame.loc[str(labels[0]), str(labels[0])] == found.confusion[0][0]
    # Mistakes are the most confident first, and every one is really wrong.
    confidences = [m.confidence for m in found.confident_mistakes]
    assert confidences == sorted(confidences, reverse=True)
    assert all(m.true != m.predicted for m in found.confident_mistakes)
    assert sum(b.rows for b in found.calibration) == found.rows
    assert found.ece is not None and 0 <= found.ece <= 1
    names = {s.name for s in found.slices}
    assert "dark-centre" in names and "class 0" in names
    assert len(found.per_class_frame()) == len(found.labels)


def test_slices_have_intervals_and_small_ones_are_marked(analyzed: Analyzed) -> None:
    report = analyzed.ws.analyze.slices(analyzed.good, min_rows=20)
    by_name = {s.name: s for s in report.slices}
    dark = by_name["dark-centre"]
    assert dark.kind == "slice" and dark.rows > 0
    assert dark.ci_low is not None and dark.ci_high is not None and dark.accuracy is not None
    assert dark.ci_low <= dark.accuracy <= dark.ci_high
    for s in report.slices:
        assert s.too_small == (s.rows < 20)
    judged = [s for s in report.slices if not s.too_small]
    assert report.slices[: len(judged)] == tuple(judged)  # judged ones first, worst first
    assert len(report.frame()) == len(report.slices)


def test_test_labels_only_through_an_audited_read(analyzed: Analyzed) -> None:
    ws = analyzed.ws
    before = len(ws.data.audit())
    with pytest.raises(SealedTestError):
        ws.analyze.errors(analyzed.good, on="test")
    assert len(ws.data.audit()) == before
    found = ws.analyze.errors(analyzed.good, on="test", purpose="check before release")
    reads = ws.data.audit()
    assert len(reads) == before + 1
    assert reads[-1].purpose == f"analyze {analyzed.good}: check before release"
    assert found.split == "test"
    with pytest.raises(InvalidInputError, match="cannot analyze on"):
        ws.analyze.errors(analyzed.good, on="everything")


def test_extra_test_sets_are_read_only_with_a_purpose(analyzed: Analyzed) -> None:
    from tests.registry.conftest import digits_frame

    ws = analyzed.ws
    extra = digits_frame().tail(120)
    ws.data.add(extra, name="scans-2024", label="label", id="item", as_test_set=True)
    sealed = ws.analyze.slices(analyzed.good)
    assert sealed.sealed == ("scans-2024@v1",)
    assert all(s.kind != "test_set" for s in sealed.slices)
    opened = ws.analyze.slices(analyzed.good, purpose="robustness")
    test_sets = [s for s in opened.slices if s.kind == "test_set"]
    assert [s.name for s in test_sets] == ["scans-2024@v1"] and test_sets[0].rows == 120
    assert ws.data.audit()[-1].purpose == f"analyze {analyzed.good}: robustness"


def test_compare_lists_fixed_and_broken_items(analyzed: Analyzed) -> None:
    found = analyzed.ws.analyze.compare(analyzed.weak, analyzed.good)
    y, weak = _val(analyzed, analyzed.weak)
    _, good = _val(analyzed, analyzed.good)
    assert len(found.fixed) == int(((weak != y) & (good == y)).sum())
    assert len(found.broken) == int(((weak == y) & (good != y)).sum())
    assert found.accuracy_after - found.accuracy_before == pytest.approx(
        (len(found.fixed) - len(found.broken)) / found.rows
    )
    assert {d.name for d in found.slices} >= {"dark-centre"}


def test_feature_removal_is_recorded_as_a_decision(analyzed: Analyzed) -> None:
    ws = analyzed.ws
    report = ws.analyze.features(analyzed.good, repeats=3)
    assert len(report.features) == 64
    # Pixels that are blank in every scan cannot matter.
    assert "px0" in report.remove
    assert report.decision is not None
    decisions = ws.analyze.decisions()
    assert [d.id for d in decisions] == [report.decision]
    assert decisions[0].kind == "remove_features"
    assert decisions[0].detail["features"] == list(report.remove)
    quiet = ws.analyze.features(analyzed.good, repeats=3, record=False)
    assert quiet.decision is None and len(ws.analyze.decisions()) == 1
    assert next(iter(report.frame()["feature"])) == report.features[0].feature


def test_status_shows_the_analyze_evidence(analyzed: Analyzed) -> None:
    ws = analyzed.ws
    before = {d.name: d for d in ws.analyze.deliverables()}
    assert not before["confusion, slices, failure clusters"].done
    ws.analyze.errors(analyzed.good)
    stage = next(s for s in ws.status() if s.stage == "analyze")
    assert any(d.done and "errors" in d.evidence for d in stage.deliverables)


def test_pipeline_of_registered_models(analyzed: Analyzed) -> None:
    # A single-step pipeline is the model itself: its end-to-end accuracy is its accuracy.
    ws = analyzed.ws
    found = ws.analyze.pipeline([analyzed.good], dataset="digits@v1", truths=["label"])
    assert found.end_to_end == pytest.approx(ws.analyze.errors(analyzed.good).accuracy)
    with pytest.raises(InvalidInputError, match="truth column"):
        ws.analyze.pipeline([analyzed.good, analyzed.weak], dataset="digits@v1", truths=["label"])
