"""The dashboard over a seeded month of production-like traffic, in real Chromium."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from loopstack.monitor import resolve_range
from loopstack.store import Store
from loopstack.store.tables import scores, spans

pytestmark = pytest.mark.e2e
SEED = Path(__file__).resolve().parents[2] / "bench" / "seed_spans.py"


def _seed_module() -> Any:
    spec = importlib.util.spec_from_file_location("seed_spans", SEED)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_month_dashboard_matches_the_stored_rows(
    e2e_store: Store, live_server: Any, page: Any, shot: Any, tmp_path: Path
) -> None:
    db = Path(e2e_store.url.removeprefix("sqlite:///"))
    _seed_module().seed(db, 4000)
    pid = e2e_store.project_id("default")
    start, end, _ = resolve_range("30d")
    with e2e_store.read() as conn:
        window = (spans.c.project_id == pid, spans.c.start_time >= start, spans.c.start_time < end)
        calls = conn.execute(select(func.count()).where(*window, spans.c.model.is_not(None))).scalar_one()
        feedback = conn.execute(
            select(func.count()).where(
                scores.c.source == "user-feedback", scores.c.created_at >= start, scores.c.created_at < end
            )
        ).scalar_one()
    page.goto(f"{live_server.url}/ui/?range=30d")
    assert int(page.locator("#tile-requests").inner_text().replace(",", "")) == calls
    assert int(page.locator("#tile-feedback").inner_text().replace(",", "")) == feedback
    assert page.locator("svg.chart polyline").count() >= 6
    assert page.get_by_role("link", name=re.compile(r"^triage@\d$")).count() >= 1
    shot(page, "dashboard")
    # A breakdown row opens the trace list filtered to that model, as a shareable URL.
    page.get_by_role("link", name="openai/gpt-4o-mini").first.click()
    page.wait_for_url(re.compile(r"/ui/traces\?model=openai%2Fgpt-4o-mini"))
    assert page.locator("a.trace-link").count() == 50
