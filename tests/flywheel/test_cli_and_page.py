"""``loopstack dataset from-traces`` (dry run, then for real) and the trace list's "Add N model calls to
dataset" form: the filter on the page is the filter curated."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from starlette.testclient import TestClient

from flywheel.helpers import add_call, feedback
from loopstack.cli.main import cli
from loopstack.store import Store
from loopstack.store.datasets import DatasetRepository
from loopstack.ui import mount_ui

ORIGIN = {"origin": "http://testserver"}


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    app = FastAPI()
    mount_ui(app, store)
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def _calls(store: Store) -> None:
    for i in range(6):
        t, _ = add_call(
            store,
            variables={"review": f"review {i}"},
            output="ok",
            model="openai/gpt-4o" if i < 4 else "openai/gpt-4o-mini",
        )
        if i % 2:
            feedback(store, t, "thumbs", "down")


def test_from_traces_dry_run_prints_each_step_then_adds(store: Store) -> None:
    _calls(store)
    runner = CliRunner()
    args = ["dataset", "from-traces", "reviews", "--model", "openai/gpt-4o", "--dedupe-threshold", "0"]
    dry = runner.invoke(cli, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "model calls (production)" in dry.output and "model openai/gpt-4o" in dry.output
    assert "reviews: would add 4 items" in dry.output
    assert not DatasetRepository(store).exists("reviews")
    done = runner.invoke(cli, [*args, "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["added"] == 4
    assert len(DatasetRepository(store).items("reviews")) == 4
    empty = runner.invoke(cli, ["dataset", "from-traces", "reviews", "--prompt", "missing"])
    assert empty.exit_code == 1 and "no spans match these filters" in str(empty.exception)


def test_the_trace_list_adds_the_model_calls_its_filter_shows(client: TestClient, store: Store) -> None:
    _calls(store)
    page = client.get("/ui/traces", params={"negative": "1"})
    assert page.status_code == 200
    # the list itself does not count (that can scan far more than a page); "how many?" does
    assert "Add the model calls matching this filter to the dataset" in page.text
    assert 'id="count-curatable"' in page.text
    counted = client.get("/ui/traces", params={"negative": "1", "count": "1"})
    assert "Add 3 model calls matching this filter to the dataset" in counted.text
    back = "/ui/traces?negative=1"
    resp = client.post("/ui/traces/curate", data={"dataset": "bad-answers", "back": back}, headers=ORIGIN)
    assert resp.status_code == 200
    assert "Added 3 model calls to dataset" in resp.text
    items = DatasetRepository(store).items("bad-answers")
    assert len(items) == 3 and all(i.metadata["feedback"] == "negative" for i in items)
    assert all(i.source_span_id for i in items)
    bad = client.post(
        "/ui/traces/curate", data={"dataset": "x", "back": "/ui/traces?prompt=nope"}, headers=ORIGIN
    )
    assert bad.status_code == 400 and "no spans match" in bad.text
