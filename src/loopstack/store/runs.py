"""Runs repository: eval runs, their per-item results (run_items) and the scores judged on each item.

Per-item rows are the source of truth (every aggregate is recomputed from them), so one call writes an
item together with its scores in one transaction: a finished item is either fully stored or not at all,
which is what lets a killed run resume without calling the model again for the items it finished.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update

from loopstack.errors import InvalidInput, NotFound
from loopstack.store._repository import ProjectRepository
from loopstack.store._types import new_id, utcnow
from loopstack.store.tables import run_items, runs, scores

#: Run lifecycle. ``interrupted`` and ``failed`` runs can be resumed.
RUN_STATUSES = ("running", "completed", "interrupted", "failed")


@dataclass(frozen=True)
class RunRecord:
    """One run: a prompt version x model over one dataset version, with its config."""

    id: str
    project_id: str
    name: str | None
    suite: str | None
    group_id: str | None
    status: str
    prompt_name: str | None
    prompt_version: int | None
    model: str | None
    dataset_id: str | None
    dataset_version: int | None
    config: dict[str, Any]
    git_sha: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def label(self) -> str:
        """A short human name: ``prompt@version · model``."""
        prompt = f"{self.prompt_name}@{self.prompt_version}" if self.prompt_name else "inline"
        return f"{prompt} · {self.model}"


@dataclass(frozen=True)
class ScoreRow:
    """A judgement on one run item, as stored in the ``scores`` table."""

    name: str
    data_type: str = "numeric"  # numeric | boolean | categorical | text
    value: float | None = None
    string_value: str | None = None
    source: str = "code"
    comment: str | None = None
    scorer_version: str | None = None
    params: dict[str, Any] | None = None
    error: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class ItemResult:
    """A finished (or errored) item of a run, ready to be stored with its scores."""

    item_key: str
    epoch: int
    input: dict[str, Any]
    expected: Any = None
    output: str | None = None
    error: str | None = None
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    cached: bool = False
    dataset_item_id: str | None = None
    cluster: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    scores: Sequence[ScoreRow] = ()


@dataclass(frozen=True)
class RunItemRecord:
    """A stored run item with its scores."""

    id: str
    run_id: str
    item_key: str
    epoch: int
    input: dict[str, Any]
    expected: Any
    output: str | None
    error: str | None
    latency_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    cost: float | None
    cached: bool
    dataset_item_id: str | None
    trace_id: str | None
    span_id: str | None
    scores: list[ScoreRow] = field(default_factory=list)
    cluster: str | None = None

    def score(self, name: str) -> ScoreRow | None:
        """The score called ``name`` on this item, if any."""
        return next((s for s in self.scores if s.name == name), None)


def _run_record(row: Row[Any]) -> RunRecord:
    m = row._mapping
    return RunRecord(
        id=m["id"],
        project_id=m["project_id"],
        name=m["name"],
        suite=m["suite"],
        group_id=m["group_id"],
        status=m["status"],
        prompt_name=m["prompt_name"],
        prompt_version=m["prompt_version"],
        model=m["model"],
        dataset_id=m["dataset_id"],
        dataset_version=m["dataset_version"],
        config=dict(m["config"] or {}),
        git_sha=m["git_sha"],
        created_at=m["created_at"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
    )


#: run_items columns holding the item's content (left out of summary reads)
_CONTENT = ("input", "expected", "output")
#: scores columns a summary needs
_SCORE_SUMMARY = ("run_item_id", "name", "data_type", "value", "string_value", "source", "error")


def _score_row(row: Row[Any]) -> ScoreRow:
    m = row._mapping
    return ScoreRow(
        name=m["name"],
        data_type=m["data_type"],
        value=m["value"],
        string_value=m["string_value"],
        source=m["source"],
        comment=m.get("comment"),
        scorer_version=m.get("scorer_version"),
        params=m.get("params"),
        error=m["error"],
        metadata=m.get("metadata"),
    )


class RunRepository(ProjectRepository):
    """Create runs, store finished items with their scores, and read them back, within one project."""

    # -- runs ---------------------------------------------------------------------------------------

    def create_run(
        self,
        *,
        config: dict[str, Any],
        name: str | None = None,
        suite: str | None = None,
        group_id: str | None = None,
        prompt_name: str | None = None,
        prompt_version: int | None = None,
        model: str | None = None,
        dataset_id: str | None = None,
        dataset_version: int | None = None,
        git_sha: str | None = None,
    ) -> RunRecord:
        """Insert a new run in status ``running``."""
        now = utcnow()
        values: dict[str, Any] = {
            "id": new_id(),
            "project_id": self.project_id,
            "name": name,
            "suite": suite,
            "group_id": group_id,
            "status": "running",
            "prompt_name": prompt_name,
            "prompt_version": prompt_version,
            "model": model,
            "dataset_id": dataset_id,
            "dataset_version": dataset_version,
            "config": config,
            "git_sha": git_sha,
            "created_at": now,
            "started_at": now,
            "finished_at": None,
        }
        with self.store.write() as conn:
            conn.execute(insert(runs).values(**values))
        return RunRecord(**values)

    def get(self, run_id: str) -> RunRecord:
        """The run with this id, or a unique id prefix (at least 6 characters); NotFound otherwise."""
        with self.store.read() as conn:
            row = conn.execute(
                select(runs).where(runs.c.project_id == self.project_id, runs.c.id == run_id)
            ).first()
            if row is None and len(run_id) >= 6:
                found = conn.execute(
                    select(runs)
                    .where(runs.c.project_id == self.project_id, runs.c.id.like(f"{run_id}%"))
                    .limit(2)
                ).all()
                if len(found) > 1:
                    raise InvalidInput(f"run id prefix {run_id!r} is ambiguous; give more characters")
                row = found[0] if found else None
        if row is None:
            raise NotFound(f"run {run_id!r} not found in project {self.project!r}")
        return _run_record(row)

    def set_status(self, run_id: str, status: str) -> None:
        """Move a run to ``status``; a terminal status stamps ``finished_at``, ``running`` clears it."""
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        values: dict[str, Any] = {"status": status}
        values["finished_at"] = None if status == "running" else utcnow()
        with self.store.write() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(**values))

    def list_runs(self, *, limit: int = 50, group_id: str | None = None) -> list[RunRecord]:
        """Runs of the project, newest first (optionally only one suite invocation's group)."""
        query = select(runs).where(runs.c.project_id == self.project_id)
        if group_id is not None:
            query = query.where(runs.c.group_id == group_id)
        query = query.order_by(runs.c.created_at.desc(), runs.c.id).limit(limit)
        with self.store.read() as conn:
            return [_run_record(r) for r in conn.execute(query)]

    def group(self, group_id: str) -> list[RunRecord]:
        """Every run of one suite invocation, in creation order."""
        with self.store.read() as conn:
            rows = conn.execute(
                select(runs)
                .where(runs.c.project_id == self.project_id, runs.c.group_id == group_id)
                .order_by(runs.c.created_at, runs.c.id)
            ).all()
        return [_run_record(r) for r in rows]

    # -- items --------------------------------------------------------------------------------------

    def save_item(self, run_id: str, item: ItemResult) -> str:
        """Store one finished item and its scores atomically; returns the run item id."""
        return self.save_items(run_id, [item])[0]

    def save_items(self, run_id: str, items: Sequence[ItemResult]) -> list[str]:
        """Store several finished items of one run with their scores in one transaction."""
        return self.save_batch([(run_id, item) for item in items])

    def save_batch(self, batch: Sequence[tuple[str, ItemResult]], *, replace: bool = True) -> list[str]:
        """Store finished items of one or more runs, with their scores, in one transaction.

        An item already stored for the same (run, item_key, epoch) — an errored attempt being retried —
        is replaced, so a resumed run never holds two results for one item. ``replace=False`` skips
        that lookup when the caller knows the items are new (a fresh run).
        """
        if not batch:
            return []
        now = utcnow()
        item_rows: list[dict[str, Any]] = []
        score_rows: list[dict[str, Any]] = []
        keys: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for run_id, item in batch:
            item_id = new_id()
            keys[run_id].append((item.item_key, item.epoch))
            item_rows.append(
                {
                    "id": item_id,
                    "run_id": run_id,
                    "dataset_item_id": item.dataset_item_id,
                    "cluster": item.cluster,
                    "item_key": item.item_key,
                    "epoch": item.epoch,
                    "input": item.input,
                    "expected": item.expected,
                    "output": item.output,
                    "error": item.error,
                    "latency_ms": item.latency_ms,
                    "input_tokens": item.input_tokens,
                    "output_tokens": item.output_tokens,
                    "cost": item.cost,
                    "cached": item.cached,
                    "trace_id": item.trace_id,
                    "span_id": item.span_id,
                    "created_at": now,
                }
            )
            for s in item.scores:
                score_rows.append(self._score_values(run_id, item_id, s, now))
        with self.store.write() as conn:
            for run_id, run_keys in keys.items() if replace else ():
                self._delete_items(conn, run_id, run_keys)
            conn.execute(insert(run_items), item_rows)
            if score_rows:
                conn.execute(insert(scores), score_rows)
        return [r["id"] for r in item_rows]

    def _score_values(self, run_id: str, item_id: str, s: ScoreRow, now: datetime) -> dict[str, Any]:
        return {
            "id": new_id(),
            "project_id": self.project_id,
            "target_type": "run_item",
            "trace_id": None,
            "span_id": None,
            "run_id": run_id,
            "run_item_id": item_id,
            "name": s.name,
            "data_type": s.data_type,
            "value": s.value,
            "string_value": s.string_value,
            "source": s.source,
            "author": None,
            "comment": s.comment,
            "scorer_version": s.scorer_version,
            "params": s.params,
            "error": s.error,
            "metadata": s.metadata,
            "created_at": now,
        }

    @staticmethod
    def _delete_items(conn: Any, run_id: str, keys: Iterable[tuple[str, int]]) -> None:
        wanted = set(keys)
        if not wanted:
            return
        existing = conn.execute(
            select(run_items.c.id, run_items.c.item_key, run_items.c.epoch).where(
                run_items.c.run_id == run_id, run_items.c.item_key.in_({k for k, _ in wanted})
            )
        ).all()
        ids = [r.id for r in existing if (r.item_key, r.epoch) in wanted]
        if ids:
            conn.execute(delete(scores).where(scores.c.run_item_id.in_(ids)))
            conn.execute(delete(run_items).where(run_items.c.id.in_(ids)))

    def finished_keys(self, run_id: str, *, include_errors: bool = False) -> set[tuple[str, int]]:
        """The (item_key, epoch) pairs already stored; errored ones only when ``include_errors``."""
        query = select(run_items.c.item_key, run_items.c.epoch).where(run_items.c.run_id == run_id)
        if not include_errors:
            query = query.where(run_items.c.error.is_(None))
        with self.store.read() as conn:
            return {(r.item_key, r.epoch) for r in conn.execute(query)}

    def count_items(self, run_id: str) -> int:
        """How many items of the run are stored."""
        with self.store.read() as conn:
            n = conn.execute(
                select(func.count()).select_from(run_items).where(run_items.c.run_id == run_id)
            ).scalar_one()
        return int(n)

    def items(self, run_id: str, *, content: bool = True) -> list[RunItemRecord]:
        """Every stored item of the run with its scores, ordered by item key then epoch.

        ``content=False`` leaves out the input, expected value, output and score parameters — what a
        summary does not need — so summarising a large run reads and decodes much less.
        """
        item_cols = list(run_items.c) if content else [c for c in run_items.c if c.name not in _CONTENT]
        score_cols = list(scores.c) if content else [scores.c[n] for n in _SCORE_SUMMARY]
        with self.store.read() as conn:
            rows = conn.execute(
                select(*item_cols)
                .where(run_items.c.run_id == run_id)
                .order_by(run_items.c.item_key, run_items.c.epoch)
            ).all()
            score_rows = conn.execute(
                select(*score_cols)
                .where(scores.c.run_id == run_id, scores.c.target_type == "run_item")
                .order_by(scores.c.name)
            ).all()
        by_item: dict[str, list[ScoreRow]] = defaultdict(list)
        for sr in score_rows:
            by_item[sr._mapping["run_item_id"]].append(_score_row(sr))
        out: list[RunItemRecord] = []
        for r in rows:
            m = r._mapping
            out.append(
                RunItemRecord(
                    id=m["id"],
                    run_id=m["run_id"],
                    item_key=m["item_key"],
                    epoch=m["epoch"],
                    input=dict(m["input"] or {}) if content else {},
                    expected=m["expected"] if content else None,
                    output=m["output"] if content else None,
                    error=m["error"],
                    latency_ms=m["latency_ms"],
                    input_tokens=m["input_tokens"],
                    output_tokens=m["output_tokens"],
                    cost=m["cost"],
                    cached=bool(m["cached"]),
                    dataset_item_id=m["dataset_item_id"],
                    trace_id=m["trace_id"],
                    span_id=m["span_id"],
                    scores=by_item.get(m["id"], []),
                    cluster=m["cluster"],
                )
            )
        return out
