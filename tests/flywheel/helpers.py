"""Test data for the flywheel: model-call spans written as ingest writes them, and feedback on them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from loopstack import semconv as sc
from loopstack.store import Store
from loopstack.store.scores import ScoreInput, ScoreRepository
from loopstack.store.spans import SpanRecord, write_spans


def add_call(
    store: Store,
    *,
    variables: dict[str, Any] | None,
    output: str,
    prompt: tuple[str, int] | None = ("triage", 1),
    model: str = "openai/gpt-4o-mini",
    start: datetime | None = None,
    session: str | None = None,
    user: str | None = None,
    environment: str | None = None,
    messages: list[dict[str, str]] | None = None,
    project: str = "default",
    error: bool = False,
) -> tuple[str, str]:
    """A trace with a root span and one model call under it; ``(trace_id, model call span_id)``."""
    start = start or datetime.now(UTC) - timedelta(minutes=5)
    trace_id, root_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16], uuid.uuid4().hex[:16]
    msgs = messages or [{"role": "user", "content": json.dumps(variables)}]
    attrs: dict[str, Any] = {
        sc.GEN_AI_REQUEST_MODEL: model,
        sc.GEN_AI_PROVIDER: model.split("/")[0],
        sc.INPUT: json.dumps(msgs),
        sc.OUTPUT: output,
    }
    if variables is not None:
        attrs[sc.PROMPT_VARIABLES] = json.dumps(variables)
    if prompt:
        attrs[sc.PROMPT_NAME], attrs[sc.PROMPT_VERSION] = prompt
    if session:
        attrs[sc.SESSION_ID] = session
    if user:
        attrs[sc.USER_ID] = user
    resource = {"deployment.environment": environment} if environment else {}
    t0 = int(start.timestamp() * 1e9)
    root = SpanRecord(trace_id, root_id, "handle", t0, t0 + 3_000_000, resource=resource)
    call = SpanRecord(
        trace_id,
        span_id,
        "chat " + model,
        t0 + 1_000_000,
        t0 + 2_000_000,
        parent_span_id=root_id,
        kind="CLIENT",
        attributes=attrs,
        resource=resource,
        status_code="ERROR" if error else "OK",
    )
    write_spans(store, store.project_id(project), [root, call])
    return trace_id, span_id


def feedback(
    store: Store,
    trace_id: str,
    name: str,
    value: Any,
    *,
    span_id: str | None = None,
    data_type: str | None = None,
    source: str = "user-feedback",
) -> None:
    ScoreRepository(store).add_score(
        ScoreInput(
            trace_id=trace_id, span_id=span_id, name=name, value=value, data_type=data_type, source=source
        )
    )
