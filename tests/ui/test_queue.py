"""The annotation queue repository: one reviewer per item, locks that expire, judgements stored as human
scores, and filling a queue item by item (a bad id rejected alone, a waiting target not added twice)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from loopstack.store import Store, utcnow
from loopstack.store.annotations import AnnotationQueueRepository, LockLost, Target
from loopstack.store.tables import annotation_queue, scores
from ui.helpers import add_runs, add_trace


def _spans(store: Store, pid: str, trace_id: str) -> list[dict[str, object]]:
    from loopstack.store.spans import get_trace_spans

    with store.read() as conn:
        return get_trace_spans(conn, pid, trace_id)


def test_two_reviewers_never_get_the_same_item(store: Store) -> None:
    repo = AnnotationQueueRepository(store)
    pid = repo.project_id
    ids = [repo.add_one("trace", t) for t in (add_trace(store, pid), add_trace(store, pid))]
    alice = repo.claim_next("default", "alice")
    bob = repo.claim_next("default", "bob")
    assert alice and bob and {alice.id, bob.id} == set(ids)
    assert repo.claim_next("default", "carol") is None
    # Coming back returns your own locked item, not a new one.
    again = repo.claim_next("default", "alice")
    assert again is not None and again.id == alice.id
    assert repo.counts()["default"] == {"pending": 0, "locked": 2, "done": 0}
    with pytest.raises(LockLost):
        repo.judge(alice.id, "bob", "accept")


def test_an_expired_lock_frees_the_item(store: Store) -> None:
    repo = AnnotationQueueRepository(store)
    pid = repo.project_id
    t = add_trace(store, pid)
    span_id = next(s["span_id"] for s in _spans(store, pid, t) if s["parent_span_id"])
    item_id = repo.add_one("span", span_id)
    assert repo.claim_next("default", "alice") is not None
    with store.write() as conn:
        conn.execute(update(annotation_queue).values(locked_until=utcnow() - timedelta(seconds=1)))
    taken = repo.claim_next("default", "bob")
    assert taken is not None and taken.id == item_id and taken.locked_by == "bob"
    with pytest.raises(LockLost):
        repo.judge(item_id, "alice", "reject")
    repo.judge(item_id, "bob", "reject", comment="off topic")
    with store.read() as conn:
        row = conn.execute(select(scores.c.name, scores.c.value, scores.c.author, scores.c.comment)).one()
    assert tuple(row) == ("review", 0.0, "bob", "off topic")
    assert repo.counts()["default"]["done"] == 1


def test_skip_hands_the_next_item_and_releases_the_lock(store: Store) -> None:
    repo = AnnotationQueueRepository(store)
    pid = repo.project_id
    first, second = (repo.add_one("trace", t) for t in (add_trace(store, pid), add_trace(store, pid)))
    got = repo.claim_next("default", "alice")
    assert got is not None and got.id == first
    repo.release(first, "alice")
    nxt = repo.claim_next("default", "alice", after=first)
    assert nxt is not None and nxt.id == second


def test_judging_a_run_item_scores_that_item(store: Store) -> None:
    repo = AnnotationQueueRepository(store)
    a, _ = add_runs(store)
    with store.read() as conn:
        from loopstack.store.tables import run_items

        item_id = conn.execute(select(run_items.c.id).where(run_items.c.run_id == a)).scalars().first()
    assert item_id is not None
    qid = repo.add_one("run_item", item_id, queue="evals")
    got = repo.claim_next("evals", "alice")
    assert got is not None and got.output in ("bug", "praise", "question")
    repo.judge(qid, "alice", "correct", correction="question")
    with store.read() as conn:
        row = conn.execute(
            select(
                scores.c.run_item_id, scores.c.run_id, scores.c.name, scores.c.string_value, scores.c.source
            ).where(scores.c.source == "human")
        ).one()
    assert tuple(row) == (item_id, a, "correction", "question", "human")


def test_a_batch_add_rejects_only_the_bad_ids_and_never_adds_twice(store: Store) -> None:
    repo = AnnotationQueueRepository(store)
    good = [add_trace(store, repo.project_id) for _ in range(2)]
    other = add_trace(store, store.project_id("other"))  # exists, but in another project
    span_id = next(s["span_id"] for s in _spans(store, repo.project_id, good[0]) if s["parent_span_id"])
    targets = [
        Target("trace", good[0]),
        Target("trace", "not-hex"),
        Target("trace", other),
        Target("trace", "f" * 32),
        Target("span", span_id),
        Target("span", "0" * 16),
        Target("trace", good[1]),
        Target("trace", good[0]),
    ]
    result = repo.add(targets, queue="triage")
    assert set(result.added) == {Target("trace", good[0]), Target("span", span_id), Target("trace", good[1])}
    assert [(t.target_id, e.split(" ")[0]) for t, e in result.rejected] == [
        ("not-hex", "trace"),
        (other, "trace"),
        ("f" * 32, "trace"),
        ("0" * 16, "span"),
    ]
    assert "not found in project 'default'" in result.rejected[1][1]
    assert result.already_queued == [Target("trace", good[0])]
    again = repo.add([Target("trace", good[1])], queue="triage")
    assert again.added == {} and again.already_queued == [Target("trace", good[1])]
    with store.read() as conn:
        rows = conn.execute(
            select(annotation_queue.c.target_type, annotation_queue.c.trace_id).order_by(
                annotation_queue.c.created_at, annotation_queue.c.id
            )
        ).all()
    assert sorted(tuple(r) for r in rows) == sorted(
        [("trace", good[0]), ("span", good[0]), ("trace", good[1])]
    )
    assert repo.counts() == {"triage": {"pending": 3, "locked": 0, "done": 0}}
