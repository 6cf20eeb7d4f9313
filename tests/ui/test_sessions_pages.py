"""Session and user pages: the conversation in order with its feedback; a user's traces, feedback, cost."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx

from loopstack.store import Store
from loopstack.store.scores import ScoreInput, ScoreRepository
from loopstack.store.sessions import SessionRepository
from ui.helpers import XSS, add_trace


def _seed(store: Store, project_id: str) -> list[str]:
    t0 = datetime.now(UTC) - timedelta(hours=1)
    ids = []
    for i, (session, user, out) in enumerate(
        [
            ("s-a", "u-1", "first answer"),
            ("s-b", "u-2", "other user"),
            ("s-a", "u-1", XSS),
            ("s-c", "u-1", "third"),
        ]
    ):
        ids.append(
            add_trace(
                store,
                project_id,
                start=t0 + timedelta(minutes=i),
                session=session,
                user=user,
                output=out,
                cost=0.01,
            )
        )
    ScoreRepository(store).add_score(
        ScoreInput(trace_id=ids[2], name="thumbs", value=False, source="user-feedback", comment="wrong")
    )
    return ids


def test_session_page_shows_the_conversation_in_order_with_feedback(
    client: httpx.Client, store: Store, project_id: str
) -> None:
    ids = _seed(store, project_id)
    page = client.get("/ui/sessions/s-a")
    assert page.status_code == 200
    links = re.findall(r'href="/ui/traces/([0-9a-f]+)"', page.text)
    assert links == [ids[0], ids[2]]  # oldest first, only this session's traces
    assert re.findall(r'<pre class="turn-output">([^<]*)</pre>', page.text)[0] == "first answer"
    assert XSS not in page.text and "&lt;script&gt;" in page.text
    assert "thumbs: 0" in page.text and "wrong" in page.text and 'id="n-feedback">1<' in page.text
    assert 'id="total-cost">$0.0200<' in page.text  # two traces, $0.01 each (the model span)
    assert client.get("/ui/sessions/nosuch").status_code == 404


def test_user_page_lists_their_traces_newest_first_with_sessions_and_cost(
    client: httpx.Client, store: Store, project_id: str
) -> None:
    ids = _seed(store, project_id)
    page = client.get("/ui/users/u-1")
    assert page.status_code == 200
    assert re.findall(r'href="/ui/traces/([0-9a-f]+)"', page.text) == [ids[3], ids[2], ids[0]]
    assert 'id="n-traces">3<' in page.text and 'id="total-cost">$0.0300<' in page.text
    assert 'href="/ui/sessions/s-a"' in page.text and 'href="/ui/sessions/s-c"' in page.text
    trace = client.get(f"/ui/traces/{ids[0]}")
    assert 'href="/ui/sessions/s-a" id="session-link"' in trace.text and 'href="/ui/users/u-1"' in trace.text


def test_repository_bounds_a_long_session(store: Store, project_id: str) -> None:
    t0 = datetime.now(UTC) - timedelta(hours=2)
    for i in range(5):
        add_trace(store, project_id, start=t0 + timedelta(minutes=i), session="long", user="u")
    c = SessionRepository(store).session("long", limit=3)
    assert (len(c.turns), c.total_traces, c.truncated) == (3, 5, True)
    assert [t.start_time for t in c.turns] == sorted(t.start_time for t in c.turns)
    assert all(t.spans == 2 and t.tokens == 35 for t in c.turns)
