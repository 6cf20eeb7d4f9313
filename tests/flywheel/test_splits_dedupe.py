"""Frozen stratified splits (a rerun never reshuffles stored items) and near-duplicate removal with the
bundled all-MiniLM-L6-v2 (offline)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from flywheel.helpers import add_call, feedback
from loopstack.errors import InvalidInput
from loopstack.flywheel import curate
from loopstack.flywheel._splits import assign_splits, parse_splits
from loopstack.store import Store
from loopstack.store.datasets import DatasetRepository


def _labelled_calls(store: Store, start: int, n: int) -> None:
    for i in range(start, start + n):
        label = "negative" if i % 4 == 0 else "positive"  # a 1:3 minority class
        t, _ = add_call(store, variables={"review": f"distinct review number {i}"}, output="x")
        feedback(store, t, "correction", json.dumps({"sentiment": label}), data_type="text")


def test_splits_are_stratified_and_frozen_across_reruns(store: Store) -> None:
    _labelled_calls(store, 0, 80)
    first = curate("d", stratify="sentiment", dedupe_threshold=None, seed=7, store=store)
    assert first.splits == {"train": 64, "validation": 8, "test": 8}
    items = DatasetRepository(store).items("d")
    by_split = Counter((i.split, i.expected["sentiment"]) for i in items)
    # each class is split 80/10/10 on its own: 20 negatives -> 16/2/2, 60 positives -> 48/6/6
    assert by_split[("train", "negative")] == 16 and by_split[("test", "negative")] == 2
    assert by_split[("train", "positive")] == 48 and by_split[("validation", "positive")] == 6
    before = {i.key: i.split for i in items}

    _labelled_calls(store, 80, 40)
    second = curate("d", stratify="sentiment", dedupe_threshold=None, seed=7, store=store)
    assert second.added == 40
    after = {i.key: i.split for i in DatasetRepository(store).items("d")}
    assert {k: after[k] for k in before} == before  # nothing stored moved
    assert Counter(after.values()) == {"train": 96, "validation": 12, "test": 12}


def test_assign_splits_tops_up_each_split_towards_its_share() -> None:
    existing = [("train", None)] * 10  # a dataset that so far has only train items
    chosen = assign_splits([(f"k{i}", None) for i in range(10)], existing, {"train": 0.5, "test": 0.5})
    assert Counter(chosen.values()) == {"test": 10}
    assert parse_splits("0.7,0.2,0.1") == {"train": 0.7, "validation": 0.2, "test": 0.1}
    with pytest.raises(InvalidInput, match="sum to 1"):
        parse_splits("train=0.7,test=0.7")


def test_near_duplicates_are_removed_at_the_threshold(store: Store) -> None:
    texts = [
        "The app crashes every time I try to log in.",
        "The app crashes every time I try to log in!!",  # the same review, punctuation aside
        "I love the new dark mode, it looks great.",
        "Please add an export to CSV.",
    ]
    calls = [add_call(store, variables={"review": t}, output="x") for t in texts]
    feedback(store, calls[1][0], "correction", "bug", data_type="text")
    report = curate("d", dedupe_threshold=0.95, splits=None, store=store)
    kept = sorted(i.input["review"] for i in report.items)
    assert len(kept) == 3 and texts[2] in kept and texts[3] in kept
    assert texts[1] in kept and texts[0] not in kept  # of the two, the one with a human answer stays
    # an input already in the dataset is a duplicate for later runs too
    add_call(store, variables={"review": "i love the new dark mode - it looks great"}, output="x")
    again = curate("d", dedupe_threshold=0.9, splits=None, store=store)
    assert again.added == 0
    assert dict(again.steps)["without near duplicates (cosine ≥ 0.9)"] == 0
