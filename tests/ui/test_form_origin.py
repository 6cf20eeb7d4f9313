"""The CSRF check of form posts: ``Origin: null`` (sandboxed frames, data: URLs) is refused."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from loopstack.store import Store
from loopstack.store.tables import scores
from ui.helpers import add_trace


def test_a_form_post_with_origin_null_is_refused(client: Any, store: Store) -> None:
    trace_id = add_trace(store, store.project_id("default"))
    form = {"kind": "feedback", "value": "1"}
    r = client.post(f"/ui/traces/{trace_id}/scores", data=form, headers={"Origin": "null"})
    assert r.status_code == 403 and "Origin: null" in r.json()["detail"]
    login = client.post("/ui/login", data={"key": "k"}, headers={"Origin": "null"}, follow_redirects=False)
    assert login.status_code == 403 and "set-cookie" not in login.headers
    with store.read() as conn:
        assert conn.execute(select(scores.c.id)).first() is None

    same = client.post(
        f"/ui/traces/{trace_id}/scores",
        data=form,
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert same.status_code == 303
    with store.read() as conn:
        assert len(conn.execute(select(scores.c.id)).all()) == 1
