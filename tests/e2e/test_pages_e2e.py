"""Browser tests of prompts, datasets, eval runs and the annotation queue, in real Chromium."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from loopstack.prompts import PromptRegistry
from loopstack.store import Store
from loopstack.store.annotations import AnnotationQueueRepository
from loopstack.store.datasets import DatasetItem, DatasetRepository
from loopstack.store.tables import annotation_queue, scores
from ui.helpers import add_prompt_versions, add_runs, add_trace

pytestmark = pytest.mark.e2e


def test_compare_two_runs_and_filter_to_regressions(
    live_server: Any, e2e_store: Store, page: Any, shot: Any
) -> None:
    a, b = add_runs(e2e_store)
    page.goto(f"{live_server.url}/ui/runs")
    shot(page, "runs")
    page.locator("#compare-a").select_option(a)
    page.locator("#compare-b").select_option(b)
    page.locator("#compare").click()
    page.wait_for_url(re.compile(r"/ui/compare\?a=.*&b="))
    stats = page.locator("#paired tbody tr").first.inner_text()
    assert "exact_match" in stats
    assert "1 / 8 / 3" in stats  # wins / ties / losses, paired on the 12 items
    rows = page.locator("#pairs tbody tr")
    assert rows.count() == 12
    # Changed items come first: the three regressions, then the improvement.
    assert page.locator("#pairs .item-key").all_inner_texts()[:4] == [
        "item-00",
        "item-03",
        "item-06",
        "item-11",
    ]
    shot(page, "compare")
    page.locator("#only-regressions").click()
    page.wait_for_url(re.compile(r"only=regressions"))
    keys = page.locator("#pairs .item-key").all_inner_texts()
    assert keys == ["item-00", "item-03", "item-06"]
    page.goto(f"{live_server.url}/ui/runs/{b}")
    assert "0.75" in page.locator("#run-scores").inner_text()  # 9 of 12 exact matches
    shot(page, "run")


def test_move_a_label_with_confirmation(live_server: Any, e2e_store: Store, page: Any, shot: Any) -> None:
    add_prompt_versions(e2e_store)
    page.goto(f"{live_server.url}/ui/prompts")
    shot(page, "prompts")
    page.get_by_role("link", name="triage").click()
    assert page.locator("#label-production").inner_text() == "v1"
    shot(page, "prompt")
    page.locator("#move-version").select_option("3")
    page.locator("#review-move").click()
    page.wait_for_url(re.compile(r"/label\?label=production&version=3"))
    assert page.locator("#move-summary").inner_text() == "production: v1 → v3"
    assert "Label it." in page.locator("#diff").inner_text()
    # Nothing moves until the reviewer confirms.
    assert page.locator("#confirm-move").is_disabled()
    assert PromptRegistry(e2e_store).labels("triage")["production"] == 1
    shot(page, "prompt_label_confirm")
    page.locator("#confirm-box").check()
    page.locator("#confirm-move").click()
    page.wait_for_url(re.compile(r"moved=production"))
    assert page.locator("#label-production").inner_text() == "v3"
    assert PromptRegistry(e2e_store).labels("triage")["production"] == 3
    # Roll back goes through the same confirmation.
    page.get_by_role("link", name="Roll back to v1").click()
    page.locator("#confirm-box").check()
    page.locator("#confirm-move").click()
    page.wait_for_url(re.compile(r"moved=production"))
    assert PromptRegistry(e2e_store).labels("triage")["production"] == 1
    page.goto(f"{live_server.url}/ui/prompts/triage/diff?a=1&b=2")
    assert "+" in page.locator("#diff .add").first.inner_text()
    shot(page, "prompt_diff")


def test_annotate_three_items_with_the_keyboard(
    live_server: Any, e2e_store: Store, page: Any, shot: Any
) -> None:
    pid = e2e_store.project_id("default")
    traces = [add_trace(e2e_store, pid, name=f"t{i}", output=f"answer {i}") for i in range(4)]
    for t in traces:
        AnnotationQueueRepository(e2e_store).add_one("trace", t, queue="triage-review")
    page.goto(f"{live_server.url}/ui/annotate")
    page.locator("input[name=reviewer]").fill("alice")
    page.get_by_role("button", name="Save name").click()
    page.wait_for_load_state()
    page.locator("a.start-review").click()
    page.wait_for_url(re.compile(r"/ui/annotate/triage-review"))
    shot(page, "annotate")
    first = page.locator("#item").get_attribute("data-item")
    page.keyboard.press("a")  # accept item 1
    page.wait_for_url(re.compile(r"judged=accept"))
    page.keyboard.press("r")  # reject item 2
    page.wait_for_url(re.compile(r"judged=reject"))
    third = page.locator("#item").get_attribute("data-item")
    page.keyboard.press("c")  # correct item 3: focus the correction box, replace, Ctrl+Enter
    page.keyboard.press("Control+a")
    page.keyboard.type("the corrected answer")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(r"judged=correct"))
    fourth = page.locator("#item").get_attribute("data-item")
    page.keyboard.press("n")  # skip item 4: it goes back to the queue
    page.wait_for_url(re.compile(r"after="))
    assert page.locator("#item").get_attribute("data-item") == fourth  # the only one left
    assert "3 done" in page.locator("#queue-counts").inner_text()
    with e2e_store.read() as conn:
        got = conn.execute(
            select(scores.c.trace_id, scores.c.name, scores.c.value, scores.c.string_value, scores.c.author)
            .where(scores.c.source == "human")
            .order_by(scores.c.created_at)
        ).all()
        statuses = dict(conn.execute(select(annotation_queue.c.id, annotation_queue.c.status)).all())
    assert [(r.name, r.value, r.string_value, r.author) for r in got] == [
        ("review", 1.0, None, "alice"),
        ("review", 0.0, None, "alice"),
        ("correction", None, "the corrected answer", "alice"),
    ]
    assert statuses[first] == "done" and statuses[third] == "done"
    assert statuses[fourth] == "locked"


def test_dataset_item_links_to_its_trace_and_expected_output_is_editable(
    live_server: Any, e2e_store: Store, page: Any, shot: Any
) -> None:
    pid = e2e_store.project_id("default")
    trace_id = add_trace(e2e_store, pid, name="from-production", output="bug")
    DatasetRepository(e2e_store).push(
        "reviews", [DatasetItem(key="r1", input={"review": "ok"}, expected="praise")]
    )
    page.goto(f"{live_server.url}/ui/traces/{trace_id}")
    page.locator("a.span-link", has_text="chat").click()
    page.wait_for_url(re.compile(r"span="))
    page.locator("input[name=dataset]").fill("reviews")
    page.locator("#add-to-dataset").click()
    page.wait_for_url(re.compile(r"added=reviews"))
    page.goto(f"{live_server.url}/ui/datasets")
    shot(page, "datasets")
    page.get_by_role("link", name="reviews").click()
    assert page.locator("#items tbody tr").count() == 2
    shot(page, "dataset")
    page.locator("#items a.source-link").click()
    page.wait_for_url(re.compile(rf"/ui/traces/{trace_id}\?span="))
    page.go_back()
    page.locator("#items tbody tr", has_text="span-").locator("td a").first.click()
    page.locator("#expected").fill("feature-request")
    page.locator("#save-expected").click()
    page.wait_for_url(re.compile(r"saved=3"))
    shot(page, "dataset_item")
    items = {i.key: i for i in DatasetRepository(e2e_store).items("reviews")}
    span_item = next(i for k, i in items.items() if k.startswith("span-"))
    assert span_item.expected == "feature-request"
    assert span_item.source_trace_id == trace_id
    assert DatasetRepository(e2e_store).items("reviews", 2)[-1].expected in ("bug", "praise")
