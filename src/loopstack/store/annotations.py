"""Annotation queue repository: fill a queue, claim the next item under a time-limited lock, judge it.

An item is offered to one reviewer at a time: claiming sets ``status='locked'`` with ``locked_by`` and
``locked_until``; a lock whose time ran out is free again, so a reviewer who walks away blocks nobody
for long. The claim is a compare-and-set ``UPDATE`` so two reviewers racing for one item cannot both
win. Each judgement is stored as a ``human`` score on the item's target.

Adding is per item: a target that does not exist in the project is rejected on its own (the rest of
the batch is added), and a target already waiting in the queue is not added twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, insert, or_, select, update

from loopstack.errors import InvalidInput, NotFound
from loopstack.store._repository import ProjectRepository
from loopstack.store._types import new_id, utcnow
from loopstack.store.scores import ScoreInput, ScoreRepository
from loopstack.store.spans import get_trace_spans
from loopstack.store.tables import annotation_queue as aq
from loopstack.store.tables import run_items, runs, scores, spans

LOCK_FOR = timedelta(minutes=15)
VERDICTS = ("accept", "reject", "correct", "comment")
TARGET_TYPES = ("trace", "span", "run_item")
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_SPAN_ID = re.compile(r"^[0-9a-f]{16}$")
_QUEUE_NAME = re.compile(r"^[\w.\- ]{1,200}$")


class LockLost(InvalidInput):
    """The item is no longer locked by this reviewer (the lock expired and someone else took it)."""


@dataclass(frozen=True)
class Target:
    """What to put on a queue: a trace, one span, or one eval run item, by id.

    A span's ``trace_id``, when known, makes finding it one index lookup instead of a search of the
    project's spans.
    """

    target_type: str
    target_id: str
    trace_id: str | None = field(default=None, compare=False)


@dataclass
class AddResult:
    """What one batch add did, item by item: added (target -> new item id), already queued, rejected."""

    added: dict[Target, str] = field(default_factory=dict)
    already_queued: list[Target] = field(default_factory=list)
    rejected: list[tuple[Target, str]] = field(default_factory=list)


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


def check_queue_name(queue: str) -> str:
    """``queue`` trimmed, or InvalidInput naming what a queue name may hold."""
    name = queue.strip()
    if not _QUEUE_NAME.match(name):
        raise InvalidInput(f"queue name {queue!r}: use 1 to 200 letters, digits, spaces, '.', '-' or '_'")
    return name


def _storable_id(value: str | None) -> bool:
    """Whether ``value`` can be an item id at all (PostgreSQL refuses NUL characters in a query)."""
    return bool(value) and len(value or "") <= 64 and "\x00" not in (value or "")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


class AnnotationQueueRepository(ProjectRepository):
    """The annotation queues of one project: every caller (CLI, REST, UI) fills and reads them here."""

    # -- filling -------------------------------------------------------------------------------------

    def add(
        self,
        targets: Iterable[Target],
        *,
        queue: str = "default",
        payload: dict[str, Any] | None = None,
    ) -> AddResult:
        """Put each target on ``queue``; a bad target is rejected alone, a waiting one is not re-added."""
        queue = check_queue_name(queue)
        result = AddResult()
        now = utcnow()
        with self.store.write() as conn:
            for target in targets:
                try:
                    trace_id = self._resolve(conn, target)
                except InvalidInput as exc:
                    result.rejected.append((target, str(exc)))
                    continue
                if target in result.added or self._waiting(conn, queue, target):
                    result.already_queued.append(target)
                    continue
                item_id = new_id()
                conn.execute(
                    insert(aq).values(
                        id=item_id,
                        project_id=self.project_id,
                        queue=queue,
                        target_type=target.target_type,
                        target_id=target.target_id,
                        trace_id=trace_id,
                        status="pending",
                        payload=payload,
                        created_at=now,
                    )
                )
                result.added[target] = item_id
        return result

    def add_one(self, target_type: str, target_id: str, *, queue: str = "default") -> str:
        """Put one target on ``queue``; its item id (the waiting item's id when it is already queued)."""
        target = Target(target_type, target_id.strip().lower() if target_type != "run_item" else target_id)
        result = self.add([target], queue=queue)
        if result.rejected:
            raise InvalidInput(result.rejected[0][1])
        if target in result.added:
            return result.added[target]
        with self.store.read() as conn:
            return str(
                conn.execute(
                    select(aq.c.id).where(*self._same(queue, target), aq.c.status != "done").limit(1)
                ).scalar_one()
            )

    def _resolve(self, conn: Connection, target: Target) -> str | None:
        """The trace id of ``target``, or InvalidInput when it is malformed or not in this project."""
        kind, tid = target.target_type, target.target_id
        if kind == "trace":
            if not _TRACE_ID.match(tid):
                raise InvalidInput(f"trace id must be 32 hex characters, not {tid!r}")
            found = conn.execute(
                select(spans.c.trace_id)
                .where(spans.c.project_id == self.project_id, spans.c.trace_id == tid)
                .limit(1)
            ).scalar()
            if found is None:
                raise InvalidInput(f"trace {tid} not found in project {self.project!r}")
            return tid
        if kind == "span":
            if not _SPAN_ID.match(tid):
                raise InvalidInput(f"span id must be 16 hex characters, not {tid!r}")
            query = select(spans.c.trace_id).where(
                spans.c.project_id == self.project_id, spans.c.span_id == tid
            )
            if target.trace_id is not None:
                if not _TRACE_ID.match(target.trace_id):
                    raise InvalidInput(f"trace id must be 32 hex characters, not {target.trace_id!r}")
                query = query.where(spans.c.trace_id == target.trace_id)
            found = conn.execute(query.limit(1)).scalar()
            if found is None:
                raise InvalidInput(f"span {tid} not found in project {self.project!r}")
            return str(found)
        if kind == "run_item":
            found = conn.execute(
                select(run_items.c.id)
                .select_from(run_items.join(runs, runs.c.id == run_items.c.run_id))
                .where(runs.c.project_id == self.project_id, run_items.c.id == tid)
            ).scalar()
            if found is None:
                raise InvalidInput(f"run item {tid!r} not found in project {self.project!r}")
            return None
        raise InvalidInput(f"annotation target must be one of {', '.join(TARGET_TYPES)}, not {kind!r}")

    def _same(self, queue: str, target: Target) -> tuple[Any, ...]:
        return (
            aq.c.project_id == self.project_id,
            aq.c.queue == queue,
            aq.c.target_type == target.target_type,
            aq.c.target_id == target.target_id,
        )

    def _waiting(self, conn: Connection, queue: str, target: Target) -> bool:
        found = conn.execute(
            select(aq.c.id).where(*self._same(queue, target), aq.c.status != "done").limit(1)
        )
        return found.scalar() is not None

    # -- reading -------------------------------------------------------------------------------------

    def counts(self) -> dict[str, dict[str, int]]:
        """queue -> {pending, locked, done}; a lock whose time ran out counts as pending."""
        expired = case((and_(aq.c.status == "locked", aq.c.locked_until < utcnow()), 1), else_=0)
        out: dict[str, dict[str, int]] = {}
        with self.store.read() as conn:
            for queue, status, is_expired, n in conn.execute(
                select(aq.c.queue, aq.c.status, expired, func.count())
                .where(aq.c.project_id == self.project_id)
                .group_by(aq.c.queue, aq.c.status, expired)
            ):
                counts = out.setdefault(str(queue), {"pending": 0, "locked": 0, "done": 0})
                key = "pending" if is_expired else str(status)
                counts[key] = counts.get(key, 0) + int(n)
        return dict(sorted(out.items()))

    def items(
        self, queue: str | None = None, *, status: str | None = None, limit: int = 100
    ) -> list[QueueItem]:
        """Items of the project (of one queue, one status), oldest first, without their texts."""
        where: list[Any] = [aq.c.project_id == self.project_id]
        if queue is not None:
            where.append(aq.c.queue == check_queue_name(queue))
        if status is not None:
            where.append(aq.c.status == status)
        with self.store.read() as conn:
            rows = conn.execute(
                select(aq).where(*where).order_by(aq.c.created_at, aq.c.id).limit(limit)
            ).mappings()
            return [self._item(row) for row in rows]

    @staticmethod
    def _item(row: Any) -> QueueItem:
        return QueueItem(
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

    def _load(self, conn: Connection, item_id: str) -> QueueItem:
        if not _storable_id(item_id):
            raise NotFound(f"annotation item {item_id!r} not found")
        row = (
            conn.execute(select(aq).where(aq.c.project_id == self.project_id, aq.c.id == item_id))
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"annotation item {item_id} not found")
        item = self._item(row)
        if item.target_type == "run_item":
            ri = conn.execute(
                select(run_items.c.input, run_items.c.output).where(run_items.c.id == item.target_id)
            ).first()
            if ri is not None:
                item.input, item.output = _text(ri[0]), ri[1]
        elif item.trace_id:
            rows = get_trace_spans(conn, self.project_id, item.trace_id)
            span = next(
                (s for s in rows if (item.target_type == "span" and s["span_id"] == item.target_id)),
                next((s for s in rows if s["parent_span_id"] is None), rows[0] if rows else None),
            )
            if span is not None:
                item.input, item.output = span["input"], span["output"]
        item.input = _text(item.payload.get("input", item.input))
        item.output = _text(item.payload.get("output", item.output))
        return item

    # -- reviewing -----------------------------------------------------------------------------------

    @staticmethod
    def _claimable(reviewer: str, now: datetime) -> Any:
        return or_(
            aq.c.status == "pending",
            and_(aq.c.status == "locked", or_(aq.c.locked_until < now, aq.c.locked_by == reviewer)),
        )

    def claim_next(self, queue: str, reviewer: str, *, after: str | None = None) -> QueueItem | None:
        """Lock and return the reviewer's current item, else the oldest free one (after ``after``)."""
        queue = check_queue_name(queue)
        for _ in range(5):  # lose a race -> try the next candidate
            now = utcnow()
            with self.store.write() as conn:
                base = and_(aq.c.project_id == self.project_id, aq.c.queue == queue)
                candidate = conn.execute(
                    select(aq.c.id)
                    .where(
                        base, aq.c.status == "locked", aq.c.locked_by == reviewer, aq.c.locked_until >= now
                    )
                    .order_by(aq.c.created_at, aq.c.id)
                    .limit(1)
                ).scalar()
                if candidate is None:
                    free = (
                        select(aq.c.id)
                        .where(base, self._claimable(reviewer, now))
                        .order_by(aq.c.created_at, aq.c.id)
                    )
                    if after and _storable_id(after):
                        ref = conn.execute(select(aq.c.created_at, aq.c.id).where(aq.c.id == after)).first()
                        if ref is not None:
                            later = free.where(
                                or_(
                                    aq.c.created_at > ref[0],
                                    and_(aq.c.created_at == ref[0], aq.c.id > ref[1]),
                                )
                            )
                            candidate = conn.execute(later.limit(1)).scalar()
                    if candidate is None:
                        candidate = conn.execute(free.limit(1)).scalar()
                if candidate is None:
                    return None
                won = conn.execute(
                    update(aq)
                    .where(aq.c.id == candidate, self._claimable(reviewer, now))
                    .values(status="locked", locked_by=reviewer, locked_until=now + LOCK_FOR)
                ).rowcount
                if won:
                    return self._load(conn, str(candidate))
        return None

    def release(self, item_id: str, reviewer: str) -> None:
        """Give an item back to the queue (a skip)."""
        if not _storable_id(item_id):
            return
        with self.store.write() as conn:
            conn.execute(
                update(aq)
                .where(
                    aq.c.project_id == self.project_id,
                    aq.c.id == item_id,
                    aq.c.locked_by == reviewer,
                    aq.c.status == "locked",
                )
                .values(status="pending", locked_by=None, locked_until=None)
            )

    def judge(
        self,
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
        with self.store.read() as conn:
            item = self._load(conn, item_id)
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
        self._store_score(
            item, name, value, data_type, reviewer, None if verdict == "comment" else comment, meta
        )
        if verdict != "comment":
            with self.store.write() as conn:
                conn.execute(
                    update(aq)
                    .where(aq.c.id == item_id, aq.c.locked_by == reviewer)
                    .values(status="done", completed_at=now, locked_until=None)
                )

    def _store_score(
        self,
        item: QueueItem,
        name: str,
        value: bool | str,
        data_type: str,
        reviewer: str,
        comment: str | None,
        meta: dict[str, Any],
    ) -> None:
        if item.target_type in ("span", "trace") and item.trace_id:
            ScoreRepository(self.store, self.project).add_score(
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
        with self.store.write() as conn:  # the scores repository takes trace targets only
            run_id = conn.execute(select(run_items.c.run_id).where(run_items.c.id == item.target_id)).scalar()
            conn.execute(
                insert(scores).values(
                    id=new_id(),
                    project_id=self.project_id,
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
