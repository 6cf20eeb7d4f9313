"""The REST API of evaluators and alerts over the real app, with its worker driven by ``run_once``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from loopstack.config import Settings
from loopstack.server import create_app
from loopstack.store import Store
from monitor.helpers import add_calls, thumbs_down


@pytest.fixture
def app(store: Store) -> Iterator[FastAPI]:
    application = create_app(Settings(), store, ui=False, monitor=False)
    yield application
    application.state.writer.close()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8765"
    ) as c:
        yield c


async def test_create_an_evaluator_then_the_worker_scores_and_reports_health(
    app: FastAPI, client: httpx.AsyncClient, store: Store
) -> None:
    body = {
        "name": "mentions-bug",
        "filter": {"prompt_name": "triage"},
        "sample_rate": 1.0,
        "scorers": [{"name": "contains", "params": {"value": "bug"}}],
    }
    created = await client.post("/api/evaluators", json=body)
    assert created.status_code == 201, created.text
    ev = created.json()
    assert ev["version"] == 1 and ev["health"]["evaluated"] == 0
    add_calls(store, "default", 12, start=datetime.now(UTC))
    result = await run_in_threadpool(app.state.worker.run_once)
    assert result["evaluators"]["evaluated"] == 12
    got = (await client.get(f"/api/evaluators/{ev['id']}")).json()
    assert got["health"]["evaluated"] == 12 and got["health"]["lag_s"] is not None
    assert len(got["recent_scores"]) == 12 and got["recent_scores"][0]["value"] == 1.0
    listed = (await client.get("/api/evaluators")).json()["items"]
    assert [e["name"] for e in listed] == ["mentions-bug"]
    patched = await client.patch(f"/api/evaluators/{ev['id']}", json={"sample_rate": 0.5})
    assert patched.json()["version"] == 2 and patched.json()["sample_rate"] == 0.5


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"name": "x", "scorers": [{"name": "nope"}]}, 400, "no scorer named 'nope'"),
        (
            {"name": "x", "filter": {"colour": "red"}, "scorers": [{"name": "json_valid"}]},
            400,
            "unknown filter field",
        ),
        ({"name": "x", "scorers": []}, 422, "at least 1"),
        (
            {"name": "x", "sample_rate": 2, "scorers": [{"name": "json_valid"}]},
            422,
            "less than or equal to 1",
        ),
    ],
)
async def test_bad_evaluators_are_a_4xx_that_names_the_problem(
    client: httpx.AsyncClient, body: dict[str, object], status: int, message: str
) -> None:
    response = await client.post("/api/evaluators", json=body)
    assert response.status_code == status
    assert message in response.text
    assert (await client.get("/api/evaluators")).json()["items"] == []


async def test_a_duplicate_name_and_an_unknown_evaluator_are_4xx(client: httpx.AsyncClient) -> None:
    body = {"name": "dup", "scorers": [{"name": "json_valid"}]}
    assert (await client.post("/api/evaluators", json=body)).status_code == 201
    again = await client.post("/api/evaluators", json=body)
    assert again.status_code == 400 and "already exists" in again.text
    assert (await client.get("/api/evaluators/missing")).status_code == 404


async def test_backfill_previews_then_runs_on_the_worker_with_the_calls_it_announced(
    app: FastAPI, client: httpx.AsyncClient, store: Store, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    from loopstack.config import get_settings
    from loopstack.models import MockProvider, get_model

    prices = Path(str(tmp_path)) / "prices.yaml"
    prices.write_text(
        "prices:\n  - {match: 'mock/priced-judge', since: 2020-01-01, input: 1.0, output: 2.0}\n"
    )
    monkeypatch.setenv("LOOPSTACK_PRICE_FILE", str(prices))
    get_settings.cache_clear()
    judge = get_model("mock/priced-judge", default='{"score": 4}')
    start = datetime.now(UTC) - timedelta(days=2)
    add_calls(store, "default", 40, start=start)
    body = {
        "name": "judge",
        "sample_rate": 0.5,
        "scorers": [
            {
                "name": "rubric_judge",
                "params": {"model": "mock/priced-judge", "cache": False, "max_tokens": 50},
            },
            {"name": "json_valid"},
        ],
    }
    ev = (await client.post("/api/evaluators", json=body)).json()
    window = {
        "start": (start - timedelta(hours=1)).isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
    }
    preview = (await client.post(f"/api/evaluators/{ev['id']}/backfill", json=window)).json()
    assert preview["scheduled"] is False
    p = preview["preview"]
    assert 5 < p["targets"] < 35 and p["estimated_calls"] == p["targets"]  # one judge call per target
    assert p["estimated_cost_usd"] > 0
    provider = judge.provider
    assert isinstance(provider, MockProvider) and provider.calls == 0  # a preview calls no model
    run = await client.post(f"/api/evaluators/{ev['id']}/backfill", json={**window, "confirm": True})
    assert run.json()["scheduled"] is True
    await run_in_threadpool(app.state.worker.run_once)
    done = (await client.get(f"/api/evaluators/{ev['id']}")).json()["health"]["backfill"]
    assert done["status"] == "done"
    assert done["calls"] == p["estimated_calls"] == provider.calls
    again = (await client.post(f"/api/evaluators/{ev['id']}/backfill", json=window)).json()
    assert again["preview"]["targets"] == 0  # already scored by this version


async def test_bad_backfill_ranges_are_4xx(client: httpx.AsyncClient) -> None:
    ev = (
        await client.post("/api/evaluators", json={"name": "e", "scorers": [{"name": "json_valid"}]})
    ).json()
    now = datetime.now(UTC)
    response = await client.post(
        f"/api/evaluators/{ev['id']}/backfill",
        json={"start": now.isoformat(), "end": (now - timedelta(hours=1)).isoformat()},
    )
    assert response.status_code == 400 and "end must be after start" in response.text


async def test_alert_rules_and_events_through_the_api(
    app: FastAPI, client: httpx.AsyncClient, store: Store
) -> None:
    rule = await client.post(
        "/api/alerts/rules",
        json={
            "name": "errors",
            "metric": "error_rate",
            "fire": 0.2,
            "window_s": 60,
            "delay_s": 0,
            "min_samples": 10,
            "channels": [{"type": "log"}],
        },
    )
    assert rule.status_code == 201, rule.text
    assert rule.json()["state"] == "ok"
    start = datetime.fromisoformat(rule.json()["last_window_end"])
    add_calls(store, "default", 20, start=start + timedelta(seconds=1), spacing_s=1, errors=10)
    await run_in_threadpool(app.state.worker.run_once, start + timedelta(seconds=61))
    rules = (await client.get("/api/alerts/rules")).json()["items"]
    assert rules[0]["state"] == "firing" and rules[0]["last_value"] == pytest.approx(0.5)
    events = (await client.get("/api/alerts/events", params={"rule": "errors"})).json()["items"]
    assert [e["kind"] for e in events] == ["fired"]
    assert events[0]["deliveries"][0]["status"] == "delivered"  # the log channel, in the same pass
    bad = await client.post("/api/alerts/rules", json={"name": "x", "metric": "error_rate"})
    assert bad.status_code == 400 and "give a fire threshold" in bad.text
    unknown = await client.get("/api/alerts/events", params={"rule": "nope"})
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/alerts/rules", {"name": "x", "metric": "cost", "fire": False}),
        ("/api/alerts/rules", {"name": "x", "metric": "error_rate", "fire": 0.1, "window_s": "300"}),
        ("/api/evaluators", {"name": "x", "sample_rate": True, "scorers": [{"name": "contains"}]}),
    ],
)
async def test_a_boolean_or_string_where_a_number_belongs_is_rejected_not_coerced(
    client: httpx.AsyncClient, path: str, body: dict[str, object]
) -> None:
    # "fire": false once became a threshold of 0.0 (schemathesis ST201): every window would fire
    response = await client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert (await client.get(path if path.endswith("rules") else "/api/evaluators")).json()["items"] == []


async def test_feedback_posted_to_the_api_is_judged_by_the_worker(
    app: FastAPI, client: httpx.AsyncClient, store: Store
) -> None:
    from loopstack.models import get_model

    get_model("mock/fb-api", default="Score: 1")
    ev = {
        "name": "on-thumbs-down",
        "sample_rate": 0,
        "on_feedback": True,
        "scorers": [{"name": "rubric_judge", "params": {"model": "mock/fb-api", "cache": False}}],
    }
    assert (await client.post("/api/evaluators", json=ev)).status_code == 201
    (trace, span), *_ = add_calls(store, "default", 3, start=datetime.now(UTC))
    thumbs_down(store, "default", trace, span)
    await run_in_threadpool(app.state.worker.run_once)
    health = (await client.get("/api/evaluators/on-thumbs-down")).json()
    assert health["health"]["evaluated"] == 1
    assert health["recent_scores"][0]["trace_id"] == trace and health["recent_scores"][0]["value"] == 0.0


def test_the_openapi_document_declares_the_errors(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    for path in (
        "/api/evaluators",
        "/api/alerts/rules",
        "/api/alerts/events",
        "/api/evaluators/{key}/backfill",
    ):
        for operation in paths[path].values():
            assert {"400", "401", "404"} <= set(operation["responses"])


def test_the_writer_watermark_never_passes_rows_still_pending(app: FastAPI) -> None:
    writer = app.state.writer
    before = datetime.now(UTC)
    assert writer.watermark() >= before  # idle: now
    reserved = writer.reserve(10)
    held = writer.watermark()
    assert app.state.worker.watermark(held + timedelta(seconds=5)) == held  # busy: when it became busy
    writer.release(reserved)
    assert writer.watermark() > held
