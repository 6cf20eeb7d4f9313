"""Classification metrics against values computed by hand, and the ``label`` scorer that reports them."""

from __future__ import annotations

import pytest

from loopstack.evals.classification import OTHER, classification_report
from loopstack.evals.scorers import Sample, get_scorer

TRUE = ["a", "a", "a", "b", "b", "c"]
PRED = ["a", "a", "b", "b", "c", "c"]


def test_accuracy_macro_f1_per_class_and_confusion_by_hand() -> None:
    r = classification_report(TRUE, PRED)
    assert r.labels == ["a", "b", "c"] and r.columns == ["a", "b", "c"]
    assert r.confusion == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert r.accuracy == pytest.approx(4 / 6)
    # precision a 2/2, b 1/2, c 1/2; recall a 2/3, b 1/2, c 1/1
    assert [(m.precision, m.recall, m.support) for m in r.per_class.values()] == [
        (1.0, pytest.approx(2 / 3), 3),
        (0.5, 0.5, 2),
        (0.5, 1.0, 1),
    ]
    f1 = [0.8, 0.5, 2 / 3]
    assert [m.f1 for m in r.per_class.values()] == pytest.approx(f1)
    assert r.macro_f1 == pytest.approx(sum(f1) / 3)
    assert r.macro_precision == pytest.approx(2 / 3) and r.macro_recall == pytest.approx(
        (2 / 3 + 0.5 + 1) / 3
    )


def test_predictions_outside_the_labels_go_to_other_and_lower_recall_only() -> None:
    r = classification_report(["a", "b", "b"], ["a", "I think b", None])
    assert r.columns == ["a", "b", OTHER]
    assert r.confusion == [[1, 0, 0], [0, 0, 2]]
    assert r.per_class["b"].recall == 0.0 and r.per_class["a"].precision == 1.0
    assert r.macro_f1 == pytest.approx((1.0 + 0.0) / 2)  # (other) is not a class in the average
    assert r.accuracy == pytest.approx(1 / 3)


def test_a_class_never_predicted_has_zero_precision_not_an_error() -> None:
    r = classification_report(["a", "b"], ["a", "a"], labels=["a", "b", "c"])
    assert r.per_class["b"].precision == 0.0 and r.per_class["c"].f1 == 0.0
    assert r.macro_f1 == pytest.approx((2 * 0.5 * 1 / 1.5) / 3)
    with pytest.raises(ValueError, match="2 true labels but 1 predictions"):
        classification_report(["a", "b"], ["a"])


async def test_label_scorer_reads_labels_and_reports_run_metrics() -> None:
    s = get_scorer("label", labels=["positive", "negative", "neutral"])
    outputs = ["Positive.", "Sentiment: negative", "positive", "I am not sure", "neutral"]
    expected = ["positive", "negative", "neutral", "negative", "neutral"]
    samples = [Sample(output=o, expected=e) for o, e in zip(outputs, expected, strict=True)]
    per_item = [(await s.score(x))[0] for x in samples]
    assert [p.value for p in per_item] == [True, True, False, False, True]
    assert per_item[2].explanation == "predicted 'positive', expected 'neutral'"
    acc, f1 = await s.score_run(samples)
    assert (acc.name, acc.value) == ("label.accuracy", pytest.approx(3 / 5))
    report = classification_report(
        expected,
        ["positive", "negative", "positive", "i am not sure", "neutral"],
        labels=sorted(set(expected)),
    )
    assert f1.name == "label.macro_f1" and f1.value == pytest.approx(report.macro_f1)
    assert acc.metadata["confusion"] == report.confusion


async def test_label_scorer_reads_a_json_field() -> None:
    s = get_scorer("label", field="label")
    (hit,) = await s.score(Sample(output='```json\n{"label": "Bug"}\n```', expected={"label": "bug", "x": 1}))
    (miss,) = await s.score(Sample(output="bug", expected={"label": "bug"}))
    assert (hit.value, miss.value) == (True, False)
