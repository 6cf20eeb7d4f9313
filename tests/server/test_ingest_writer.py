"""The ingest writer under stress, on SQLite and PostgreSQL: a refused row inside a group commit, a
failing database reported by /health, the span budget, and /health answering while a body decodes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from server_helpers import PROTOBUF, otlp_protobuf
from sqlalchemy import event, select

from loopstack.server import _ingest
from loopstack.store import Store
from loopstack.store.tables import spans


def _names(store: Store) -> list[str]:
    with store.read() as conn:
        return sorted(r.name for r in conn.execute(select(spans.c.name)))


def _ddl(store: Store, *statements: str) -> None:
    with store.write() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


@contextmanager
def _trigger(store: Store, condition: str, message: str, errcode: str) -> Iterator[None]:
    """A BEFORE INSERT trigger on spans that makes the database refuse rows matching ``condition``."""
    if store.dialect == "sqlite":
        _ddl(
            store,
            f"CREATE TRIGGER refuse BEFORE INSERT ON spans WHEN {condition} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END",
        )
    else:
        _ddl(
            store,
            "CREATE OR REPLACE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
            f"IF {condition} THEN RAISE EXCEPTION '{message}' USING ERRCODE = '{errcode}'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse BEFORE INSERT ON spans FOR EACH ROW EXECUTE FUNCTION refuse()",
        )
    try:
        yield
    finally:
        _ddl(store, "DROP TRIGGER refuse" if store.dialect == "sqlite" else "DROP TRIGGER refuse ON spans")


async def _until(predicate: Any, what: str) -> None:
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_row_refused_inside_a_group_commit_loses_no_other_row(
    app: FastAPI, client: httpx.AsyncClient, store: Store
) -> None:
    writer = app.state.writer
    store.project_id("default")  # exists before the database is locked (requests resolve it first)
    bodies = [
        otlp_protobuf([{"name": "r0-a"}, {"name": "r0-b"}]),
        otlp_protobuf([{"name": "r1-a"}, {"name": "r1-b"}]),
        otlp_protobuf([{"name": "r2-a"}, {"name": "poison"}, {"name": "r2-b"}]),
        otlp_protobuf([{"name": "r3-a"}]),
    ]
    with _trigger(store, "NEW.name = 'poison'", "poison row refused", "check_violation"):
        with store.write() as conn:  # hold the writer back so that r1..r3 queue up into one group
            if store.dialect == "postgresql":
                conn.exec_driver_sql("LOCK TABLE spans IN EXCLUSIVE MODE")
            first = asyncio.create_task(client.post("/v1/traces", content=bodies[0], headers=PROTOBUF))
            await _until(lambda: writer.pending == 2, "the first request to reach the writer")
            rest = [
                asyncio.create_task(client.post("/v1/traces", content=b, headers=PROTOBUF))
                for b in bodies[1:]
            ]
            await _until(lambda: writer.pending == 8, "all four requests to be queued")
        responses = [await first] + [await task for task in rest]
    assert [r.status_code for r in responses] == [200, 200, 200, 200]
    partial = [ExportTraceServiceResponse.FromString(r.content).partial_success for r in responses]
    assert [p.rejected_spans for p in partial] == [0, 0, 1, 0]
    assert "poison row refused" in partial[2].error_message
    assert _names(store) == ["r0-a", "r0-b", "r1-a", "r1-b", "r2-a", "r2-b", "r3-a"]
    assert writer.pending == 0


@contextmanager
def _database_full(store: Store) -> Iterator[None]:
    """Writes fail as on a full disk: SQLite may not grow the file, PostgreSQL raises disk_full."""
    if store.dialect == "postgresql":
        message = "could not extend file: No space left on device"
        with _trigger(store, "true", message, "disk_full"):
            yield
        return
    with store.read() as conn:
        pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())

    def cap(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

    store.engine.dispose()
    event.listen(store.engine, "connect", cap)
    try:
        yield
    finally:
        event.remove(store.engine, "connect", cap)
        store.engine.dispose()


async def test_health_reports_a_failing_writer_until_writes_succeed_again(
    client: httpx.AsyncClient, store: Store
) -> None:
    assert (await client.get("/health")).status_code == 200
    body = otlp_protobuf([{"name": f"s{i}", "attributes": {"pad": "x" * 20_000}} for i in range(50)])
    with _database_full(store):
        refused = await client.post("/v1/traces", content=body, headers=PROTOBUF)
        assert refused.status_code == 503  # nothing was stored: the exporter may retry
        assert "retry-after" in refused.headers
        health = await client.get("/health")
        assert health.status_code == 503
        assert health.json()["status"] == "error"
        writer = health.json()["writer"]
        assert writer["state"] == "failing"
        assert "full" in writer["error"] or "No space left" in writer["error"]
        assert writer["since"]
    assert (await client.post("/v1/traces", content=body, headers=PROTOBUF)).status_code == 200
    health = await client.get("/health")
    assert (health.status_code, health.json()["writer"]["state"]) == (200, "ok")
    assert len(_names(store)) == 50


async def test_a_request_larger_than_the_whole_budget_is_413_not_accepted(
    app: FastAPI, client: httpx.AsyncClient, store: Store
) -> None:
    app.state.writer.max_pending_rows = 10
    too_many = await client.post(
        "/v1/traces", content=otlp_protobuf([{"name": f"s{i}"} for i in range(11)]), headers=PROTOBUF
    )
    assert too_many.status_code == 413  # it could never fit: the exporter must not retry it
    assert "at most 10 are accepted per request" in too_many.json()["detail"]
    json_body = orjson.dumps(
        {
            "resourceSpans": [
                {
                    "scopeSpans": [
                        {
                            "spans": [
                                {"traceId": "1" * 32, "spanId": f"{i + 1:016x}", "startTimeUnixNano": "1"}
                                for i in range(11)
                            ]
                        }
                    ]
                }
            ]
        }
    )
    assert (await client.post("/v1/traces", content=json_body, headers=JSON_HEADERS)).status_code == 413
    fits = otlp_protobuf([{"name": f"s{i}"} for i in range(10)])
    assert (await client.post("/v1/traces", content=fits, headers=PROTOBUF)).status_code == 200
    assert len(_names(store)) == 10
    assert app.state.writer.pending == 0  # refused requests hold no reservation


JSON_HEADERS = {"content-type": "application/json"}


async def test_health_answers_while_a_body_is_being_decoded(
    client: httpx.AsyncClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    released: list[bool] = []
    decode = _ingest.decode_protobuf

    def paused_decode(body: bytes, admit: Any = None) -> Any:
        entered.set()
        # On the event loop this wait would freeze the server (and time out); off it, /health answers.
        released.append(release.wait(5))
        return decode(body, admit) if admit is not None else decode(body)

    monkeypatch.setattr(_ingest, "decode_protobuf", paused_decode)
    body = otlp_protobuf([{"name": f"s{i}"} for i in range(200)])
    ingest = asyncio.create_task(client.post("/v1/traces", content=body, headers=PROTOBUF))
    await _until(entered.is_set, "the decode to start")
    health = await client.get("/health")
    assert health.status_code == 200
    assert not ingest.done()
    release.set()
    assert (await ingest).status_code == 200
    assert released == [True]  # the decode was still paused when /health answered
    assert len(_names(store)) == 200
