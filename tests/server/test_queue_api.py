"""REST annotation queue: POST /api/queue adds item by item (a bad id is rejected alone), GET lists."""

from __future__ import annotations

import httpx

from loopstack.store import Store
from loopstack.store.keys import create_key
from loopstack.store.spans import get_trace_spans
from ui.helpers import add_trace


async def test_a_bad_id_rejects_that_item_not_the_batch(client: httpx.AsyncClient, store: Store) -> None:
    key, _ = create_key(store, "a", "alpha")
    other, _ = create_key(store, "b", "beta")
    pid = store.project_id("alpha")
    good = add_trace(store, pid)
    foreign = add_trace(store, store.project_id("beta"))
    with store.read() as conn:
        span_id = next(s["span_id"] for s in get_trace_spans(conn, pid, good) if s["parent_span_id"])
    as_a = {"authorization": f"Bearer {key}"}
    resp = await client.post(
        "/api/queue",
        json={"queue": "triage", "trace_ids": [good, "zz", foreign, "1" * 10**2], "span_ids": [span_id, "x"]},
        headers=as_a,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [(a["target_type"], a["id"]) for a in body["added"]] == [("trace", good), ("span", span_id)]
    assert [(r["target_type"], r["id"]) for r in body["rejected"]] == [
        ("trace", "zz"),
        ("trace", foreign),
        ("trace", "1" * 100),
        ("span", "x"),
    ]
    assert "not found in project 'alpha'" in body["rejected"][1]["error"]
    pair = [{"trace_id": good, "span_id": span_id}, {"trace_id": foreign, "span_id": span_id}]
    by_trace = await client.post("/api/queue", json={"queue": "other", "spans": pair}, headers=as_a)
    assert [a["id"] for a in by_trace.json()["added"]] == [span_id]
    assert "not found" in by_trace.json()["rejected"][0]["error"]  # that span is not in that trace
    again = (
        await client.post("/api/queue", json={"queue": "triage", "trace_ids": [good]}, headers=as_a)
    ).json()
    assert again["added"] == [] and again["already_queued"] == [{"target_type": "trace", "id": good}]

    listed = (await client.get("/api/queue?queue=triage", headers=as_a)).json()
    assert listed["counts"]["triage"] == {"pending": 2, "locked": 0, "done": 0}
    assert sorted(i["target_id"] for i in listed["items"]) == sorted([good, span_id])
    assert all(i["status"] == "pending" for i in listed["items"])
    # The other project sees none of it.
    theirs = (await client.get("/api/queue", headers={"authorization": f"Bearer {other}"})).json()
    assert theirs == {"counts": {}, "items": []}


async def test_malformed_requests_are_4xx(client: httpx.AsyncClient, store: Store) -> None:
    key, _ = create_key(store, "a", "alpha")
    h = {"authorization": f"Bearer {key}"}
    t = add_trace(store, store.project_id("alpha"))
    for body in (
        {"trace_ids": "not-a-list"},
        {"trace_ids": [1, 2]},
        {"trace_ids": [t], "unknown": 1},
        {"trace_ids": ["a" * 5000]},
        {"trace_ids": [t] * 1001},
        {"queue": ""},
    ):
        resp = await client.post("/api/queue", json=body, headers=h)
        assert 400 <= resp.status_code < 500, (body, resp.status_code)
    bad_name = await client.post("/api/queue", json={"queue": "a/b\x00", "trace_ids": [t]}, headers=h)
    assert bad_name.status_code == 400 and "queue name" in bad_name.json()["detail"]
    assert (await client.post("/api/queue", content=b"{", headers=h)).status_code == 422
    assert (await client.get("/api/queue?limit=0", headers=h)).status_code == 422
    assert (await client.get("/api/queue?status=nope", headers=h)).status_code == 422
    assert (await client.get("/api/queue?limit=99999999999999999999999", headers=h)).status_code == 422
    assert (await client.post("/api/queue", json={"trace_ids": [t]})).status_code == 401
    assert (await client.get("/api/queue", headers=h)).json()["items"] == []


async def test_nul_and_oversized_names_are_400_not_500(client: httpx.AsyncClient, store: Store) -> None:
    h = {"authorization": f"Bearer {create_key(store, 'a', 'alpha')[0]}"}
    assert (await client.get("/api/queue", params={"queue": "a\x00b"}, headers=h)).status_code == 400
    resp = await client.post("/api/queue", json={"trace_ids": ["\x00" * 32], "span_ids": ["\x00"]}, headers=h)
    assert resp.status_code == 200 and len(resp.json()["rejected"]) == 2
