"""A teacher measured against people on the items both answered, before its other labels are used."""

from __future__ import annotations

import json

import pytest

from loopstack.flywheel.trust import MIN_ITEMS, teacher_agreement
from loopstack.store import Store
from loopstack.store.datasets import DatasetItem, DatasetRepository
from loopstack.store.teacher_labels import TeacherLabel, TeacherLabelRepository

GOLD = [
    {"topic": "bug" if i % 2 else "ui", "sentiment": "negative", "actionable": i % 3 == 0} for i in range(40)
]


def _push(store: Store, teacher_answer: list[object], human: int) -> None:
    """40 items: the first ``human`` with a human expected output; every item labelled by the teacher."""
    items = [
        DatasetItem(key=f"k{i:02d}", input={"review": f"r{i}"}, expected=GOLD[i] if i < human else None)
        for i in range(40)
    ]
    repo = DatasetRepository(store)
    repo.push("traffic", items)
    dataset_id = repo.get("traffic").id
    labels = [
        TeacherLabel(
            item_key=f"k{i:02d}",
            teacher="local/t",
            output=a if isinstance(a, str) else json.dumps(a),
            value=None if isinstance(a, str) else a,
        )
        for i, a in enumerate(teacher_answer)
    ]
    TeacherLabelRepository(store, "default", dataset_id).save(labels)


def test_agreement_is_measured_per_field_on_the_items_people_answered(store: Store) -> None:
    # the teacher always says "bug" (right on odd items), gets sentiment right, actionable always False
    answers: list[object] = [
        {"topic": "bug", "sentiment": "negative", "actionable": False} for _ in range(40)
    ]
    _push(store, answers, human=30)
    got = teacher_agreement("traffic", store=store)
    assert got.items == 30  # the 10 items without a human answer are not compared
    assert got.fields["topic"] == pytest.approx(15 / 30)
    assert got.fields["sentiment"] == 1.0
    assert got.fields["actionable"] == pytest.approx(20 / 30)  # i % 3 != 0 for 20 of 0..29
    per_item = [(int(i % 2 == 1) + 1 + int(i % 3 != 0)) / 3 for i in range(30)]
    assert got.mean == pytest.approx(sum(per_item) / 30)
    low, high = got.ci
    assert low < got.mean < high
    assert got.exact == pytest.approx(sum(1 for i in range(30) if i % 2 == 1 and i % 3 != 0) / 30)
    assert not got.trusted(0.8) and got.trusted(0.7)
    assert got.trusted_fields(0.6) == {"sentiment", "actionable"}
    assert got.trusted_fields(0.5) == {"topic", "sentiment", "actionable"}
    assert got.trusted_fields(1.0) == {"sentiment"}
    assert "teacher vs people on 30 items" in got.line() and "topic 0.50" in got.line()


def test_a_teacher_that_gives_the_human_answers_is_trusted_and_text_answers_compare_whole(
    store: Store,
) -> None:
    _push(store, [dict(g) for g in GOLD], human=30)
    assert teacher_agreement("traffic", store=store).trusted(0.95)
    repo = DatasetRepository(store)
    items = [
        DatasetItem(key=f"t{i}", input={"q": str(i)}, expected="yes" if i % 4 else "no") for i in range(24)
    ]
    repo.push("plain", items)
    dataset_id = repo.get("plain").id
    TeacherLabelRepository(store, "default", dataset_id).save(
        [TeacherLabel(item_key=f"t{i}", teacher="local/t", output="yes") for i in range(24)]
    )
    plain = teacher_agreement("plain", store=store)
    assert (plain.items, plain.fields, plain.exact) == (24, {}, 18 / 24)
    assert plain.trusted_fields(0.0) == frozenset()  # text answers have no fields to trust


def test_too_few_judged_items_are_not_enough_to_trust_and_none_is_said_plainly(store: Store) -> None:
    _push(store, [dict(g) for g in GOLD], human=MIN_ITEMS - 1)
    few = teacher_agreement("traffic", store=store)
    assert few.mean == 1.0 and not few.trusted(0.5)
    assert few.trusted_fields(0.5) == frozenset()  # right on every field, but on too few items
    DatasetRepository(store).push("bare", [DatasetItem(key="a", input={"q": "1"}, expected="x")])
    none = teacher_agreement("bare", store=store)
    assert none.items == 0 and "not measured" in none.line() and not none.trusted(0.0)
