"""How far a teacher can be trusted: its labels against the human answers of the same items.

A teacher's labels are stored apart from human answers, so on every item that has both the two can be
compared before the teacher's labels of the other items are trained on. ``teacher_agreement`` gives the
share of items on which the teacher gave the human answer, field by field for JSON answers (and for the
whole answer), and the mean field agreement per item with its 95% interval (``evals.stats.estimate``,
the method an eval's scores get).

Two rules act on it. ``TeacherAgreement.trusted(floor)``: the teacher's mean field agreement with people
reaches ``floor``. ``TeacherAgreement.trusted_fields(floor)``: the JSON fields on which it does, one by
one; ``loopstack finetune --teacher-floor`` (and the flywheel demo) trains on a teacher label's values
of those fields only, so a teacher that is right about sentiment and wrong about topic still teaches
sentiment, and its topics are never learned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from loopstack.store import Store, get_store
from loopstack.store.datasets import DatasetRepository

#: Fewer judged items than this and the agreement is not measured well enough to act on.
MIN_ITEMS = 20


@dataclass(frozen=True)
class TeacherAgreement:
    """The teacher against people on the items both answered."""

    teacher: str | None
    prompt: str | None
    items: int
    """Items with a human answer and a label of this teacher."""
    fields: dict[str, float] = field(default_factory=dict)
    """JSON field -> share of items where the teacher's value is the human one (empty: not JSON)."""
    exact: float = math.nan
    """Share of items where the whole answer agrees (every field, or the text)."""
    mean: float = math.nan
    """Mean over items of the share of fields that agree (the exact rate when answers are not JSON)."""
    ci: tuple[float, float] = (math.nan, math.nan)
    """95% interval of ``mean``."""

    def trusted(self, floor: float) -> bool:
        """Whether the teacher's mean agreement with people reaches ``floor`` on enough items."""
        return self.items >= MIN_ITEMS and not math.isnan(self.mean) and self.mean >= floor

    def trusted_fields(self, floor: float) -> frozenset[str]:
        """The JSON fields whose agreement with people reaches ``floor``, on enough items (none when
        the answers are not JSON objects or too few items were judged)."""
        if self.items < MIN_ITEMS:
            return frozenset()
        return frozenset(f for f, share in self.fields.items() if share >= floor)

    def line(self) -> str:
        if self.items == 0:
            return "no item has both a human answer and a teacher label: agreement not measured"
        low, high = self.ci
        parts = ", ".join(f"{f} {v:.2f}" for f, v in self.fields.items())
        what = (
            f"mean field agreement {self.mean:.2f} [{low:.2f}, {high:.2f}] ({parts})"
            if parts
            else (f"exact agreement {self.exact:.2f} [{low:.2f}, {high:.2f}]")
        )
        return f"teacher vs people on {self.items} items with both: {what}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "teacher": self.teacher,
            "prompt": self.prompt,
            "items": self.items,
            "fields": self.fields,
            "exact": self.exact,
            "mean": self.mean,
            "ci": list(self.ci),
        }


def teacher_agreement(
    dataset: str,
    *,
    teacher: str | None = None,
    prompt: str | None = None,
    store: Store | None = None,
    project: str | None = None,
) -> TeacherAgreement:
    """Compare the newest label of ``teacher`` (and ``prompt``, ``name@version``; default: any) with the
    human expected output on every item of ``dataset`` that has both."""
    from loopstack.config import get_settings
    from loopstack.evals.scorers._json import extract_json, values_match
    from loopstack.evals.stats import estimate
    from loopstack.flywheel.export import teacher_answers

    store = store or get_store()
    project = project or get_settings().project
    answers = teacher_answers(dataset, teacher=teacher, prompt=prompt, store=store, project=project)
    items = [
        it
        for it in DatasetRepository(store, project).items(dataset)
        if it.expected is not None and it.key in answers
    ]
    if not items:
        return TeacherAgreement(teacher, prompt, 0)

    def as_object(value: Any) -> Any:
        if isinstance(value, str):
            try:
                return extract_json(value)
            except ValueError:
                return value
        return value

    humans = [as_object(it.expected) for it in items]
    labels = []
    for it in items:
        lb = answers[it.key]
        labels.append(as_object(lb.value if lb.value is not None else lb.output))
    n = len(items)
    if all(isinstance(h, dict) for h in humans):
        names = list(dict.fromkeys(k for h in humans for k in h))
        per_item: list[dict[str, bool]] = [
            {f: isinstance(t, dict) and f in t and values_match(t[f], h[f]) for f in h}
            for h, t in zip(humans, labels, strict=True)
        ]
        shares = {f: sum(1 for hit in per_item if hit.get(f)) / n for f in names}
        exact = sum(1 for hit in per_item if all(hit.values())) / n
        scores = [sum(hit.values()) / len(hit) if hit else 0.0 for hit in per_item]
    else:
        shares = {}
        scores = [float(str(h).strip() == str(t).strip()) for h, t in zip(humans, labels, strict=True)]
        exact = math.fsum(scores) / n
    est = estimate(scores)
    return TeacherAgreement(teacher, prompt, n, shares, exact, est.mean, (est.ci_low, est.ci_high))
