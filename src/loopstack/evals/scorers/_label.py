"""The ``label`` scorer: a predicted class per item, and accuracy / macro-F1 / confusion for the run."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from loopstack.evals.classification import classification_report
from loopstack.evals.scorers._base import Sample, Score, Scorer
from loopstack.evals.scorers._json import extract_json
from loopstack.evals.scorers._registry import scorer

_EDGE_PUNCT = " \t\n\r.,;:!?\"'`*()[]{}"


@scorer("label", version="1")
class LabelMatch(Scorer):
    """The output's class label equals the expected one; the run gets accuracy, macro-F1 and a confusion
    matrix (``score_run``).

    ``field`` reads the label from a JSON object in the output (and in expected, if it is an object).
    With ``labels`` given, an output that is not exactly a label but mentions exactly one of them
    ("Sentiment: positive.") is read as that label.
    """

    data_type = "boolean"

    def __init__(
        self,
        *,
        labels: list[str] | None = None,
        field: str | None = None,
        case_sensitive: bool = False,
        alias: str | None = None,
        threshold: float | None = None,
    ) -> None:
        params: dict[str, Any] = {"case_sensitive": case_sensitive}
        if labels is not None:
            params["labels"] = list(labels)
        if field is not None:
            params["field"] = field
        super().__init__(alias=alias, threshold=threshold, **params)
        self._case = case_sensitive
        self._labels = [self._norm(str(label)) for label in labels] if labels is not None else None
        self._field = field

    def _norm(self, text: str) -> str:
        out = text.strip(_EDGE_PUNCT)
        return out if self._case else out.casefold()

    def expected_label(self, sample: Sample) -> str:
        expected = sample.expected
        if self._field is not None and isinstance(expected, dict):
            expected = expected.get(self._field)
        if expected is None:
            raise ValueError("no expected label")
        return self._norm(str(expected))

    def predicted_label(self, sample: Sample) -> str | None:
        """The label read from the output (``None`` when there is no output or no such field)."""
        if sample.output is None:
            return None
        text: Any = sample.output
        if self._field is not None:
            try:
                obj = extract_json(text)
            except ValueError:
                return None
            if not isinstance(obj, dict) or self._field not in obj:
                return None
            text = obj[self._field]
        label = self._norm(str(text))
        if self._labels is not None and label not in self._labels:
            found = [c for c in self._labels if re.search(rf"(?<!\w){re.escape(c)}(?!\w)", label)]
            if len(found) == 1:
                return found[0]
        return label

    def compute(self, sample: Sample) -> Score:
        want = self.expected_label(sample)
        got = self.predicted_label(sample)
        hit = got == want
        return self.make_score(
            hit,
            explanation=None if hit else f"predicted {got!r}, expected {want!r}",
            metadata={"predicted": got, "expected": want},
        )

    async def score_run(self, samples: Sequence[Sample]) -> list[Score]:
        pairs = []
        for s in samples:
            try:
                pairs.append((self.expected_label(s), self.predicted_label(s)))
            except ValueError:
                continue
        if not pairs:
            return []
        truth = [t for t, _ in pairs]
        labels = sorted(set(truth) | set(self._labels or []))
        report = classification_report(truth, [p for _, p in pairs], labels=labels)
        meta = report.to_dict()
        return [
            self.make_score(report.accuracy, name=f"{self.score_name}.accuracy", metadata=meta),
            self.make_score(report.macro_f1, name=f"{self.score_name}.macro_f1"),
        ]
