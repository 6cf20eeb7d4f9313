"""Backfill: run an evaluator over spans that started in a past time range, with a cost preview first.

``preview_backfill`` counts the targets the evaluator would judge there (its filter and sample rate,
leaving out targets this evaluator version already scored) and the judge calls they need, priced from
the price table. ``request_backfill(confirm=True)`` hands the range to the server's worker, which runs it
in chunks between live ticks; ``run_backfill`` runs it to the end in this process (the CLI).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from loopstack.errors import InvalidInput
from loopstack.monitor._evaluate import EvaluatorRunner
from loopstack.store import Store, utcnow
from loopstack.store.monitoring import EvaluatorRepository


def _row(store: Store, project: str, key: str) -> dict[str, Any]:
    row = EvaluatorRepository(store, project).get(key)
    row["project_id"] = store.project_id(project)
    row["project"] = project
    return row


def preview_backfill(
    store: Store, project: str, key: str, start: datetime, end: datetime, *, sample_rate: float | None = None
) -> dict[str, Any]:
    """Targets, judge calls and estimated cost of a backfill of ``[start, end)``."""
    if end <= start:
        raise InvalidInput("backfill: end must be after start")
    runner = EvaluatorRunner(store)
    try:
        return runner.preview(_row(store, project, key), start, end, sample_rate)
    finally:
        runner.close()


def request_backfill(
    store: Store,
    project: str,
    key: str,
    start: datetime,
    end: datetime,
    *,
    sample_rate: float | None = None,
    confirm: bool = False,
) -> dict[str, Any]:
    """The preview; with ``confirm`` the backfill is also scheduled for the worker (``status: running``)."""
    preview = preview_backfill(store, project, key, start, end, sample_rate=sample_rate)
    if not confirm:
        return {"preview": preview, "scheduled": False}
    row = _row(store, project, key)
    current = row.get("backfill") or {}
    if current.get("status") == "running":
        raise InvalidInput(f"evaluator {row['name']!r} already has a backfill running; wait for it to finish")
    state = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "sample_rate": preview["sample_rate"],
        "status": "running",
        "estimated_calls": preview["estimated_calls"],
        "estimated_cost_usd": preview["estimated_cost_usd"],
        "requested_at": utcnow().isoformat(),
        "cursor": None,
        "evaluated": 0,
        "calls": 0,
    }
    EvaluatorRepository(store, project).set_backfill(row["id"], state)
    return {"preview": preview, "scheduled": True, "backfill": state}


def run_backfill(
    store: Store,
    project: str,
    key: str,
    start: datetime,
    end: datetime,
    *,
    sample_rate: float | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    runner: EvaluatorRunner | None = None,
) -> dict[str, Any]:
    """Schedule and run a backfill to the end here; its final state (targets evaluated, calls made)."""
    request_backfill(store, project, key, start, end, sample_rate=sample_rate, confirm=True)
    own = runner is None
    runner = runner or EvaluatorRunner(store)
    try:
        while True:
            state = runner.backfill_chunk(_row(store, project, key), budget_s=1.0)
            if progress is not None:
                progress(state)
            if state["status"] == "done":
                return state
    finally:
        if own:
            runner.close()
