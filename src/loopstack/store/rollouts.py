"""Repository of gradual rollouts: rows, the one running per label, and the observations a test reads.

What a rollout *means* (the ramp, the sequential test, rollback and promotion) lives in
``loopstack.monitor.rollouts``; this module stores rows. Starting a rollout and moving its label happen
under the prompt's row lock, so two rollouts can never run on one label and a rollback and a manual
label move cannot interleave.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from loopstack.errors import InvalidInput, NotFound
from loopstack.store import prompts as prompt_repo
from loopstack.store._repository import ProjectRepository
from loopstack.store._store import Store
from loopstack.store._types import new_id, utcnow
from loopstack.store.monitor_spans import _attribute_equals
from loopstack.store.scores import FEEDBACK_SOURCES
from loopstack.store.tables import (
    projects,
    prompt_label_events,
    prompt_labels,
    prompts,
    rollouts,
    scores,
    spans,
)

RUNNING = "running"
ROLLOUT_ATTR = "loopstack.rollout.id"
_COLUMNS = (rollouts, prompts.c.name.label("prompt"))


def running_on(conn: Connection, pid: str, label: str) -> Row[Any] | None:
    """The rollout running on ``label`` of prompt ``pid``, if any."""
    return conn.execute(
        select(rollouts).where(
            rollouts.c.prompt_id == pid, rollouts.c.label == label, rollouts.c.state == RUNNING
        )
    ).first()


def running_for_fetch(conn: Connection, project: str, name: str, label: str) -> Row[Any] | None:
    """The running rollout of ``project``/``name``/``label`` (the SDK's label fetch joins it in)."""
    return conn.execute(
        select(rollouts)
        .join(prompts, prompts.c.id == rollouts.c.prompt_id)
        .join(projects, projects.c.id == rollouts.c.project_id)
        .where(
            projects.c.name == project,
            prompts.c.name == name,
            rollouts.c.label == label,
            rollouts.c.state == RUNNING,
        )
    ).first()


class RolloutRepository(ProjectRepository):
    """The rollouts of one project."""

    def create(
        self,
        *,
        prompt: str,
        label: str,
        candidate: int,
        steps: Sequence[int],
        policy: Mapping[str, Any],
        salt: str,
        author: str | None,
        alert_rule_id: str | None = None,
    ) -> dict[str, Any]:
        """A running rollout of ``candidate`` against the label's current version (the control)."""
        now = utcnow()
        with self.store.write() as conn:
            pid = prompt_repo.prompt_id(conn, self.project_id, prompt, for_update=True)
            if pid is None:
                raise NotFound(f"unknown prompt '{prompt}' in project '{self.project}'")
            control = prompt_repo.labels(conn, pid).get(label)
            if control is None:
                raise NotFound(
                    f"prompt '{prompt}' has no '{label}' label: a rollout ramps a candidate up from the "
                    "version a label points at"
                )
            if not prompt_repo.version_exists(conn, pid, candidate):
                raise NotFound(f"prompt '{prompt}' has no version {candidate} to roll out")
            if candidate == control:
                raise InvalidInput(f"label '{label}' of prompt '{prompt}' already points at v{candidate}")
            busy = running_on(conn, pid, label)
            if busy is not None:
                raise InvalidInput(
                    f"a rollout is already running on '{prompt}' label '{label}' ({busy.id}: "
                    f"v{busy.control_version} -> v{busy.candidate_version}); stop it first"
                )
            rid = new_id()
            conn.execute(
                insert(rollouts).values(
                    id=rid,
                    project_id=self.project_id,
                    prompt_id=pid,
                    label=label,
                    control_version=control,
                    candidate_version=candidate,
                    steps=list(steps),
                    step_index=0,
                    step_started_at=now,
                    salt=salt,
                    state=RUNNING,
                    policy=dict(policy),
                    decisions=[{"at": now.isoformat(), "action": "start", "step": 0, "pct": steps[0]}],
                    alert_rule_id=alert_rule_id,
                    created_by=author,
                    created_at=now,
                    updated_at=now,
                )
            )
        return self.get(rid)

    def get(self, key: str) -> dict[str, Any]:
        """A rollout by id, or the running (else latest) one of a prompt given by name."""
        base = (
            select(*_COLUMNS)
            .join(prompts, prompts.c.id == rollouts.c.prompt_id)
            .where(rollouts.c.project_id == self.project_id)
        )
        with self.store.read() as conn:
            row = conn.execute(base.where(rollouts.c.id == key)).first()
            if row is None:
                row = conn.execute(
                    base.where(prompts.c.name == key).order_by(
                        (rollouts.c.state == RUNNING).desc(), rollouts.c.created_at.desc()
                    )
                ).first()
        if row is None:
            raise NotFound(
                f"no rollout {key!r} in project {self.project!r} (give a rollout id or prompt name)"
            )
        return _public(row)

    def list(self, *, prompt: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        stmt = (
            select(*_COLUMNS)
            .join(prompts, prompts.c.id == rollouts.c.prompt_id)
            .where(rollouts.c.project_id == self.project_id)
            .order_by(rollouts.c.created_at.desc())
        )
        if prompt is not None:
            stmt = stmt.where(prompts.c.name == prompt)
        if state is not None:
            stmt = stmt.where(rollouts.c.state == state)
        with self.store.read() as conn:
            return [_public(r) for r in conn.execute(stmt)]


def _public(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    out.pop("project_id", None)
    return out


def running_rollouts(store: Store) -> list[dict[str, Any]]:
    """Every running rollout of every project, with its project's and prompt's names."""
    stmt = (
        select(*_COLUMNS, projects.c.name.label("project"), rollouts.c.project_id)
        .join(prompts, prompts.c.id == rollouts.c.prompt_id)
        .join(projects, projects.c.id == rollouts.c.project_id)
        .where(rollouts.c.state == RUNNING)
        .order_by(rollouts.c.created_at)
    )
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def save_check(
    store: Store,
    rollout_id: str,
    values: Mapping[str, Any],
    *,
    decision: Mapping[str, Any] | None = None,
    label_event: tuple[int, int] | None = None,
    author: str = "rollout",
    message: str | None = None,
) -> bool:
    """Store a check's result and (same transaction) log a decision and a label event.

    ``label_event=(from, to)`` points the label at ``to`` and logs the move from ``from``: a rollback
    reads "v4 -> v3" in the label's history even though the label's own version stayed v3 while the
    candidate served its share. Only a running rollout is updated: False when it ended meanwhile.
    """
    now = utcnow()
    with store.write() as conn:
        row = conn.execute(select(rollouts).where(rollouts.c.id == rollout_id)).first()
        if row is None or row.state != RUNNING:
            return False
        new = dict(values)
        if decision is not None:
            new["decisions"] = [*list(row.decisions or []), {"at": now.isoformat(), **decision}]
        if label_event is not None:
            pid = str(row.prompt_id)
            prompt_repo.prompt_id(conn, str(row.project_id), _prompt_name(conn, pid), for_update=True)
            before, after = label_event
            conn.execute(
                update(prompt_labels)
                .where(prompt_labels.c.prompt_id == pid, prompt_labels.c.label == row.label)
                .values(version=after, updated_at=now, updated_by=author)
            )
            conn.execute(
                insert(prompt_label_events).values(
                    id=new_id(),
                    prompt_id=pid,
                    label=row.label,
                    from_version=before,
                    to_version=after,
                    author=author,
                    message=message,
                    created_at=now,
                )
            )
        conn.execute(update(rollouts).where(rollouts.c.id == rollout_id).values(**new, updated_at=now))
    return True


def save_last_check(store: Store, rollout_id: str, check: Mapping[str, Any]) -> None:
    """Keep the check that ended a rollout (shown on its page)."""
    with store.write() as conn:
        conn.execute(update(rollouts).where(rollouts.c.id == rollout_id).values(last_check=dict(check)))


def _prompt_name(conn: Connection, pid: str) -> str:
    return str(conn.execute(select(prompts.c.name).where(prompts.c.id == pid)).scalar())


def observations(
    conn: Connection, project_id: str, rollout_id: str, *, judge_score: str | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Spans stamped with the rollout (trace, arm, step, unit, status, duration, cost) and the feedback
    and judge scores on their traces: the raw material of the per-user test (aggregated by the caller)."""
    where = [
        spans.c.project_id == project_id,
        _attribute_equals(conn.dialect.name, ROLLOUT_ATTR, rollout_id, 0),
    ]
    span_rows = [
        dict(r._mapping)
        for r in conn.execute(
            select(
                spans.c.trace_id,
                spans.c.attributes,
                spans.c.user_id,
                spans.c.session_id,
                spans.c.status_code,
                spans.c.duration_ms,
                spans.c.cost,
                spans.c.start_time,
            ).where(*where)
        )
    ]
    traces = sorted({r["trace_id"] for r in span_rows})
    score_rows: list[dict[str, Any]] = []
    names_clause = scores.c.source.in_(FEEDBACK_SOURCES) & (scores.c.data_type == "boolean")
    if judge_score:
        names_clause = names_clause | (scores.c.name == judge_score)
    for i in range(0, len(traces), 500):
        chunk = traces[i : i + 500]
        score_rows += [
            dict(r._mapping)
            for r in conn.execute(
                select(scores.c.trace_id, scores.c.name, scores.c.source, scores.c.data_type, scores.c.value)
                .where(
                    scores.c.project_id == project_id,
                    scores.c.trace_id.in_(chunk),
                    scores.c.value.is_not(None),
                    scores.c.error.is_(None),
                    names_clause,
                )
                .order_by(scores.c.created_at)
            )
        ]
    return span_rows, score_rows


def stop(store: Store, rollout_id: str, state: str, reason: str, now: datetime | None = None) -> bool:
    """End a running rollout without moving its label (False when it was not running)."""
    now = now or utcnow()
    return save_check(
        store,
        rollout_id,
        {"state": state, "reason": reason, "ended_at": now},
        decision={"action": state, "reason": reason},
    )
