"""Migration 0005: spans stored before it are classified (eval runs apart from production) on upgrade."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, select, text

from loopstack.store import Store
from loopstack.store.migrate import head_revision, upgrade
from loopstack.store.tables import spans


def _insert(
    conn: Connection,
    pid: str,
    trace: str,
    span: str,
    name: str,
    attrs: dict[str, Any],
    resource: dict[str, Any],
) -> None:
    conn.execute(
        text(
            "INSERT INTO spans (id, project_id, trace_id, span_id, name, start_time, status_code, "
            "attributes, resource, ingested_at) VALUES (:id, :p, :t, :s, :n, :st, 'OK', :a, :r, :st)"
        ),
        {
            "id": uuid.uuid4().hex,
            "p": pid,
            "t": trace,
            "s": span,
            "n": name,
            "st": datetime.now(UTC),
            "a": orjson.dumps(attrs).decode(),
            "r": orjson.dumps(resource).decode(),
        },
    )


def test_upgrade_classifies_existing_spans(empty_url: str) -> None:
    store = Store(empty_url, migrate=False)
    upgrade(store, "0004")
    pid = store.project_id("default")
    eval_trace, prod_trace, staging_trace = (uuid.uuid4().hex for _ in range(3))
    with store.write() as conn:
        attrs = {"loopstack.span.type": "eval", "loopstack.run_id": "r1"}
        _insert(conn, pid, eval_trace, "a" * 16, "eval.item", attrs, {})
        _insert(conn, pid, eval_trace, "b" * 16, "chat mock/x", {"gen_ai.request.model": "mock/x"}, {})
        _insert(conn, pid, prod_trace, "c" * 16, "answer", {}, {"service.name": "app"})
        _insert(conn, pid, staging_trace, "d" * 16, "answer", {}, {"deployment.environment": "staging"})
    upgrade(store)
    with store.read() as conn:
        got = dict(conn.execute(select(spans.c.span_id, spans.c.environment)).all())
    assert got == {"a" * 16: "eval", "b" * 16: "eval", "c" * 16: "production", "d" * 16: "staging"}
    with store.read() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
    store.close()
