"""The REST API of rollouts over the real app: bad input is 4xx, the worker rolls back, JSON has arms."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from loopstack.config import Settings
from loopstack.prompts._remote import version_from_json
from loopstack.server import create_app
from loopstack.store import Store
from monitor.rollout_helpers import push_two, serve_users


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


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"prompt": "triage", "candidate": 9, "policy": {"every_s": 60}}, 404, "no version 9"),
        ({"prompt": "nope", "candidate": 2, "policy": {"every_s": 60}}, 404, "unknown prompt"),
        ({"prompt": "triage", "weights": {"v1": 80, "v2": 10}, "policy": {"every_s": 60}}, 400, "sum to 100"),
        (
            {"prompt": "triage", "weights": {"v2": 50, "v3": 50}, "policy": {"every_s": 60}},
            400,
            "two versions",
        ),
        ({"prompt": "triage", "candidate": 2, "policy": {"steps": [10, 5], "every_s": 60}}, 400, "rise"),
        (
            {"prompt": "triage", "candidate": 2, "policy": {"on_evidence": True, "every_s": 9}},
            400,
            "one ramp",
        ),
        ({"prompt": "triage", "candidate": 2, "policy": {"every_s": 60, "colour": 1}}, 400, "colour"),
        ({"prompt": "triage", "candidate": 1, "policy": {"every_s": 60}}, 400, "already points"),
    ],
)
async def test_bad_rollouts_are_4xx_naming_the_problem(
    client: httpx.AsyncClient, store: Store, body: dict[str, object], status: int, message: str
) -> None:
    push_two(store)
    got = await client.post("/api/rollouts", json=body)
    assert got.status_code == status, got.text
    assert message in got.json()["detail"]


async def test_second_rollout_on_a_label_is_refused(client: httpx.AsyncClient, store: Store) -> None:
    push_two(store)
    body = {"prompt": "triage", "weights": {"v1": 90, "v2": 10}, "policy": {"every_s": 60}}
    first = await client.post("/api/rollouts", json=body)
    assert first.status_code == 201 and first.json()["candidate_pct"] == 10
    again = await client.post("/api/rollouts", json=body)
    assert again.status_code == 400 and "already running" in again.json()["detail"]


async def test_prompt_json_carries_the_arms_and_the_worker_rolls_back(
    app: FastAPI, client: httpx.AsyncClient, store: Store
) -> None:
    push_two(store)
    policy = {"steps": [50, 100], "on_evidence": True, "min_users": 100, "min_decide_users": 50}
    ro = (
        await client.post("/api/rollouts", json={"prompt": "triage", "candidate": 2, "policy": policy})
    ).json()
    fetched = version_from_json(
        (await client.get("/api/prompts/triage", params={"label": "production"})).json()
    )
    assert fetched.version == 1 and fetched.rollout is not None and fetched.rollout.candidate.version == 2
    await run_in_threadpool(lambda: serve_users(store, range(600), {1: 0.85, 2: 0.35}))
    live = (await client.get(f"/api/rollouts/{ro['id']}")).json()
    assert live["check"]["action"] == "rollback" and live["check"]["users"]["candidate"] > 100
    result = await run_in_threadpool(app.state.worker.run_once)
    assert result["rollouts"]["rolled_back"] == 1
    done = (await client.get("/api/rollouts/triage")).json()
    assert done["state"] == "rolled_back" and done["check"]["metrics"]["acceptance"]["upper"] < 0
    stop = await client.post(f"/api/rollouts/{ro['id']}/stop")
    assert stop.status_code == 400 and "not running" in stop.json()["detail"]
    assert (await client.get("/api/rollouts/zzz")).status_code == 404
