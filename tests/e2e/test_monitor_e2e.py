"""Browser test: create an online evaluator and an alert rule in the UI; the server's worker scores."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from loopstack.store import Store
from loopstack.store.monitoring import AlertRepository, EvaluatorRepository
from monitor.helpers import add_calls

pytestmark = pytest.mark.e2e


def test_create_an_evaluator_and_an_alert_rule_and_watch_the_worker_score(
    live_server: Any, e2e_store: Store, page: Any, shot: Any
) -> None:
    page.goto(f"{live_server.url}/ui/monitor")
    form = page.locator("#evaluator-form")
    form.locator("input[name=name]").fill("says-bug")
    form.locator("select[name=scorer]").select_option("contains")
    form.locator("input[name=params]").fill('{"value": "bug"}')
    form.locator("input[name=sample_rate]").fill("1")
    form.locator("input[name=prompt_name]").fill("triage")
    page.locator("#create-evaluator").click()
    page.wait_for_url(re.compile(r"/ui/monitor\?created=says-bug"))
    assert "Created says-bug." in page.locator("#created-msg").inner_text()

    rule = page.locator("#alert-form")
    rule.locator("input[name=name]").fill("error-spike")
    rule.locator("select[name=metric]").select_option("error_rate")
    rule.locator("input[name=fire]").fill("0.2")
    rule.locator("input[name=resolve]").fill("0.1")
    rule.locator("input[name=sustained]").fill("3")
    rule.locator("input[name=log]").check()
    page.locator("#create-rule").click()
    page.wait_for_url(re.compile(r"created=error-spike"))
    row = page.locator("#alert-rules tbody tr", has_text="error-spike")
    assert "error_rate" in row.inner_text() and "fire 0.2 / resolve 0.1" in row.inner_text()
    assert AlertRepository(e2e_store).get_rule("error-spike")["spec"]["sustained"] == 3

    add_calls(e2e_store, "default", 6, start=datetime.now(UTC))
    deadline = time.monotonic() + 30
    evaluated = "0"
    while time.monotonic() < deadline:  # the worker runs every second, behind the ingest watermark
        page.reload()
        evaluated = (
            page.locator("#evaluators tbody tr", has_text="says-bug").locator("td.evaluated").inner_text()
        )
        if evaluated == "6":
            break
        time.sleep(0.5)
    assert evaluated == "6"
    shot(page, "monitor")
    page.locator("#evaluators a", has_text="says-bug").click()
    page.wait_for_url(re.compile(r"/ui/monitor/evaluators/"))
    assert page.locator("#h-evaluated").inner_text() == "6"
    assert page.locator("#scores tbody tr").count() == 6
    assert EvaluatorRepository(e2e_store).get("says-bug")["evaluated"] == 6
    assert page.dialogs == []
