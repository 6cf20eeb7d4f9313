"""Run-level classification metrics: accuracy, macro-F1, per-class precision/recall, confusion matrix.

Predictions outside the label set (a model that answers "I think it's positive!" or fails) are
counted in an ``(other)`` column: they lower the recall of the true class, but are not a class of
their own in the macro average, which would otherwise reward or punish garbage arbitrarily.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

OTHER = "(other)"


@dataclass(frozen=True)
class ClassMetrics:
    """Precision, recall and F1 of one class (0 when undefined, as scikit-learn's zero_division=0)."""

    precision: float
    recall: float
    f1: float
    support: int
    """Number of items whose true label is this class."""


@dataclass(frozen=True)
class ClassificationReport:
    """Everything a reader needs to judge a classifier run."""

    labels: list[str]
    accuracy: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    per_class: dict[str, ClassMetrics]
    confusion: list[list[int]]
    """``confusion[i][j]``: items of true class ``labels[i]`` predicted as ``columns[j]``."""
    columns: list[str]
    """``labels``, plus ``(other)`` when some prediction was outside the label set."""
    n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _safe_div(a: float, b: float) -> float:
    return a / b if b else 0.0


def classification_report(
    y_true: Sequence[Any], y_pred: Sequence[Any], *, labels: Sequence[Any] | None = None
) -> ClassificationReport:
    """Metrics of ``y_pred`` against ``y_true`` (same length). ``labels`` default: the sorted true labels."""
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true labels but {len(y_pred)} predictions")
    truth = [str(t) for t in y_true]
    preds = [None if p is None else str(p) for p in y_pred]
    classes = [str(c) for c in labels] if labels is not None else sorted(set(truth))
    index = {c: i for i, c in enumerate(classes)}
    if any(t not in index for t in truth):
        missing = next(t for t in truth if t not in index)
        raise ValueError(f"true label {missing!r} is not among the labels {classes}")
    other = any(p is None or p not in index for p in preds)
    columns = [*classes, OTHER] if other else list(classes)
    k = len(classes)
    matrix = [[0] * len(columns) for _ in range(k)]
    for t, p in zip(truth, preds, strict=True):
        j = index.get(p, k) if p is not None else k
        matrix[index[t]][j] += 1
    n = len(truth)
    correct = sum(matrix[i][i] for i in range(k))
    per_class: dict[str, ClassMetrics] = {}
    for i, c in enumerate(classes):
        tp = matrix[i][i]
        predicted = sum(matrix[r][i] for r in range(k))
        support = sum(matrix[i])
        precision = _safe_div(tp, predicted)
        recall = _safe_div(tp, support)
        f1 = _safe_div(2 * precision * recall, precision + recall)
        per_class[c] = ClassMetrics(precision, recall, f1, support)
    return ClassificationReport(
        labels=classes,
        accuracy=_safe_div(correct, n),
        macro_precision=_safe_div(sum(m.precision for m in per_class.values()), k),
        macro_recall=_safe_div(sum(m.recall for m in per_class.values()), k),
        macro_f1=_safe_div(sum(m.f1 for m in per_class.values()), k),
        per_class=per_class,
        confusion=matrix,
        columns=columns,
        n=n,
    )
