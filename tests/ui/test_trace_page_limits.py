"""The trace page stays up for pathological traces: a 1,500-deep parent chain renders (it was a
RecursionError, a permanent 500), and a long trace shows one page of spans with a link to the next."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from loopstack.store import Store
from loopstack.store.spans import SpanRecord, get_trace_spans, write_spans
from loopstack.ui._traces import TRACE_PAGE, span_tree

T0 = int(datetime(2026, 1, 10, 12, 0, tzinfo=UTC).timestamp() * 1e9)
TRACE = "f" * 32


def _chain(depth: int) -> list[SpanRecord]:
    return [
        SpanRecord(
            TRACE,
            f"{i + 1:016x}",
            f"level-{i}",
            T0 + i * 1000,
            T0 + (2 * depth - i) * 1000,
            parent_span_id=f"{i:016x}" if i else None,
        )
        for i in range(depth)
    ]


def _names(html: str) -> list[str]:
    return re.findall(r'class="span-link" href="[^"]*">(level-\d+)</a>', html)


def test_a_1500_deep_parent_chain_renders(client: Any, store: Store) -> None:
    depth = 1500
    write_spans(store, store.project_id("default"), _chain(depth))
    r = client.get(f"/ui/traces/{TRACE}")
    assert r.status_code == 200
    shown = min(depth, TRACE_PAGE)
    assert _names(r.text) == [f"level-{i}" for i in range(shown)]  # tree order: each parent first
    assert f'class="depth-8"><a class="span-link" href="/ui/traces/{TRACE}?span={shown:016x}"' in r.text

    # The whole chain as one tree, whatever the page size: depth-first order, each one level deeper.
    with store.read() as conn:
        rows = get_trace_spans(conn, store.project_id("default"), TRACE)
    tree = span_tree(rows)
    assert [s["name"] for s in tree] == [f"level-{i}" for i in range(depth)]
    assert [s["depth"] for s in tree] == list(range(depth))


def test_a_long_trace_shows_one_page_and_links_to_the_rest(client: Any, store: Store) -> None:
    total = TRACE_PAGE + 7
    records = [SpanRecord(TRACE, f"{i:016x}", f"s{i}", T0 + i, T0 + i + 5) for i in range(total)]
    write_spans(store, store.project_id("default"), records)

    first = client.get(f"/ui/traces/{TRACE}")
    assert first.status_code == 200
    shown = re.findall(r'class="span-link" href="[^"]*">(s\d+)</a>', first.text)
    assert len(shown) == TRACE_PAGE
    link = re.search(r'href="([^"]*after=[^"]*)">Next', first.text)
    assert link, "no link to the next spans"

    rest = client.get(link.group(1).replace("&amp;", "&"))
    assert rest.status_code == 200
    more = re.findall(r'class="span-link" href="[^"]*">(s\d+)</a>', rest.text)
    assert len(more) == 7 and not set(more) & set(shown)
    assert set(shown) | set(more) == {f"s{i}" for i in range(total)}
    assert "Next" not in rest.text.split('id="span-page"')[1].split("</p>")[0]


def test_a_short_trace_has_no_page_notice(client: Any, store: Store) -> None:
    write_spans(store, store.project_id("default"), [SpanRecord(TRACE, "1" * 16, "only", T0, T0 + 5)])
    page = client.get(f"/ui/traces/{TRACE}")
    assert page.status_code == 200 and 'id="span-page"' not in page.text
