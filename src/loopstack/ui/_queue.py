"""The annotation queue: claim the next item under a time-limited lock, judge it, release or finish it.

An item is offered to one reviewer at a time: claiming sets ``status='locked'`` with ``locked_by`` and
``locked_until``; a lock whose time ran out is free again, so a reviewer who walks away blocks nobody
for long. The claim is a compare-and-set ``UPDATE`` so two reviewers racing for one item cannot both
win. Each judgement is stored as a ``human`` score on the item's target.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, insert, or_, select, update

from loopstack.errors import InvalidInput, NotFound
from loopstack.store import Store, new_id, utcnow
from loopstack.store.scores import ScoreInput, add_score
from loopstack.store.spans import get_trace_spans
from loopstack.store.tables import annotation_queue as aq
from loopstack.store.tables import run_items, scores

LOCK_FOR = timedelta(minutes=15)
VERDICTS = ("accept", "reject", "correct", "comment")


class LockLost(InvalidInput):
    """The item is no longer locked by this reviewer (the lock expired and someone else took it)."""


@dataclass
class QueueItem:
    """One item to review, with the text shown to the reviewer."""

    id: str
    queue: str
    target_type: str
    target_id: str
    trace_id: str | None
    status: str
    locked_by: str | None
    locked_until: datetime | None
    created_at: datetime
    payload: dict[str, Any]
    input: str | None = None
    output: str | None = None


def enqueue(
    store: Store,
    project_id: str,
    *,
    target_type: str,
    target_id: str,
    trace_id: str | None = None,
    queue: str = "default",
    payload: dict[str, Any] | None = None,
) -> str:
    """Put one target (a span, trace or run item) on a queue; the new item's id."""
    if target_type not in ("span", "trace", "run_item"):
        raise InvalidInput(f"annotation target_type must be span, trace or run_item, not {target_type!r}")
    item_id = new_id()
    with store.write() as conn:
        conn.execute(
            insert(aq).values(
                id=item_id,
                project_id=project_id,
                queue=queue,
                target_type=target_type,
                target_id=target_id,
                trace_id=trace_id,
                status="pending",
                payload=payload,
                created_at=utcnow(),
            )
        )
    return item_id


def queue_counts(store: Store, project_id: str) -> dict[str, dict[str, int]]:
    """queue -> {pending, locked, done}; a lock whose time ran out counts as pending."""
    expired = case((and_(aq.c.status == "locked", aq.c.locked_until < utcnow()), 1), else_=0)
    out: dict[str, dict[str, int]] = {}
    with store.read() as conn:
        for queue, status, is_expired, n in conn.execute(
            select(aq.c.queue, aq.c.status, expired, func.count())
            .where(aq.c.project_id == project_id)
            .group_by(aq.c.queue, aq.c.status, expired)
        ):
            counts = out.setdefault(str(queue), {"pending": 0, "locked": 0, "done": 0})
            key = "pending" if is_expired else str(status)
            counts[key] = counts.get(key, 0) + int(n)
    return dict(sorted(out.items()))


def _claimable(reviewer: str, now: datetime) -> Any:
    return or_(
        aq.c.status == "pending",
        and_(aq.c.status == "locked", or_(aq.c.locked_until < now, aq.c.locked_by == reviewer)),
    )


def claim_next(
    store: Store, project_id: str, queue: str, reviewer: str, *, after: str | None = None
) -> QueueItem | None:
    """Lock and return the reviewer's current item, else the oldest free one (after ``after`` if given)."""
    for _ in range(5):  # lose a race -> try the next candidate
        now = utcnow()
        with store.write() as conn:
            base = and_(aq.c.project_id == project_id, aq.c.queue == queue)
            mine = conn.execute(
                select(aq.c.id)
                .where(base, aq.c.status == "locked", aq.c.locked_by == reviewer, aq.c.locked_until >= now)
                .order_by(aq.c.created_at, aq.c.id)
                .limit(1)
            ).scalar()
            candidate = mine
            if candidate is None:
                free = (
                    select(aq.c.id).where(base, _claimable(reviewer, now)).order_by(aq.c.created_at, aq.c.id)
                )
                if after:
                    ref = conn.execute(select(aq.c.created_at, aq.c.id).where(aq.c.id == after)).first()
                    if ref is not None:
                        later = free.where(
                            or_(aq.c.created_at > ref[0], and_(aq.c.created_at == ref[0], aq.c.id > ref[1]))
                        )
                        candidate = conn.execute(later.limit(1)).scalar()
                if candidate is None:
                    candidate = conn.execute(free.limit(1)).scalar()
            if candidate is None:
                return None
            won = conn.execute(
                update(aq)
                .where(aq.c.id == candidate, _claimable(reviewer, now))
                .values(status="locked", locked_by=reviewer, locked_until=now + LOCK_FOR)
            ).rowcount
            if won:
                return _load(conn, project_id, str(candidate))
    return None


def _load(conn: Any, project_id: str, item_id: str) -> QueueItem:
    row = conn.execute(select(aq).where(aq.c.project_id == project_id, aq.c.id == item_id)).mappings().first()
    if row is None:
        raise NotFound(f"annotation item {item_id} not found")
    item = QueueItem(
        id=row["id"],
        queue=row["queue"],
        target_type=row["target_type"],
        target_id=row["target_id"],
        trace_id=row["trace_id"],
        status=row["status"],
        locked_by=row["locked_by"],
        locked_until=row["locked_until"],
        created_at=row["created_at"],
        payload=dict(row["payload"] or {}),
    )
    if item.target_type == "run_item":
        ri = conn.execute(
            select(run_items.c.input, run_items.c.output).where(run_items.c.id == item.target_id)
        ).first()
        if ri is not None:
            from loopstack.ui._render import pretty_json

            item.input, item.output = pretty_json(ri[0]), ri[1]
    elif item.trace_id:
        spans = get_trace_spans(conn, project_id, item.trace_id)
        span = next(
            (s for s in spans if (item.target_type == "span" and s["span_id"] == item.target_id)),
            next((s for s in spans if s["parent_span_id"] is None), spans[0] if spans else None),
        )
        if span is not None:
            item.input, item.output = span["input"], span["output"]
    item.input = item.payload.get("input", item.input)
    item.output = item.payload.get("output", item.output)
    return item


def release(store: Store, project_id: str, item_id: str, reviewer: str) -> None:
    """Give an item back to the queue (a skip)."""
    with store.write() as conn:
        conn.execute(
            update(aq)
            .where(
                aq.c.project_id == project_id,
                aq.c.id == item_id,
                aq.c.locked_by == reviewer,
                aq.c.status == "locked",
            )
            .values(status="pending", locked_by=None, locked_until=None)
        )


def judge(
    store: Store,
    project_id: str,
    item_id: str,
    reviewer: str,
    verdict: str,
    *,
    correction: str | None = None,
    comment: str | None = None,
) -> None:
    """Store a reviewer's verdict as a human score; every verdict but ``comment`` finishes the item."""
    if verdict not in VERDICTS:
        raise InvalidInput(f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}")
    if verdict == "correct" and not (correction or "").strip():
        raise InvalidInput("correct: the corrected output is empty")
    if verdict == "comment" and not (comment or "").strip():
        raise InvalidInput("comment: the comment is empty")
    now = utcnow()
    with store.read() as conn:
        item = _load(conn, project_id, item_id)
    if item.status == "done":
        raise LockLost(f"annotation item {item_id} was already judged")
    if item.locked_by != reviewer or (item.locked_until is not None and item.locked_until < now):
        raise LockLost(
            f"annotation item {item_id} is not locked by {reviewer} any more; open the queue again"
        )
    value: bool | str
    if verdict in ("accept", "reject"):
        name, value, data_type = "review", verdict == "accept", "boolean"
    elif verdict == "correct":
        name, value, data_type = "correction", correction or "", "text"
    else:
        name, value, data_type = "comment", comment or "", "text"
    meta = {"queue": item.queue, "annotation_item": item.id}
    _store_score(
        store,
        project_id,
        item,
        name,
        value,
        data_type,
        reviewer,
        None if verdict == "comment" else comment,
        meta,
    )
    if verdict != "comment":
        with store.write() as conn:
            conn.execute(
                update(aq)
                .where(aq.c.id == item_id, aq.c.locked_by == reviewer)
                .values(status="done", completed_at=now, locked_until=None)
            )


def _store_score(
    store: Store,
    project_id: str,
    item: QueueItem,
    name: str,
    value: bool | str,
    data_type: str,
    reviewer: str,
    comment: str | None,
    meta: dict[str, Any],
) -> None:
    if item.target_type in ("span", "trace") and item.trace_id:
        add_score(
            store,
            project_id,
            ScoreInput(
                trace_id=item.trace_id,
                span_id=item.target_id if item.target_type == "span" else None,
                name=name,
                value=value,
                data_type=data_type,
                source="human",
                author=reviewer,
                comment=comment,
                metadata=meta,
            ),
        )
        return
    if item.target_type != "run_item":
        raise InvalidInput(f"annotation items on a {item.target_type} cannot be scored yet")
    with store.write() as conn:  # the scores repository takes trace targets only; run items are scored here
        run_id = conn.execute(select(run_items.c.run_id).where(run_items.c.id == item.target_id)).scalar()
        conn.execute(
            insert(scores).values(
                id=new_id(),
                project_id=project_id,
                target_type="run_item",
                run_id=run_id,
                run_item_id=item.target_id,
                name=name,
                data_type=data_type,
                value=(1.0 if value else 0.0) if isinstance(value, bool) else None,
                string_value=value if isinstance(value, str) else None,
                source="human",
                author=reviewer,
                comment=comment,
                metadata=meta,
                created_at=utcnow(),
            )
        )
