"""The pages over HTTP: filters, pagination, forms, escaping and the security headers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from loopstack.store import Store
from loopstack.store.scores import ScoreInput, ScoreRepository
from loopstack.store.tables import scores
from ui.helpers import XSS, add_trace

NOW = datetime.now(UTC)


def _trace_ids(html: str) -> list[str]:
    return re.findall(r'class="trace-link" href="/ui/traces/([0-9a-f]{32})"', html)


def test_every_page_sends_a_strict_csp_and_loads_no_inline_script(client: Any, store: Store) -> None:
    pid = store.project_id("default")
    trace_id = add_trace(store, pid)
    for url in [
        "/ui/",
        "/ui/traces",
        f"/ui/traces/{trace_id}",
        "/ui/prompts",
        "/ui/datasets",
        "/ui/runs",
        "/ui/annotate",
        "/ui/compare",
    ]:
        r = client.get(url)
        assert r.status_code == 200, url
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", r.text) == [], url


def test_model_output_is_escaped_everywhere(client: Any, store: Store) -> None:
    pid = store.project_id("default")
    trace_id = add_trace(store, pid, name=XSS, output=XSS, messages=[{"role": "user", "content": XSS}])
    for url in [f"/ui/traces/{trace_id}", "/ui/traces", f"/ui/traces/{trace_id}?span=zzz"]:
        html = client.get(url).text
        assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(f"/ui/traces/{trace_id}").text


def test_trace_list_filters(client: Any, store: Store) -> None:
    pid = store.project_id("default")
    a = add_trace(store, pid, model="openai/gpt-4o", session="s-a", user="u-a", output="refund please")
    b = add_trace(store, pid, model="local/x", error=True, session="s-b", prompt=("triage", 2))
    c = add_trace(store, pid, start=NOW - timedelta(days=3), session="s-c")
    ScoreRepository(store).add_score(
        ScoreInput(trace_id=b, name="feedback", value="down", source="user-feedback")
    )
    ScoreRepository(store).add_score(ScoreInput(trace_id=c, name="helpfulness", value=0.2, source="llm"))

    def ids(query: str) -> set[str]:
        r = client.get(f"/ui/traces?{query}")
        assert r.status_code == 200, r.text
        return set(_trace_ids(r.text))

    assert ids("") == {a, b, c}
    assert ids("model=openai/gpt-4o") == {a}
    assert ids("status=error") == {b}
    assert ids("status=ok") == {a, c}
    assert ids("model=local/x&status=error") == {b}  # model and error on the same span
    assert ids("model=openai/gpt-4o&status=error") == set()
    assert ids("prompt=triage@2") == {b}
    assert ids("prompt=triage") == {a, b, c}
    assert ids("session=s-a") == {a}
    assert ids("user=u-a") == {a}
    assert ids("since=24h") == {a, b}
    assert ids("negative=1") == {b}
    assert ids("score_name=helpfulness&score_below=0.5") == {c}
    assert ids("score_below=0.1") == {b}  # the thumbs-down is a 0
    assert ids("text=refund") == {a}
    assert ids("text=50%25") == set()  # LIKE wildcards in the search are literal


def test_keyset_pagination_walks_every_trace_once(client: Any, store: Store) -> None:
    pid = store.project_id("default")
    made = {add_trace(store, pid, start=NOW - timedelta(minutes=i)) for i in range(57)}
    first = client.get("/ui/traces?model=openai/gpt-4o-mini")
    page1 = _trace_ids(first.text)
    cursor = re.search(r'id="next-page" href="([^"]+)"', first.text)
    assert len(page1) == 50 and cursor
    second = client.get(cursor.group(1).replace("&amp;", "&"))
    page2 = _trace_ids(second.text)
    assert len(page2) == 7 and 'id="next-page"' not in second.text
    assert set(page1) | set(page2) == made and not set(page1) & set(page2)
    assert "model=openai%2Fgpt-4o-mini" in cursor.group(1)  # filters stay in the shareable URL


def test_bad_input_is_a_clear_4xx(client: Any, store: Store) -> None:
    r = client.get("/ui/traces?cursor=notacursor")
    assert r.status_code == 400 and "cursor" in r.json()["detail"]
    assert client.get("/ui/traces?status=maybe").status_code == 400
    assert client.get("/ui/traces?score_below=low").status_code == 400
    assert client.get("/ui/traces/" + "0" * 32).status_code == 404
    assert client.get("/ui/prompts/nope").status_code == 404
    assert client.get("/ui/runs/nope").status_code == 404
    assert client.get("/ui/datasets/nope").status_code == 404


def test_feedback_and_scores_from_the_trace_page_are_human_scores(client: Any, store: Store) -> None:
    pid = store.project_id("default")
    trace_id = add_trace(store, pid)
    r = client.post(
        f"/ui/traces/{trace_id}/scores",
        data={"kind": "feedback", "value": "0", "comment": "wrong"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    client.post(f"/ui/traces/{trace_id}/scores", data={"kind": "score", "name": "tone", "value": "0.4"})
    client.post(f"/ui/traces/{trace_id}/scores", data={"kind": "correction", "correction": "bug"})
    with store.read() as conn:
        rows = conn.execute(
            select(scores.c.name, scores.c.value, scores.c.string_value, scores.c.source, scores.c.comment)
            .where(scores.c.trace_id == trace_id)
            .order_by(scores.c.created_at)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("feedback", 0.0, None, "human", "wrong"),
        ("tone", 0.4, None, "human", None),
        ("correction", None, "bug", "human", None),
    ]
    assert (
        client.post(f"/ui/traces/{trace_id}/scores", data={"kind": "score", "name": "x"}).status_code == 400
    )


def test_form_posts_from_another_origin_are_refused(client: Any, store: Store) -> None:
    pid = store.project_id("default")
    trace_id = add_trace(store, pid)
    r = client.post(
        f"/ui/traces/{trace_id}/scores",
        data={"kind": "feedback", "value": "1"},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403
    with store.read() as conn:
        assert conn.execute(select(scores.c.id)).first() is None


def test_compare_page_says_no_interval_instead_of_nan(client: Any, store: Store) -> None:
    """Three items of a continuous score are too few for an interval: the page says so (it printed +nan)."""
    from loopstack.store.runs import ItemResult, RunRepository, ScoreRow

    repo = RunRepository(store, "default")
    runs = [
        repo.create_run(config={}, name=n, prompt_name="p", prompt_version=1, model="mock/a") for n in "ab"
    ]
    for i, (u, v) in enumerate([(0.2, 0.4), (0.5, 0.9), (0.7, 0.6)]):
        for run, value in zip(runs, (u, v), strict=True):
            repo.save_item(
                run.id,
                ItemResult(
                    item_key=f"i{i}", epoch=0, input={}, expected=None, output="x",
                    scores=[ScoreRow(name="quality", value=value)],
                ),
            )  # fmt: skip
    html = client.get(f"/ui/compare?a={runs[0].id}&b={runs[1].id}").text
    row = html.split('id="paired"', 1)[1].split("</table>", 1)[0]
    assert "nan" not in row.lower()
    assert "no interval" in row and "+0.167" in row and "too few items" in row
