"""Rollout pages and the dashboard's product analytics, server-rendered over a real store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from loopstack.monitor.rollout_runner import RolloutRunner, start_rollout
from loopstack.store import Store, utcnow
from loopstack.ui import mount_ui
from monitor.rollout_helpers import push_two, serve_users


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    from fastapi import FastAPI

    app = FastAPI()
    mount_ui(app, store)
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def test_rollout_page_shows_arms_then_the_rollback_in_the_label_history(
    client: TestClient, store: Store
) -> None:
    push_two(store)
    policy = {"steps": [50, 100], "on_evidence": True, "min_users": 100, "min_decide_users": 50}
    ro = start_rollout(store, "default", "triage", candidate=2, policy=policy)
    serve_users(store, range(600), {1: 0.85, 2: 0.35})
    page = client.get(f"/ui/rollouts/{ro['id']}")
    assert page.status_code == 200
    assert 'id="arm-control"' in page.text and 'id="arm-candidate"' in page.text
    assert "always-valid 95% interval" in page.text and "running" in page.text
    assert 'href="/ui/analytics?range=24h"' in client.get("/ui/").text
    dash = client.get("/ui/analytics")
    assert "arm</b> triage candidate v2" in dash.text and "triage v1" in dash.text
    RolloutRunner(store).tick(utcnow())
    page = client.get(f"/ui/rollouts/{ro['id']}")
    assert "rolled back" in page.text and "acceptance is significantly lower" in page.text
    history = page.text.split('id="label-history"')[1]
    assert "v2 → v1" in history and '<td class="author">rollout</td>' in history
    listing = client.get("/ui/rollouts")
    assert "rolled_back" in listing.text and "v1 → v2" in listing.text
    assert client.get("/ui/rollouts/nope").status_code == 404
