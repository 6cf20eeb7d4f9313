"""The annotation queue: one reviewer per item, locks that expire, judgements stored as human scores."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from loopstack.store import Store, utcnow
from loopstack.store.tables import annotation_queue, scores
from loopstack.ui._queue import LockLost, claim_next, enqueue, judge, queue_counts, release
from ui.helpers import add_runs, add_trace


def test_two_reviewers_never_get_the_same_item(store: Store) -> None:
    pid = store.project_id("default")
    ids = [
        enqueue(store, pid, target_type="trace", target_id=t, trace_id=t)
        for t in (add_trace(store, pid), add_trace(store, pid))
    ]
    alice = claim_next(store, pid, "default", "alice")
    bob = claim_next(store, pid, "default", "bob")
    assert alice and bob and {alice.id, bob.id} == set(ids)
    assert claim_next(store, pid, "default", "carol") is None
    # Coming back returns your own locked item, not a new one.
    again = claim_next(store, pid, "default", "alice")
    assert again is not None and again.id == alice.id
    assert queue_counts(store, pid)["default"] == {"pending": 0, "locked": 2, "done": 0}
    with pytest.raises(LockLost):
        judge(store, pid, alice.id, "bob", "accept")


def test_an_expired_lock_frees_the_item(store: Store) -> None:
    pid = store.project_id("default")
    t = add_trace(store, pid)
    item_id = enqueue(store, pid, target_type="span", target_id="0" * 16, trace_id=t)
    assert claim_next(store, pid, "default", "alice") is not None
    with store.write() as conn:
        conn.execute(update(annotation_queue).values(locked_until=utcnow() - timedelta(seconds=1)))
    taken = claim_next(store, pid, "default", "bob")
    assert taken is not None and taken.id == item_id and taken.locked_by == "bob"
    with pytest.raises(LockLost):
        judge(store, pid, item_id, "alice", "reject")
    judge(store, pid, item_id, "bob", "reject", comment="off topic")
    with store.read() as conn:
        row = conn.execute(select(scores.c.name, scores.c.value, scores.c.author, scores.c.comment)).one()
    assert tuple(row) == ("review", 0.0, "bob", "off topic")
    assert queue_counts(store, pid)["default"]["done"] == 1


def test_skip_hands_the_next_item_and_releases_the_lock(store: Store) -> None:
    pid = store.project_id("default")
    first, second = (
        enqueue(store, pid, target_type="trace", target_id=t, trace_id=t)
        for t in (add_trace(store, pid), add_trace(store, pid))
    )
    got = claim_next(store, pid, "default", "alice")
    assert got is not None and got.id == first
    release(store, pid, first, "alice")
    nxt = claim_next(store, pid, "default", "alice", after=first)
    assert nxt is not None and nxt.id == second


def test_judging_a_run_item_scores_that_item(store: Store) -> None:
    pid = store.project_id("default")
    a, _ = add_runs(store)
    with store.read() as conn:
        from loopstack.store.tables import run_items

        item_id = conn.execute(select(run_items.c.id).where(run_items.c.run_id == a)).scalars().first()
    assert item_id is not None
    qid = enqueue(store, pid, target_type="run_item", target_id=item_id, queue="evals")
    got = claim_next(store, pid, "evals", "alice")
    assert got is not None and got.output in ("bug", "praise", "question")
    judge(store, pid, qid, "alice", "correct", correction="question")
    with store.read() as conn:
        row = conn.execute(
            select(
                scores.c.run_item_id, scores.c.run_id, scores.c.name, scores.c.string_value, scores.c.source
            ).where(scores.c.source == "human")
        ).one()
    assert tuple(row) == (item_id, a, "correction", "question", "human")
