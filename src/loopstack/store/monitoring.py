"""Repositories of online evaluators and alert rules, their scores, events and deliveries.

What a rule *means* (validation, sampling, decisions) lives in ``loopstack.monitor``; this module stores
rows. The worker's progress (cursors, health counters, a rule's streaks) is written in the same
transaction as the scores or events it produced, so a restart resumes exactly where it stopped.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from loopstack.errors import InvalidInput, NotFound
from loopstack.store._repository import ProjectRepository
from loopstack.store._store import Store
from loopstack.store._types import new_id, utcnow
from loopstack.store.tables import alert_deliveries, alert_events, alert_rules, evaluators, projects, scores

#: The ``scores.source`` of scores written by online evaluators.
ONLINE_SOURCE = "online"


def _public(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    out.pop("project_id", None)
    return out


def _by_id_or_name(table: Any, project_id: str, key: str) -> Any:
    return select(table).where(table.c.project_id == project_id, (table.c.id == key) | (table.c.name == key))


class EvaluatorRepository(ProjectRepository):
    """Create, edit, list and read the online evaluators of one project, and store what they scored."""

    def create(
        self,
        *,
        name: str,
        level: str,
        filter: Mapping[str, Any],
        sample_rate: float,
        scorers: Sequence[Mapping[str, Any]],
        on_feedback: bool,
        enabled: bool = True,
        start_at: datetime | None = None,
    ) -> dict[str, Any]:
        """A new evaluator at version 1; live evaluation starts at ``start_at`` (default now)."""
        now = utcnow()
        row = {
            "id": new_id(),
            "project_id": self.project_id,
            "name": name,
            "version": 1,
            "level": level,
            "filter": dict(filter),
            "sample_rate": sample_rate,
            "scorers": [dict(s) for s in scorers],
            "on_feedback": on_feedback,
            "enabled": enabled,
            "cursor_at": start_at or now,
            "cursor_id": "",
            "feedback_cursor_at": start_at or now,
            "evaluated": 0,
            "skipped": 0,
            "errored": 0,
            "shed": 0,
            "error_reasons": {},
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.store.write() as conn:
                conn.execute(insert(evaluators).values(**row))
        except IntegrityError:
            raise InvalidInput(
                f"an evaluator named {name!r} already exists in project {self.project!r}"
            ) from None
        return self.get(str(row["id"]))

    def get(self, key: str) -> dict[str, Any]:
        """The evaluator with this id or name; ``NotFound`` otherwise."""
        with self.store.read() as conn:
            row = conn.execute(_by_id_or_name(evaluators, self.project_id, key)).first()
        if row is None:
            raise NotFound(f"no evaluator {key!r} in project {self.project!r}")
        return _public(row)

    def list(self) -> list[dict[str, Any]]:  # noqa: A003 - the repository's listing
        """Every evaluator of the project, by name."""
        stmt = (
            select(evaluators).where(evaluators.c.project_id == self.project_id).order_by(evaluators.c.name)
        )
        with self.store.read() as conn:
            return [_public(r) for r in conn.execute(stmt)]

    def update(self, key: str, **changes: Any) -> dict[str, Any]:
        """Change an evaluator's definition: its version goes up, so new scores are told apart."""
        current = self.get(key)
        allowed = {"level", "filter", "sample_rate", "scorers", "on_feedback", "enabled"}
        values = {k: v for k, v in changes.items() if k in allowed and v is not None}
        with self.store.write() as conn:
            conn.execute(
                update(evaluators)
                .where(evaluators.c.id == current["id"])
                .values(**values, version=current["version"] + 1, updated_at=utcnow())
            )
        return self.get(current["id"])

    def set_backfill(self, key: str, backfill: Mapping[str, Any] | None) -> dict[str, Any]:
        """Record a requested backfill (the worker runs it in chunks) or clear it."""
        current = self.get(key)
        with self.store.write() as conn:
            conn.execute(
                update(evaluators)
                .where(evaluators.c.id == current["id"])
                .values(backfill=dict(backfill) if backfill is not None else None)
            )
        return self.get(current["id"])

    def online_scores(self, key: str, limit: int = 100) -> builtins.list[dict[str, Any]]:
        """The newest scores this evaluator wrote."""
        current = self.get(key)
        stmt = (
            select(scores)
            .where(scores.c.project_id == self.project_id, scores.c.author == evaluator_author(current["id"]))
            .order_by(scores.c.created_at.desc())
            .limit(limit)
        )
        with self.store.read() as conn:
            return [_public(r) for r in conn.execute(stmt)]


def evaluator_author(evaluator_id: str) -> str:
    """The ``scores.author`` of an evaluator's scores (its id: names can be reused)."""
    return f"evaluator:{evaluator_id}"


def enabled_evaluators(store: Store) -> list[dict[str, Any]]:
    """Every enabled evaluator of every project, with its project's name (the worker's list)."""
    stmt = (
        select(evaluators, projects.c.name.label("project"))
        .join(projects, projects.c.id == evaluators.c.project_id)
        .where(evaluators.c.enabled.is_(True))
        .order_by(evaluators.c.created_at)
    )
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def evaluators_with_backfill(store: Store) -> list[dict[str, Any]]:
    """Evaluators with a backfill waiting to run."""
    stmt = (
        select(evaluators, projects.c.name.label("project"))
        .join(projects, projects.c.id == evaluators.c.project_id)
        .where(evaluators.c.backfill.is_not(None))
    )
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt) if r.backfill]


def already_scored(
    conn: Connection, project_id: str, evaluator_id: str, version: int, trace_ids: Iterable[str]
) -> set[tuple[str, str | None]]:
    """(trace, span) targets this evaluator version has already scored among ``trace_ids``."""
    ids = list(set(trace_ids))
    found: set[tuple[str, str | None]] = set()
    for i in range(0, len(ids), 500):
        stmt = select(scores.c.trace_id, scores.c.span_id, scores.c.metadata).where(
            scores.c.project_id == project_id,
            scores.c.author == evaluator_author(evaluator_id),
            scores.c.trace_id.in_(ids[i : i + 500]),
        )
        for r in conn.execute(stmt):
            if (r.metadata or {}).get("evaluator_version") == version:
                found.add((r.trace_id, r.span_id))
    return found


def save_evaluation(
    conn: Connection,
    evaluator_id: str,
    score_rows: Sequence[Mapping[str, Any]],
    *,
    progress: Mapping[str, Any],
    counts: Mapping[str, int],
    reasons: Mapping[str, int],
) -> None:
    """Store scores and move the evaluator's cursors and health counters, in the caller's transaction."""
    if score_rows:
        conn.execute(insert(scores), [dict(r) for r in score_rows])
    row = conn.execute(
        select(
            evaluators.c.error_reasons,
            evaluators.c.evaluated,
            evaluators.c.skipped,
            evaluators.c.errored,
            evaluators.c.shed,
        ).where(evaluators.c.id == evaluator_id)
    ).first()
    if row is None:  # deleted meanwhile
        return
    merged = dict(row.error_reasons or {})
    for reason, n in reasons.items():
        merged[reason[:300]] = merged.get(reason[:300], 0) + n
    if len(merged) > 50:  # keep the most frequent reasons only
        merged = dict(sorted(merged.items(), key=lambda kv: -kv[1])[:50])
    values: dict[str, Any] = {
        "evaluated": row.evaluated + counts.get("evaluated", 0),
        "skipped": row.skipped + counts.get("skipped", 0),
        "errored": row.errored + counts.get("errored", 0),
        "shed": row.shed + counts.get("shed", 0),
        "error_reasons": merged,
        **progress,
    }
    if reasons:
        values["last_error"] = next(reversed(list(reasons)))[:1000]
    conn.execute(update(evaluators).where(evaluators.c.id == evaluator_id).values(**values))


# ------------------------------------------------------------------------------------------------ alerts


class AlertRepository(ProjectRepository):
    """Alert rules of one project, their events and deliveries."""

    def create_rule(
        self, name: str, spec: Mapping[str, Any], *, enabled: bool = True, start_at: datetime | None = None
    ) -> dict[str, Any]:
        """A new rule in state ``ok``; its first window ends after ``start_at`` (default now)."""
        now = utcnow()
        row = {
            "id": new_id(),
            "project_id": self.project_id,
            "name": name,
            "version": 1,
            "spec": dict(spec),
            "enabled": enabled,
            "state": "ok",
            "breach_streak": 0,
            "clear_streak": 0,
            "last_window_end": start_at,
            "skipped_windows": 0,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.store.write() as conn:
                conn.execute(insert(alert_rules).values(**row))
        except IntegrityError:
            raise InvalidInput(
                f"an alert rule named {name!r} already exists in project {self.project!r}"
            ) from None
        return self.get_rule(str(row["id"]))

    def get_rule(self, key: str) -> dict[str, Any]:
        with self.store.read() as conn:
            row = conn.execute(_by_id_or_name(alert_rules, self.project_id, key)).first()
        if row is None:
            raise NotFound(f"no alert rule {key!r} in project {self.project!r}")
        return _public(row)

    def list_rules(self) -> list[dict[str, Any]]:
        stmt = (
            select(alert_rules)
            .where(alert_rules.c.project_id == self.project_id)
            .order_by(alert_rules.c.name)
        )
        with self.store.read() as conn:
            return [_public(r) for r in conn.execute(stmt)]

    def set_enabled(self, key: str, enabled: bool) -> dict[str, Any]:
        rule = self.get_rule(key)
        with self.store.write() as conn:
            conn.execute(
                update(alert_rules)
                .where(alert_rules.c.id == rule["id"])
                .values(enabled=enabled, updated_at=utcnow())
            )
        return self.get_rule(rule["id"])

    def list_events(
        self, *, rule: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Firings and resolutions, newest first, each with its rule's name and its deliveries."""
        stmt = (
            select(alert_events, alert_rules.c.name.label("rule"))
            .join(alert_rules, alert_rules.c.id == alert_events.c.rule_id)
            .where(alert_events.c.project_id == self.project_id)
            .order_by(alert_events.c.created_at.desc(), alert_events.c.id)
            .limit(limit)
            .offset(offset)
        )
        if rule is not None:
            stmt = stmt.where(alert_events.c.rule_id == self.get_rule(rule)["id"])
        with self.store.read() as conn:
            events = [_public(r) for r in conn.execute(stmt)]
            ids = [e["id"] for e in events]
            by_event: dict[str, list[dict[str, Any]]] = {}
            if ids:
                for d in conn.execute(select(alert_deliveries).where(alert_deliveries.c.event_id.in_(ids))):
                    by_event.setdefault(d.event_id, []).append(dict(d._mapping))
        for e in events:
            e["deliveries"] = by_event.get(e["id"], [])
        return events


def enabled_rules(store: Store) -> list[dict[str, Any]]:
    """Every enabled alert rule of every project, with its project's name."""
    stmt = (
        select(alert_rules, projects.c.name.label("project"))
        .join(projects, projects.c.id == alert_rules.c.project_id)
        .where(alert_rules.c.enabled.is_(True))
        .order_by(alert_rules.c.created_at)
    )
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def save_rule_state(
    store: Store,
    rule_id: str,
    state: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    deliveries: Sequence[Mapping[str, Any]],
) -> list[str]:
    """Store a rule's decision state with the events it produced and their pending deliveries, in one
    transaction; the new event ids."""
    now = utcnow()
    ids: list[str] = []
    with store.write() as conn:
        conn.execute(update(alert_rules).where(alert_rules.c.id == rule_id).values(**state, updated_at=now))
        for event in events:
            event_id = new_id()
            ids.append(event_id)
            conn.execute(insert(alert_events).values(id=event_id, rule_id=rule_id, created_at=now, **event))
            for d in deliveries:
                conn.execute(
                    insert(alert_deliveries).values(
                        id=new_id(),
                        event_id=event_id,
                        status="pending",
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                        channel=d["channel"],
                        target=d["target"],
                    )
                )
    return ids


def due_deliveries(store: Store, now: datetime, limit: int = 50) -> list[dict[str, Any]]:
    """Pending deliveries whose next attempt is due, with their event and its rule's spec."""
    stmt = (
        select(
            alert_deliveries,
            alert_events.c.kind,
            alert_events.c.message,
            alert_events.c.value,
            alert_events.c.samples,
            alert_events.c.window_start,
            alert_events.c.window_end,
            alert_events.c.details,
            alert_rules.c.name.label("rule"),
            alert_rules.c.spec,
            projects.c.name.label("project"),
        )
        .join(alert_events, alert_events.c.id == alert_deliveries.c.event_id)
        .join(alert_rules, alert_rules.c.id == alert_events.c.rule_id)
        .join(projects, projects.c.id == alert_rules.c.project_id)
        .where(alert_deliveries.c.status == "pending", alert_deliveries.c.next_attempt_at <= now)
        .order_by(alert_deliveries.c.next_attempt_at)
        .limit(limit)
    )
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def record_attempt(
    store: Store,
    delivery_id: str,
    *,
    ok: bool,
    error: str | None,
    next_attempt_at: datetime | None,
    attempts: int,
) -> None:
    """One delivery attempt's outcome: delivered, failed for good (no next attempt), or retried later."""
    status = "delivered" if ok else ("pending" if next_attempt_at is not None else "failed")
    with store.write() as conn:
        conn.execute(
            update(alert_deliveries)
            .where(alert_deliveries.c.id == delivery_id)
            .values(
                status=status,
                attempts=attempts,
                last_error=error,
                next_attempt_at=next_attempt_at,
                delivered_at=utcnow() if ok else None,
            )
        )
