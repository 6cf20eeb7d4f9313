"""The trace list's "Add N traces to the annotation queue": a same-origin form post of the listed traces."""

from __future__ import annotations

import re

from sqlalchemy import select

from loopstack.store import Store
from loopstack.store.tables import annotation_queue
from ui.helpers import add_trace


def _queued(store: Store) -> list[tuple[str, str]]:
    with store.read() as conn:
        return [
            (str(q), str(t))
            for q, t in conn.execute(select(annotation_queue.c.queue, annotation_queue.c.target_id))
        ]


def test_add_the_filtered_traces_to_the_queue(client, store: Store, project_id: str) -> None:  # type: ignore[no-untyped-def]
    errors = [add_trace(store, project_id, name=f"err{i}", error=True) for i in range(3)]
    add_trace(store, project_id, name="fine")
    page = client.get("/ui/traces?status=error")
    assert page.status_code == 200
    assert "Add 3 traces to the annotation queue" in page.text
    listed = re.findall(r'name="trace_id" value="([0-9a-f]{32})"', page.text)
    back = re.search(r'name="back" value="([^"]*)"', page.text)
    assert sorted(listed) == sorted(errors) and back is not None
    resp = client.post(
        "/ui/annotate/add",
        data={"trace_id": listed, "queue": "errors", "back": back.group(1).replace("&amp;", "&")},
        headers={"origin": "http://testserver"},
        follow_redirects=False,
    )
    assert resp.status_code == 303
    assert resp.headers["location"].startswith("/ui/traces?status=error&queued=3")
    assert sorted(_queued(store)) == sorted(("errors", t) for t in errors)
    shown = client.get(resp.headers["location"])
    assert "Added 3 traces to the annotation queue" in shown.text
    # The queue page now offers them, one at a time.
    assert client.get("/ui/annotate").text.count("errors") >= 1
    review = client.get("/ui/annotate/errors")
    assert review.status_code == 200 and "err" in review.text


def test_adding_again_and_bad_ids_do_not_fail_the_rest(client, store: Store, project_id: str) -> None:  # type: ignore[no-untyped-def]
    t = add_trace(store, project_id)
    origin = {"origin": "http://testserver"}
    first = client.post("/ui/annotate/add", data={"trace_id": [t]}, headers=origin, follow_redirects=False)
    assert first.status_code == 303
    resp = client.post(
        "/ui/annotate/add",
        data={"trace_id": [t, "nonsense"], "back": "https://evil.test/"},
        headers=origin,
        follow_redirects=False,
    )
    assert resp.status_code == 303
    assert resp.headers["location"] == "/ui/traces?queued=0&already=1&rejected=1&queue=default"
    assert _queued(store) == [("default", t)]
    empty = client.post("/ui/annotate/add", data={}, headers=origin)
    assert empty.status_code == 400 and "no traces" in empty.text


def test_the_add_form_refuses_another_origin(client, store: Store, project_id: str) -> None:  # type: ignore[no-untyped-def]
    t = add_trace(store, project_id)
    resp = client.post(
        "/ui/annotate/add",
        data={"trace_id": [t]},
        headers={"origin": "http://evil.test"},
        follow_redirects=False,
    )
    assert resp.status_code == 403
    assert _queued(store) == []


def test_odd_queue_and_item_names_are_4xx(client, store: Store, project_id: str) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/ui/annotate/a%00b").status_code == 400
    assert client.get("/ui/annotate/default?after=%00").status_code == 200
    origin = {"origin": "http://testserver"}
    judged = client.post("/ui/annotate/default/%00", data={"verdict": "accept"}, headers=origin)
    assert judged.status_code == 404
    skipped = client.post(
        "/ui/annotate/default/%00", data={"verdict": "next"}, headers=origin, follow_redirects=False
    )
    assert skipped.status_code == 303
