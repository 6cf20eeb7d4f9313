"""Browser test: build and run an eval from the form, download its YAML, and ``loopstack eval`` on that
file gives the same results."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from loopstack.cli.main import cli
from loopstack.models import forget_models, get_model
from loopstack.store import Store
from loopstack.store.datasets import DatasetItem, DatasetRepository
from ui.helpers import add_prompt_versions

pytestmark = pytest.mark.e2e


@pytest.fixture
def scripted_model() -> Iterator[None]:
    forget_models()
    get_model("mock/a", fn=lambda r: "bug" if "1" in r.messages[-1].content else "praise")
    yield
    forget_models()


def test_build_run_and_download_an_eval_from_the_form(
    live_server: Any,
    e2e_store: Store,
    page: Any,
    shot: Any,
    tmp_path: Path,
    scripted_model: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_prompt_versions(e2e_store)
    DatasetRepository(e2e_store).push(
        "reviews",
        [
            DatasetItem(key=f"r{i}", input={"review": f"text {i}"}, expected="bug" if i % 2 else "praise")
            for i in range(8)
        ],
    )
    page.goto(f"{live_server.url}/ui/runs")
    page.locator("#new-eval").click()
    page.locator("#ef-name").fill("form suite")
    page.locator("#ef-dataset").select_option("reviews")
    page.locator("#ef-prompts").fill("triage@1\ntriage@2")
    page.locator("#ef-models").fill("mock/a")
    page.locator("#ef-scorer-0").select_option("exact_match")
    page.locator("#ef-sname-0").fill("accuracy")
    page.locator("#ef-threshold-0").fill("0.5")
    page.locator("#ef-scorer-1").select_option("regex")
    page.locator("#ef-params-1").fill('{"pattern": "^bug$"}')
    shot(page, "eval-form")
    page.locator("#ef-run").click()
    page.wait_for_url(re.compile(r"/ui/evals/jobs/"))
    page.wait_for_selector("#job-results", timeout=20_000)
    assert page.locator("#job-status").inner_text() == "completed"
    assert "16 / 16 items" in page.locator("#job-progress").inner_text()
    ui_means = page.locator(".job-mean").all_inner_texts()
    shot(page, "eval-job")
    with page.expect_download() as info:
        page.locator("#job-yaml").click()
    suite_file = tmp_path / "suite.yaml"
    info.value.save_as(str(suite_file))
    data = yaml.safe_load(suite_file.read_text())
    assert data["dataset"] == "reviews@1" and data["prompts"] == ["triage@1", "triage@2"]

    monkeypatch.setenv("LOOPSTACK_DATABASE_URL", e2e_store.url)
    from loopstack.config import get_settings
    from loopstack.store import reset_stores

    get_settings.cache_clear()
    reset_stores()
    out = tmp_path / "result.json"
    results: list[Any] = []
    # Playwright's sync API keeps an event loop on this thread: the CLI's asyncio.run goes on another.
    worker = threading.Thread(
        target=lambda: results.append(
            CliRunner().invoke(cli, ["eval", str(suite_file), "--no-progress", "--json-out", str(out)])
        )
    )
    worker.start()
    worker.join(timeout=60)
    assert results and results[0].exit_code == 0, results[0].output if results else "timed out"
    runs = json.loads(out.read_text())["runs"]
    cli_means = [f"{r['scores'][n]['mean']:.3g}" for r in runs for n in ("accuracy", "regex")]
    assert cli_means == [m if "." in m else f"{float(m):.3g}" for m in ui_means]
    assert [r["scores"]["accuracy"]["mean"] for r in runs] == [0.625, 0.625]
