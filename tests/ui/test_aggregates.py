"""Dashboard aggregates: the figures a user reads, from raw spans and from the hourly rollups alike."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from loopstack.config import Settings
from loopstack.monitor import compute_dashboard, resolve_range
from loopstack.monitor.rollups import GRACE, refresh_rollups
from loopstack.store import Store
from loopstack.store.scores import ScoreInput, ScoreRepository
from loopstack.ui import mount_ui
from ui.helpers import add_trace

NOW = datetime.now(UTC)


def _seed(store: Store, pid: str) -> list[str]:
    t = NOW - timedelta(minutes=20)
    return [
        add_trace(store, pid, start=t, latency_ms=100, tokens=(10, 1), cost=0.01),
        add_trace(store, pid, start=t, latency_ms=200, tokens=(20, 2), cost=0.02, prompt=("triage", 2)),
        add_trace(
            store, pid, start=t, latency_ms=900, tokens=(30, 3), cost=0.03, model="local/x", error=True
        ),
    ]


@pytest.mark.parametrize("rng", ["1h", "24h", "7d"])
def test_dashboard_figures(store: Store, rng: str) -> None:
    pid = store.project_id("default")
    traces = _seed(store, pid)
    ScoreRepository(store).add_score(
        ScoreInput(trace_id=traces[0], name="feedback", value=False, source="user-feedback")
    )
    ScoreRepository(store).add_score(
        ScoreInput(trace_id=traces[1], name="helpfulness", value=0.5, source="llm")
    )
    ScoreRepository(store).add_score(
        ScoreInput(trace_id=traces[2], name="helpfulness", value=1.0, source="llm")
    )
    start, end, width = resolve_range(rng)
    d = compute_dashboard(store, pid, start, end, width)
    t = d.totals
    assert (t.requests, t.errors, t.input_tokens, t.output_tokens) == (3, 1, 60, 6)
    assert t.cost == pytest.approx(0.06)
    assert t.p50_ms == pytest.approx(200, rel=0.03)
    assert t.p95_ms == pytest.approx(900, rel=0.03)
    assert (t.feedback, t.negative_feedback) == (1, 1)
    assert t.feedback_rate == pytest.approx(1 / 3)
    assert set(d.by_model) == {"openai/gpt-4o-mini", "local/x"}
    assert d.by_model["local/x"].error_rate == 1.0
    assert d.by_prompt["triage@1"].requests == 2 and d.by_prompt["triage@2"].requests == 1
    means = {s.name: s.mean for s in d.scores}
    assert means["helpfulness"] == pytest.approx(0.75)
    assert sum(s.requests for s in d.series) == 3


def test_rollups_fold_each_span_once_and_see_the_newest(store: Store) -> None:
    pid = store.project_id("default")
    _seed(store, pid)
    start, end, width = resolve_range("24h")
    assert compute_dashboard(store, pid, start, end, width).totals.requests == 3
    # A span that arrives late (started an hour ago, ingested now) is counted right away ...
    add_trace(store, pid, start=NOW - timedelta(hours=1), latency_ms=50)
    assert compute_dashboard(store, pid, start, end, width).totals.requests == 4
    # ... and once folded into the rollups it is still counted once.
    assert refresh_rollups(store, pid, now=datetime.now(UTC) + timedelta(seconds=60)) > 0
    assert refresh_rollups(store, pid, now=datetime.now(UTC) + timedelta(seconds=60)) == 0
    d = compute_dashboard(store, pid, start, end, width)
    assert d.totals.requests == 4
    assert sum(s.requests for s in d.series) == 4


def test_spans_outside_the_window_or_project_are_not_counted(store: Store) -> None:
    pid, other = store.project_id("default"), store.project_id("other")
    add_trace(store, pid, start=NOW - timedelta(days=3))
    add_trace(store, other, start=NOW - timedelta(minutes=5))
    start, end, width = resolve_range("24h")
    assert compute_dashboard(store, pid, start, end, width).totals.requests == 0
    start, end, width = resolve_range("7d")
    assert compute_dashboard(store, pid, start, end, width).totals.requests == 1


def _fold(store: Store, pid: str) -> int:
    """Fold every span ingested so far (and no later one) into the rollups."""
    return refresh_rollups(store, pid, now=datetime.now(UTC) + GRACE)


def _requests_per_bucket(store: Store, start: datetime, end: datetime, width: int) -> list[int]:
    """Model-call spans per bucket, counted straight from the spans table."""
    from sqlalchemy import select

    from loopstack.store.tables import spans

    first = int(start.timestamp()) // width
    counts = [0] * ((int(end.timestamp()) - 1) // width - first + 1)
    with store.read() as conn:
        for (t,) in conn.execute(select(spans.c.start_time).where(spans.c.model.is_not(None))):
            if start <= t < end:
                counts[int(t.timestamp()) // width - first] += 1
    return counts


@pytest.mark.parametrize("folded", [False, True])
def test_day_buckets_match_the_spans_and_count_late_spans_once(store: Store, folded: bool) -> None:
    pid = store.project_id("default")
    for i, days in enumerate((0, 0, 2, 9)):
        add_trace(
            store, pid, start=NOW - timedelta(days=days, minutes=20), latency_ms=100 * (i + 1), error=i == 3
        )
    if folded:
        _fold(store, pid)
    start, end, width = resolve_range("30d")
    d = compute_dashboard(store, pid, start, end, width)
    assert [s.requests for s in d.series] == _requests_per_bucket(store, start, end, width)
    assert (d.totals.requests, d.totals.errors) == (4, 1)
    assert d.totals.p95_ms == pytest.approx(400, rel=0.03)
    # A span that arrives late for a day already folded is counted, and once the day is re-summed, once.
    add_trace(store, pid, start=NOW - timedelta(days=9, minutes=30), latency_ms=50)
    assert _fold(store, pid) == (1 if folded else 5)
    d = compute_dashboard(store, pid, start, end, width)
    assert [s.requests for s in d.series] == _requests_per_bucket(store, start, end, width)
    assert d.totals.requests == 5
    assert d.totals.p50_ms == pytest.approx(200, rel=0.03)


def test_a_window_of_days_with_partial_edges_counts_every_span(store: Store) -> None:
    pid = store.project_id("default")
    for hours in (1, 30, 24 * 12 + 3, 24 * 19 + 22):
        add_trace(store, pid, start=NOW - timedelta(hours=hours))
    _fold(store, pid)
    # start and end are rounded to whole hours; 20 d 11 h apart, they are never both midnights
    # (the test once failed every day from 23:00 UTC, when 19 d 23 h made both edges whole days)
    start, end, width = resolve_range(None, start=NOW - timedelta(days=20, hours=11), end=NOW)
    assert width == 86400 and (start.timestamp() % 86400 != 0 or end.timestamp() % 86400 != 0)
    d = compute_dashboard(store, pid, start, end, width)
    assert [s.requests for s in d.series] == _requests_per_bucket(store, start, end, width)
    assert d.totals.requests == 4


def test_eval_runs_stay_out_of_production_views(store: Store, tmp_path: Path) -> None:
    """A real eval run traced next to production traffic: the dashboard, its rollups, the trace list
    and ``/api/traces`` show production only, and the environment filter shows the eval traces."""
    import loopstack
    from loopstack.evals.runner import evaluate
    from loopstack.models import forget_models, get_model
    from loopstack.prompts import PromptRegistry
    from loopstack.server import create_app
    from loopstack.tracing import shutdown

    pid = store.project_id("default")
    add_trace(store, pid)
    add_trace(store, pid, model="local/x")  # two production requests, ingested like OTLP spans
    loopstack.init()  # the SDK's local store is this test's database
    forget_models()
    model = get_model("mock/env", fn=lambda request: "positive")

    @loopstack.observe(name="app.request")
    async def handle(review: str) -> str:
        return (await model.generate(review)).text

    asyncio.run(handle("Great app"))  # a third production request, through the SDK
    PromptRegistry(store).push("triage", [{"role": "user", "content": "{{ review }}"}], labels=["production"])
    rows = [{"id": f"i{i}", "review": "love", "expected": "positive"} for i in range(5)]
    (tmp_path / "reviews.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "dataset: reviews.jsonl\nprompts: [triage@production]\nmodels: [mock/env]\nscorers: [exact_match]\n"
        "cache: false\n"
    )
    evaluate(suite)  # five eval items, each a trace with one model call
    assert loopstack.flush(10)
    shutdown(timeout=5)
    forget_models()

    def requests(rng: str, environment: str | None = None) -> int:
        start, end, width = resolve_range(rng)
        return compute_dashboard(store, pid, start, end, width, environment=environment).totals.requests

    for rng in ("1h", "24h"):  # from the spans, and from the hourly rollups
        assert (requests(rng), requests(rng, "eval"), requests(rng, "all")) == (3, 5, 8)
    refresh_rollups(store, pid, now=datetime.now(UTC) + GRACE + timedelta(seconds=5))
    assert (requests("24h"), requests("24h", "eval"), requests("7d", "all")) == (3, 5, 8)

    app = FastAPI()
    mount_ui(app, store)
    with TestClient(app, base_url="http://127.0.0.1") as ui:
        page = ui.get("/ui/traces").text
        assert page.count('class="trace-link"') == 3 and "eval.item" not in page
        page = ui.get("/ui/traces", params={"environment": "eval"}).text
        assert page.count(">eval.item</a>") == 5 and "app.request" not in page
        dashboard = ui.get("/ui/", params={"range": "1h", "environment": "eval"}).text
        assert '<b id="tile-requests">5</b>' in dashboard
        assert '<b id="tile-requests">3</b>' in ui.get("/ui/", params={"range": "1h"}).text
    api = create_app(Settings(), store, ui=False)
    with TestClient(api, base_url="http://127.0.0.1") as rest:
        names = [t["name"] for t in rest.get("/api/traces").json()["items"]]
        assert sorted(names) == ["answer", "answer", "app.request"]
        evals = rest.get("/api/traces", params={"environment": "eval"}).json()["items"]
        assert [t["name"] for t in evals] == ["eval.item"] * 5
        assert len(rest.get("/api/traces", params={"environment": "all"}).json()["items"]) == 8
    api.state.writer.close()
