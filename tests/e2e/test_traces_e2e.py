"""Browser tests of the trace pages and the dashboard, in real Chromium against a live server."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from loopstack.store import Store
from ui.helpers import XSS, add_trace

pytestmark = pytest.mark.e2e


def test_open_trace_from_list_shows_conversation_and_waterfall(
    live_server: Any, e2e_store: Store, page: Any, shot: Any
) -> None:
    pid = e2e_store.project_id("default")
    now = datetime.now(UTC)
    for i in range(5):
        add_trace(e2e_store, pid, name=f"older-{i}", start=now - timedelta(hours=2, minutes=i))
    add_trace(
        e2e_store,
        pid,
        name="classify-review",
        start=now - timedelta(minutes=1),
        messages=[
            {"role": "system", "content": "You triage reviews."},
            {"role": "user", "content": "App crashes on login"},
        ],
        output="bug",
    )
    page.goto(f"{live_server.url}/ui/traces")
    assert page.locator("#traces tbody tr").count() == 6
    shot(page, "traces")
    page.get_by_role("link", name="classify-review").click()
    page.wait_for_url(re.compile(r"/ui/traces/[0-9a-f]{32}$"))
    assert page.locator("h1").inner_text() == "classify-review"
    # The model-call span: its input renders as a conversation, one bubble per message.
    page.locator("a.span-link", has_text="chat openai/gpt-4o-mini").click()
    page.wait_for_url(re.compile(r"span=[0-9a-f]{16}"))
    assert page.locator(".chat .msg").count() == 2
    assert page.locator(".chat .msg.role-user pre").inner_text() == "App crashes on login"
    assert page.locator("#span-output").inner_text().strip() == "bug"
    assert page.locator("svg.wf rect").count() == 2
    shot(page, "trace")


def test_feedback_left_on_trace_is_counted_on_dashboard(
    live_server: Any, e2e_store: Store, page: Any, shot: Any
) -> None:
    pid = e2e_store.project_id("default")
    trace_id = add_trace(e2e_store, pid)
    add_trace(e2e_store, pid, model="local/smollm2-135m", prompt=("triage", 2), error=True, latency_ms=900)
    page.goto(f"{live_server.url}/ui/")
    assert page.locator("#tile-requests").inner_text() == "2"
    assert page.locator("#tile-feedback").inner_text() == "0"
    page.goto(f"{live_server.url}/ui/traces/{trace_id}")
    page.locator("#thumbs-down").click()
    page.wait_for_load_state()
    assert "feedback" in page.locator("#scores").inner_text()
    page.goto(f"{live_server.url}/ui/")
    assert page.locator("#tile-feedback").inner_text() == "1"
    assert "1 negative" in page.locator("#feedback-detail").inner_text()
    shot(page, "dashboard_feedback")
    # The negative-feedback filter of the list now finds exactly that trace.
    page.goto(f"{live_server.url}/ui/traces?negative=1")
    links = page.locator("a.trace-link")
    assert links.count() == 1
    assert trace_id in (links.first.get_attribute("href") or "")


def test_script_in_span_output_renders_as_text(live_server: Any, e2e_store: Store, page: Any) -> None:
    pid = e2e_store.project_id("default")
    trace_id = add_trace(e2e_store, pid, name=XSS, output=XSS, messages=[{"role": "user", "content": XSS}])
    for url in (f"/ui/traces/{trace_id}", "/ui/traces", "/ui/"):
        page.goto(live_server.url + url)
        page.wait_for_timeout(300)
    page.goto(f"{live_server.url}/ui/traces/{trace_id}")
    llm = page.locator("a.span-link", has_text="chat")
    llm.click()
    page.wait_for_url(re.compile(r"span="))
    page.wait_for_timeout(300)
    assert page.dialogs == []
    assert XSS in page.locator("#span-output").inner_text()
    assert XSS in page.locator(".chat .msg.role-user pre").inner_text()
    assert page.locator("#span-detail img").count() == 0
    assert page.locator("main script").count() == 0


def test_with_api_keys_the_browser_signs_in_and_sees_only_its_project(
    e2e_store: Store, page: Any, shot: Any
) -> None:
    from loopstack.store.keys import create_key

    from .conftest import LiveServer, build_app

    mine = add_trace(e2e_store, e2e_store.project_id("acme"), name="acme-trace")
    add_trace(e2e_store, e2e_store.project_id("default"), name="other-project-trace")
    secret, _ = create_key(e2e_store, "browser", "acme")
    with LiveServer(build_app(e2e_store)) as server:
        page.goto(f"{server.url}/ui/traces")
        page.wait_for_url(re.compile(r"/ui/login\?next=/ui/traces"))
        shot(page, "login")
        page.locator("#api-key").fill("lsk_wrong")
        page.locator("#sign-in").click()
        assert "/ui/login" in page.url  # a wrong key is sent back to sign in
        page.locator("#api-key").fill(secret)
        page.locator("#sign-in").click()
        page.wait_for_url(re.compile(r"/ui/traces$"))
        assert page.locator("a.trace-link").all_inner_texts() == ["acme-trace"]
        page.locator("a.trace-link").click()
        page.wait_for_url(re.compile(mine))
