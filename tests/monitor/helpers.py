"""Spans and feedback for monitoring tests, written through the same repositories ingest and the API use."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from loopstack import semconv as sc
from loopstack.store import Store
from loopstack.store.scores import ScoreInput, ScoreRepository
from loopstack.store.spans import SpanRecord, write_spans


def _ns(t: datetime) -> int:
    return int(t.timestamp() * 1e9)


def add_calls(
    store: Store,
    project: str,
    n: int,
    *,
    start: datetime | None = None,
    spacing_s: float = 0.01,
    errors: int = 0,
    model: str = "openai/gpt-4o-mini",
    prompt: tuple[str, int] | None = ("triage", 1),
    output: str = "bug",
    latency_ms: float = 100.0,
    cost: float = 0.001,
    user: str = "u-1",
    tags: list[str] | None = None,
    attributes: dict[str, Any] | None = None,
) -> list[tuple[str, str]]:
    """``n`` one-span traces (model calls), the first ``errors`` of them failed; their (trace, span) ids."""
    start = start or datetime.now(UTC) - timedelta(minutes=1)
    records, ids = [], []
    for i in range(n):
        trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
        attrs: dict[str, Any] = {
            sc.GEN_AI_REQUEST_MODEL: model,
            sc.GEN_AI_PROVIDER: model.split("/")[0],
            sc.COST: cost,
            sc.INPUT: '[{"role": "user", "content": "Classify: the app crashes"}]',
            sc.OUTPUT: output,
            sc.USER_ID: user,
            **(attributes or {}),
        }
        if prompt:
            attrs[sc.PROMPT_NAME], attrs[sc.PROMPT_VERSION] = prompt
        if tags:
            attrs[sc.TAGS] = tags
        t0 = _ns(start + timedelta(seconds=i * spacing_s))
        records.append(
            SpanRecord(
                trace_id,
                span_id,
                "chat " + model,
                t0,
                t0 + int(latency_ms * 1e6),
                kind="CLIENT",
                attributes=attrs,
                status_code="ERROR" if i < errors else "OK",
                status_message="boom" if i < errors else None,
            )
        )
        ids.append((trace_id, span_id))
    write_spans(store, store.project_id(project), records)
    return ids


def thumbs_down(store: Store, project: str, trace_id: str, span_id: str | None = None) -> None:
    ScoreRepository(store, project).add_score(
        ScoreInput(trace_id=trace_id, span_id=span_id, name="thumbs", value="down", source="user-feedback")
    )


def feedback(store: Store, project: str, trace_id: str, value: bool, name: str = "thumbs") -> None:
    ScoreRepository(store, project).add_score(
        ScoreInput(trace_id=trace_id, name=name, value=value, source="user-feedback")
    )
