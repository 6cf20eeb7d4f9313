"""Browser test: watch a rollout's arms side by side, then see the worker's automatic rollback land in
the label history (author "rollout")."""

from __future__ import annotations

import time
from typing import Any

import pytest

from loopstack.monitor.rollout_runner import start_rollout
from loopstack.store import Store
from monitor.rollout_helpers import push_two, serve_users

pytestmark = pytest.mark.e2e


def test_watch_a_rollout_and_see_the_automatic_rollback(
    live_server: Any, e2e_store: Store, page: Any, shot: Any
) -> None:
    push_two(e2e_store)
    policy = {"steps": [50, 100], "on_evidence": True, "min_users": 100, "min_decide_users": 50}
    ro = start_rollout(e2e_store, "default", "triage", candidate=2, policy=policy)
    page.goto(f"{live_server.url}/ui/rollouts")
    page.locator("#rollouts a", has_text="triage").click()
    assert page.locator("#state").inner_text() == "running"
    assert page.locator("#arm-control").inner_text().startswith("control\tv1")
    assert page.locator("#arm-candidate").inner_text().startswith("candidate\tv2")

    serve_users(e2e_store, range(600), {1: 0.85, 2: 0.35})
    page.reload()
    users = int(page.locator("#arm-candidate td").nth(2).inner_text())
    assert users > 100
    shot(page, "rollout-arms")

    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:  # the server's worker checks rollouts every 10 s
        page.goto(f"{live_server.url}/ui/rollouts/{ro['id']}")
        if page.locator("#state").inner_text() == "rolled back":
            break
        time.sleep(1)
    assert page.locator("#state").inner_text() == "rolled back"
    assert "acceptance is significantly lower" in page.locator("#reason").inner_text()
    first = page.locator("#label-history tbody tr").first
    assert "v2 → v1" in first.inner_text() and first.locator(".author").inner_text() == "rollout"
    shot(page, "rollout-rolled-back")
