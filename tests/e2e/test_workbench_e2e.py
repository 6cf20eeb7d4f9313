"""Browser tests of the prompt workbench in real Chromium: the playground → a new version → its runs in
the runs table → a metric filter → three runs compared in the matrix."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from loopstack.models import forget_models, get_model
from loopstack.prompts import PromptRegistry
from loopstack.store import Store
from loopstack.store.datasets import DatasetItem, DatasetRepository
from loopstack.store.runs import RunRepository
from ui.helpers import add_prompt_versions

pytestmark = pytest.mark.e2e


@pytest.fixture
def scripted_models() -> Iterator[None]:
    forget_models()
    get_model("mock/a", fn=lambda r: "bug")  # always "bug": right on 1 of the 3 items
    get_model(
        "mock/b", fn=lambda r: r.messages[-1].content.split()[-1]
    )  # the review's last word: right on all
    yield
    forget_models()


def _reviews(store: Store) -> None:
    DatasetRepository(store).push(
        "reviews",
        [
            DatasetItem(key="r1", input={"review": "crash bug"}, expected="bug"),
            DatasetItem(key="r2", input={"review": "love praise"}, expected="praise"),
            DatasetItem(key="r3", input={"review": "odd question"}, expected="question"),
            DatasetItem(key="r4", input={"review": "left out"}, expected="bug"),
        ],
    )


def test_playground_to_new_version_to_runs_table_to_matrix(
    live_server: Any, e2e_store: Store, page: Any, shot: Any, scripted_models: None
) -> None:
    add_prompt_versions(e2e_store)
    _reviews(e2e_store)
    page.goto(f"{live_server.url}/ui/playground?prompt=triage&version=3")
    page.locator("#pg-content-0").fill("Label the review with one word.")
    page.locator("#pg-version-1").check()
    page.locator("#pg-models").fill("mock/a\nmock/b")
    page.locator("#pg-from-dataset").check()
    page.locator("#pg-dataset").select_option("reviews")
    page.locator("#pg-items").fill("r1, r2, r3")
    page.locator("#pg-scorers").fill("exact_match")
    page.locator("#pg-run").click()
    page.wait_for_selector("#pg-grid")
    heads = page.locator("#pg-grid thead th").all_inner_texts()[1:]
    assert heads == ["draft · mock/a", "draft · mock/b", "v1 · mock/a", "v1 · mock/b"]
    assert page.locator("#pg-grid tbody tr").count() == 3
    assert page.locator("#pg-grid .pg-output").all_inner_texts()[:4] == ["bug", "bug", "bug", "bug"]
    assert "exact_match: 1" in page.locator("#pg-grid").inner_text()
    shot(page, "playground")

    page.locator("#pg-save").click()
    page.wait_for_selector("#diff")
    assert "Label the review with one word." in page.locator("#diff").inner_text()
    page.locator("#save-message").fill("one-word labels")
    page.locator("#confirm-save").click()
    page.wait_for_url(re.compile(r"/ui/prompts/triage/versions/4"))
    assert PromptRegistry(e2e_store).get("triage", version=4).message == "one-word labels"
    assert page.locator("#version-runs tbody tr").count() == 2  # the draft's two runs are v4's now

    page.locator("#in-runs-table").click()
    page.wait_for_url(re.compile(r"/ui/runs\?q="))
    rows = page.locator("#runs tbody tr")
    assert rows.count() == 2
    assert {t.split("\t")[0] for t in page.locator("#runs tbody td:nth-child(6)").all_inner_texts()} == {
        "mock/a",
        "mock/b",
    }

    page.locator("#filter").fill("prompt=triage exact_match>0.5")
    page.locator("#search").click()
    page.wait_for_url(re.compile(r"exact_match"))
    models = page.locator("#runs tbody td:nth-child(6)").all_inner_texts()
    assert sorted(models) == ["mock/b", "mock/b"]  # draft (now v4) and v1 on mock/b: 3 of 3 right
    assert page.locator("#metric-chart svg").count() == 1
    shot(page, "runs-table")

    page.locator("#filter").fill("")
    page.locator("#search").click()
    page.wait_for_selector("#runs tbody tr >> nth=3")
    boxes = page.locator("#runs tbody input[type=checkbox]")
    for i in range(3):
        boxes.nth(i).check()
    page.locator("#compare-selected").click()
    page.wait_for_url(re.compile(r"/ui/matrix\?run="))
    assert page.locator("#matrix thead th").count() == 1 + 3
    assert page.locator("#matrix tbody tr").count() == 3
    assert "items differ" in page.locator("h1").inner_text()
    first = page.locator("#matrix tbody tr").first
    assert "changed" in (first.get_attribute("class") or "")
    shot(page, "matrix")
    assert len(RunRepository(e2e_store).list_runs()) == 4
