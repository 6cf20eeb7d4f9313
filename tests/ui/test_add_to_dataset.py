""" "Add to dataset" on a trace: the item's input is the prompt's template variables (recorded on the model
call's span when a rendered prompt is sent), its expected output the human correction when there is one,
else the span's output; it keeps its source span. Without recorded variables the page says so."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

import loopstack
from loopstack.models import get_model
from loopstack.prompts import Prompt
from loopstack.store import Store, get_store
from loopstack.store.datasets import DatasetRepository
from loopstack.store.spans import get_trace_spans
from loopstack.tracing import shutdown
from loopstack.ui import mount_ui
from ui.helpers import add_trace

ORIGIN = {"origin": "http://testserver"}


@pytest.fixture
def local_client() -> Iterator[TestClient]:
    """The pages over the SDK's local store, with tracing on into it."""
    loopstack.init()
    app = FastAPI()
    mount_ui(app, get_store())
    with TestClient(app, base_url="http://testserver") as c:
        yield c
    shutdown(timeout=5)


def _chat_span(store: Store) -> dict[str, object]:
    from sqlalchemy import select

    from loopstack.store.tables import spans

    with store.read() as conn:
        tid = conn.execute(select(spans.c.trace_id).where(spans.c.name.like("chat%"))).scalar_one()
        return next(s for s in get_trace_spans(conn, store.project_id("default"), tid) if s["model"])


def test_the_item_holds_the_template_variables_and_the_human_correction(local_client: TestClient) -> None:
    prompt = Prompt(
        name="triage",
        version=3,
        messages=[
            {"role": "system", "content": "Label the review as bug, praise or question."},
            {"role": "user", "content": "Review: {{ review }}"},
        ],
    )
    model = get_model("mock/echo", mapping={"Review: crashes on start": "praise"})

    @loopstack.observe(name="triage-review")
    def triage(review: str) -> str:
        return asyncio.run(model.generate(prompt.render(review=review))).text

    assert triage("crashes on start") == "praise"
    assert loopstack.flush(timeout=10)
    store = get_store()
    span = _chat_span(store)
    tid, sid = str(span["trace_id"]), str(span["span_id"])

    resp = local_client.post(
        f"/ui/traces/{tid}/dataset", data={"dataset": "reviews", "span_id": sid}, headers=ORIGIN
    )
    assert resp.status_code == 200
    (item,) = DatasetRepository(store).items("reviews")
    assert item.input == {"review": "crashes on start"}
    assert item.expected == "praise"  # no correction yet: the model's output
    assert (item.source_trace_id, item.source_span_id) == (tid, sid)
    assert "input the prompt's template variables" in resp.text

    fixed = local_client.post(
        f"/ui/traces/{tid}/scores",
        data={"kind": "correction", "span_id": sid, "correction": "bug"},
        headers=ORIGIN,
    )
    assert fixed.status_code == 200
    again = local_client.post(
        f"/ui/traces/{tid}/dataset", data={"dataset": "reviews", "span_id": sid}, headers=ORIGIN
    )
    assert "expected output the human correction" in again.text
    (item,) = DatasetRepository(store).items("reviews")
    assert (item.input, item.expected, item.source_span_id) == ({"review": "crashes on start"}, "bug", sid)


def test_without_recorded_variables_the_messages_are_kept_and_the_page_says_so(
    client: TestClient, store: Store, project_id: str
) -> None:
    tid = add_trace(store, project_id, output="positive")
    with store.read() as conn:
        sid = next(s["span_id"] for s in get_trace_spans(conn, project_id, tid) if s["parent_span_id"])
    resp = client.post(f"/ui/traces/{tid}/dataset", data={"dataset": "d", "span_id": sid}, headers=ORIGIN)
    assert resp.status_code == 200
    assert "this call recorded no template variables" in resp.text
    (item,) = DatasetRepository(store).items("d")
    assert item.input["messages"][1] == {"role": "user", "content": "Great app"}
    assert (item.expected, item.source_span_id) == ("positive", sid)
