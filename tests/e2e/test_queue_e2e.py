"""Browser test: filter the trace list, add what it shows to an annotation queue, review the first."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from loopstack.store import Store
from loopstack.store.tables import annotation_queue
from ui.helpers import add_trace

pytestmark = pytest.mark.e2e


def test_add_the_filtered_traces_to_a_queue_and_review_them(
    live_server: Any, e2e_store: Store, page: Any, shot: Any
) -> None:
    pid = e2e_store.project_id("default")
    failed = [add_trace(e2e_store, pid, name=f"failed-{i}", error=True) for i in range(2)]
    add_trace(e2e_store, pid, name="fine")
    page.goto(f"{live_server.url}/ui/traces?status=error")
    assert page.locator("#traces tbody tr").count() == 2
    page.locator("#queue-form input[name=queue]").fill("errors")
    button = page.locator("#add-to-queue")
    assert button.inner_text() == "Add 2 traces to the annotation queue"
    button.click()
    page.wait_for_url(re.compile(r"/ui/traces\?status=error&queued=2"))
    assert "Added 2 traces to the annotation queue errors" in page.locator("#queued-msg").inner_text()
    shot(page, "traces_queued")
    with e2e_store.read() as conn:
        queued = conn.execute(select(annotation_queue.c.queue, annotation_queue.c.target_id)).all()
    assert sorted(queued) == sorted(("errors", t) for t in failed)
    page.locator("#queued-msg a").click()
    page.wait_for_url(re.compile(r"/ui/annotate/errors"))
    assert page.locator("#item").get_attribute("data-item") is not None
    assert page.dialogs == []
