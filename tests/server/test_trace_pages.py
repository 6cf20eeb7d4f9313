"""``GET /api/traces/{id}`` pages a trace's spans: a long trace is never one unbounded answer, and the
cursors walk every span exactly once (spans that start at the same instant included)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from loopstack.store import Store
from loopstack.store.spans import SpanRecord, write_spans

T0 = int(datetime(2026, 1, 10, 12, 0, tzinfo=UTC).timestamp() * 1e9)
TRACE = "e" * 32


def _long_trace(store: Store, count: int) -> set[str]:
    """``count`` spans, five of them at each start instant (ties the cursor has to order by span id)."""
    records = [
        SpanRecord(TRACE, f"{i:016x}", f"step {i}", T0 + (i // 5) * 1000, T0 + (i // 5) * 1000 + 10)
        for i in range(count)
    ]
    write_spans(store, store.project_id("default"), records)
    return {r.span_id for r in records}


async def test_a_long_trace_comes_in_pages_that_hold_every_span_once(
    client: httpx.AsyncClient, store: Store
) -> None:
    expected = _long_trace(store, 1234)
    first = (await client.get(f"/api/traces/{TRACE}")).json()
    assert len(first["spans"]) == 1000  # the default page, not all 1,234
    assert first["next_cursor"]

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"/api/traces/{TRACE}", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["spans"]) <= 100
        seen += [s["span_id"] for s in page["spans"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 1234
    assert set(seen) == expected
    starts = [(datetime.fromisoformat(s["start_time"]), s["span_id"]) for s in first["spans"]]
    assert starts == sorted(starts)


async def test_page_size_is_bounded_and_a_short_trace_has_no_cursor(
    client: httpx.AsyncClient, store: Store
) -> None:
    _long_trace(store, 3)
    whole = (await client.get(f"/api/traces/{TRACE}")).json()
    assert (len(whole["spans"]), whole["next_cursor"]) == (3, None)
    assert (await client.get(f"/api/traces/{TRACE}", params={"limit": 5001})).status_code == 422
    assert (await client.get(f"/api/traces/{TRACE}", params={"limit": 0})).status_code == 422
    assert (await client.get(f"/api/traces/{'0' * 32}")).status_code == 404
