"""``loopstack.feedback``: user judgements on a trace, stored locally when no server is configured."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import loopstack
from loopstack.store import get_store
from loopstack.store.tables import scores


@pytest.mark.usefixtures("traced")
def test_feedback_on_the_current_trace_is_stored_locally() -> None:
    with loopstack.span("answer") as s:
        trace_id = loopstack.current_trace_id()
    assert trace_id == s.trace_id
    loopstack.feedback(trace_id, "thumbs", "down", comment="wrong answer", author="alice")
    loopstack.feedback(trace_id, "correction", "Refunds take 5 days.", data_type="text", span_id=s.span_id)
    before = loopstack.tracing.dropped_feedback()
    loopstack.feedback("not-an-id", "thumbs", "up")  # logged and counted, never raised
    assert loopstack.flush(10)
    assert loopstack.tracing.dropped_feedback() == before + 1
    with get_store().read() as conn:
        rows = {r.name: r for r in conn.execute(select(scores))}
    assert (rows["thumbs"].value, rows["thumbs"].data_type, rows["thumbs"].source) == (
        0.0,
        "boolean",
        "user-feedback",
    )
    assert (rows["thumbs"].comment, rows["thumbs"].author, rows["thumbs"].target_type) == (
        "wrong answer",
        "alice",
        "trace",
    )
    assert (rows["correction"].string_value, rows["correction"].span_id) == (
        "Refunds take 5 days.",
        s.span_id,
    )
