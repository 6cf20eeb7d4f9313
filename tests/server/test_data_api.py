"""Read-only datasets and runs endpoints, scoped to the key's project; protobuf partial success."""

from __future__ import annotations

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from server_helpers import PROTOBUF

from loopstack.store import Store
from loopstack.store.datasets import DatasetItem, DatasetRepository
from loopstack.store.keys import create_key
from loopstack.store.runs import ItemResult, RunRepository, ScoreRow


async def test_datasets_and_runs_are_listed_for_the_keys_project_only(
    client: httpx.AsyncClient, store: Store
) -> None:
    key_a, _ = create_key(store, "a", "alpha")
    key_b, _ = create_key(store, "b", "beta")
    DatasetRepository(store, "alpha").push(
        "reviews",
        [DatasetItem("r1", {"review": "crashes"}, "bug"), DatasetItem("r2", {"review": "love it"}, "praise")],
    )
    runs = RunRepository(store, "alpha")
    run = runs.create_run(config={"k": 1}, prompt_name="triage", prompt_version=2, model="mock/echo")
    runs.save_item(
        run.id,
        ItemResult(
            "r1", 0, {"review": "crashes"}, "bug", output="bug", scores=[ScoreRow("exact", value=1.0)]
        ),
    )
    as_a = {"authorization": f"Bearer {key_a}"}
    as_b = {"authorization": f"Bearer {key_b}"}

    datasets = (await client.get("/api/datasets", headers=as_a)).json()["items"]
    assert [(d["name"], d["item_count"]) for d in datasets] == [("reviews", 2)]
    detail = (await client.get("/api/datasets/reviews", headers=as_a)).json()
    assert sorted(i["key"] for i in detail["items"]) == ["r1", "r2"]
    listed = (await client.get("/api/runs", headers=as_a)).json()["items"]
    assert [(r["id"], r["prompt_version"], r["model"]) for r in listed] == [(run.id, 2, "mock/echo")]
    one = (await client.get(f"/api/runs/{run.id}", headers=as_a)).json()
    assert one["items"][0]["output"] == "bug"
    assert one["items"][0]["scores"][0]["value"] == 1.0

    assert (await client.get("/api/datasets", headers=as_b)).json()["items"] == []
    assert (await client.get("/api/runs", headers=as_b)).json()["items"] == []
    missing = await client.get("/api/datasets/reviews", headers=as_b)
    assert missing.status_code == 404
    assert (await client.get(f"/api/runs/{run.id}", headers=as_b)).status_code == 404


async def test_protobuf_partial_success_names_the_rejected_span(
    client: httpx.AsyncClient, store: Store
) -> None:
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    good = spans.add(trace_id=bytes(range(1, 17)), span_id=bytes(range(1, 9)), name="good")
    good.start_time_unix_nano = 1_700_000_000_000_000_000
    bad = spans.add(trace_id=b"\x01\x02", span_id=bytes(range(1, 9)), name="short-trace-id")
    bad.start_time_unix_nano = 1_700_000_000_000_000_000
    response = await client.post("/v1/traces", content=request.SerializeToString(), headers=PROTOBUF)
    assert response.status_code == 200
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_spans == 1
    assert "spans[1]" in partial.error_message
    stored = (await client.get("/api/spans")).json()["items"]
    assert [s["name"] for s in stored] == ["good"]
