"""REST API in-process: trace and span listings with filters, scores, and project isolation by key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from server_helpers import PROTOBUF, otlp_protobuf

from loopstack.store import Store
from loopstack.store.keys import create_key
from loopstack.store.spans import SpanRecord, write_spans
from loopstack.tracing._local import span_cost

BASE = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def _seed(store: Store, project: str = "default") -> None:
    """Three traces: a slow gpt-4o one with prompt triage@2, a fast mini one, an error in session s2."""
    pid = store.project_id(project)

    def ns(minutes: float) -> int:
        return int((BASE + timedelta(minutes=minutes)).timestamp() * 1e9)

    records = [
        SpanRecord("a" * 32, "a" * 16, "handle", ns(0), ns(0) + 3_000_000_000,
                   attributes={"loopstack.input": "where is my refund?", "loopstack.session_id": "s1",
                               "loopstack.user_id": "alice"}),
        SpanRecord("a" * 32, "b" * 16, "chat gpt-4o", ns(0), ns(0) + 2_500_000_000, parent_span_id="a" * 16,
                   attributes={"gen_ai.request.model": "gpt-4o", "gen_ai.provider.name": "openai",
                               "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20,
                               "loopstack.prompt.name": "triage", "loopstack.prompt.version": 2}),
        SpanRecord("c" * 32, "c" * 16, "handle", ns(10), ns(10) + 100_000_000,
                   attributes={"gen_ai.request.model": "gpt-4o-mini", "loopstack.output": "Bonjour",
                               "loopstack.session_id": "s1"}),
        SpanRecord("d" * 32, "d" * 16, "handle", ns(20), ns(20) + 50_000_000, status_code="ERROR",
                   status_message="boom", attributes={"loopstack.session_id": "s2"}),
    ]  # fmt: skip
    write_spans(store, pid, records, cost=span_cost)


async def _ids(client: httpx.AsyncClient, path: str, **params: object) -> list[str]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return [item["trace_id"][0] for item in response.json()["items"]]


async def test_trace_listing_filters(client: httpx.AsyncClient, store: Store) -> None:
    _seed(store)
    assert await _ids(client, "/api/traces") == ["d", "c", "a"]
    assert await _ids(client, "/api/traces", model="gpt-4o") == ["a"]
    assert await _ids(client, "/api/traces", prompt_name="triage", prompt_version=2) == ["a"]
    assert await _ids(client, "/api/traces", prompt_name="triage", prompt_version=1) == []
    assert await _ids(client, "/api/traces", session_id="s1") == ["c", "a"]
    assert await _ids(client, "/api/traces", user_id="alice") == ["a"]
    assert await _ids(client, "/api/traces", status="error") == ["d"]
    assert await _ids(client, "/api/traces", min_latency_ms=1000) == ["a"]
    assert await _ids(client, "/api/traces", q="REFUND") == ["a"]
    assert await _ids(client, "/api/traces", q="bonjour") == ["c"]
    start = (BASE + timedelta(minutes=5)).isoformat()
    end = (BASE + timedelta(minutes=15)).isoformat()
    assert await _ids(client, "/api/traces", start=start, end=end) == ["c"]

    page = (await client.get("/api/traces", params={"limit": 2})).json()
    assert [t["trace_id"][0] for t in page["items"]] == ["d", "c"]
    assert page["next_offset"] == 2
    rest = (await client.get("/api/traces", params={"limit": 2, "offset": 2})).json()
    assert [t["trace_id"][0] for t in rest["items"]] == ["a"]
    assert rest["next_offset"] is None

    first = next(t for t in (await client.get("/api/traces")).json()["items"] if t["trace_id"][0] == "a")
    assert (first["span_count"], first["input_tokens"], first["output_tokens"]) == (2, 100, 20)
    assert first["cost"] > 0
    assert (first["name"], first["input"], first["session_id"]) == ("handle", "where is my refund?", "s1")


async def test_span_listing_and_trace_detail(client: httpx.AsyncClient, store: Store) -> None:
    _seed(store)
    response = await client.get("/api/spans", params={"model": "gpt-4o"})
    (span,) = response.json()["items"]
    assert (span["span_id"], span["parent_span_id"], span["prompt_version"]) == ("b" * 16, "a" * 16, 2)
    assert "project_id" not in span

    detail = (await client.get(f"/api/traces/{'a' * 32}")).json()
    assert [s["name"] for s in detail["spans"]] == ["handle", "chat gpt-4o"]
    missing = await client.get(f"/api/traces/{'e' * 32}")
    assert missing.status_code == 404
    assert "not found" in missing.json()["detail"]
    bad = await client.get("/api/traces", params={"start": "2026-01-01T00:00:00"})
    assert bad.status_code == 422
    assert "time zone" in bad.text


async def test_scores_of_every_kind_attach_to_traces_and_spans(
    client: httpx.AsyncClient, store: Store
) -> None:
    _seed(store)
    trace = "a" * 32
    bodies = [
        {"trace_id": trace, "name": "thumbs", "value": "down", "comment": "wrong team"},
        {"trace_id": trace, "span_id": "b" * 16, "name": "accepted", "value": True},
        {"trace_id": trace, "name": "helpfulness", "value": 0.75, "source": "human", "author": "bob"},
        {"trace_id": trace, "name": "category", "value": "billing"},
        {"trace_id": trace, "name": "correction", "value": "Refunds take 5 days.", "data_type": "text"},
    ]
    for body in bodies:
        response = await client.post("/api/scores", json=body)
        assert response.status_code == 201, response.text
    got = {
        s["name"]: s for s in (await client.get("/api/scores", params={"trace_id": trace})).json()["items"]
    }
    assert (got["thumbs"]["data_type"], got["thumbs"]["value"], got["thumbs"]["comment"]) == (
        "boolean",
        0.0,
        "wrong team",
    )
    assert (got["accepted"]["target_type"], got["accepted"]["span_id"], got["accepted"]["value"]) == (
        "span",
        "b" * 16,
        1.0,
    )
    assert (got["helpfulness"]["data_type"], got["helpfulness"]["value"]) == ("numeric", 0.75)
    assert (got["category"]["data_type"], got["category"]["string_value"]) == ("categorical", "billing")
    assert (got["correction"]["data_type"], got["correction"]["string_value"]) == (
        "text",
        "Refunds take 5 days.",
    )
    by_name = (await client.get("/api/scores", params={"name": "thumbs"})).json()["items"]
    assert [s["name"] for s in by_name] == ["thumbs"]
    detail = (await client.get(f"/api/traces/{trace}")).json()
    assert len(detail["scores"]) == 5

    for bad, message in [
        ({"trace_id": "xyz", "name": "t", "value": 1}, "trace_id must be 32 hex"),
        ({"trace_id": trace, "name": "t", "value": "maybe", "data_type": "boolean"}, "is not a boolean"),
        ({"trace_id": trace, "name": "t", "value": 3, "data_type": "boolean"}, "0 or 1"),
    ]:
        response = await client.post("/api/scores", json=bad)
        assert response.status_code == 400
        assert message in response.json()["detail"]
    assert (await client.post("/api/scores", json={"trace_id": trace})).status_code == 422


async def test_a_key_sees_and_writes_only_its_own_project(client: httpx.AsyncClient, store: Store) -> None:
    key_a, _ = create_key(store, "a", "project-a")
    key_b, _ = create_key(store, "b", "project-b")
    _seed(store, "project-b")
    as_a = {"authorization": f"Bearer {key_a}"}
    as_b = {"authorization": f"Bearer {key_b}"}

    assert (await client.get("/api/traces", headers=as_b)).json()["items"]
    assert (await client.get("/api/traces", headers=as_a)).json()["items"] == []
    assert (await client.get(f"/api/traces/{'a' * 32}", headers=as_a)).status_code == 404
    assert (await client.get("/api/spans", headers=as_a, params={"model": "gpt-4o"})).json()["items"] == []

    # A writes: spans and scores land in A, whatever trace ids they name; B never sees them.
    body = otlp_protobuf([{"name": "from-a", "attributes": {"gen_ai.request.model": "gpt-4o"}}])
    assert (await client.post("/v1/traces", content=body, headers={**PROTOBUF, **as_a})).status_code == 200
    score = {"trace_id": "a" * 32, "name": "x", "value": 1}
    assert (await client.post("/api/scores", headers=as_a, json=score)).status_code == 201
    b_spans = (await client.get("/api/spans", headers=as_b, params={"limit": 100})).json()["items"]
    assert "from-a" not in {s["name"] for s in b_spans}
    assert (await client.get("/api/scores", headers=as_b)).json()["items"] == []
    a_spans = (await client.get("/api/spans", headers=as_a)).json()["items"]
    assert [s["name"] for s in a_spans] == ["from-a"]

    # Keys exist: no key, a wrong key or a malformed header is refused everywhere.
    for headers in ({}, {"authorization": "Bearer lsk_nope"}, {"authorization": f"Basic {key_a}"}):
        for method, path in (("GET", "/api/traces"), ("POST", "/v1/traces"), ("GET", "/api/scores")):
            response = await client.request(method, path, headers={**PROTOBUF, **headers}, content=body)
            assert response.status_code == 401, (headers, path)
            assert response.headers["www-authenticate"] == "Bearer"


async def test_without_keys_the_server_is_open_on_the_default_project(
    client: httpx.AsyncClient, store: Store
) -> None:
    _seed(store, "default")
    assert len((await client.get("/api/traces")).json()["items"]) == 3
    assert (await client.get("/health")).json()["status"] == "ok"
    openapi = (await client.get("/openapi.json")).json()
    assert {"/v1/traces", "/api/traces", "/api/traces/{trace_id}", "/api/scores", "/api/prompts"} <= set(
        openapi["paths"]
    )


async def test_a_wrong_method_lists_every_method_the_path_supports(client: httpx.AsyncClient) -> None:
    # GET and POST on /api/prompts are two routes; the 405 used to name only the last one
    response = await client.request("DELETE", "/api/prompts")
    assert response.status_code == 405
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["allow"].split(",")}
