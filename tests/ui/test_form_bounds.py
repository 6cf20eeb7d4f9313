"""Query values the database cannot hold are a 400 on the pages too (schemathesis found 500s)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from loopstack.store import Store

HUGE = str(2**63)


def _cursor(stamp: str) -> str:
    return base64.urlsafe_b64encode(f"{stamp}|x".encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "url",
    [
        f"/ui/traces?prompt=a@{HUGE}",
        f"/ui/traces?prompt=a@{2**31}",
        "/ui/traces?start=0001-01-01T00:00:00%2B01:00",
        "/ui/traces?end=9999-12-31T23:59:59-01:00",
        f"/ui/traces?cursor={_cursor('0001-01-01T00:00:00+01:00')}",
        f"/ui/traces?cursor={_cursor('9999-12-31T23:59:59-01:00')}",
        "/ui/?start=0001-01-01T00:00:00%2B01:00",
        f"/ui/datasets/qa?version={HUGE}",
        f"/ui/traces/{'a' * 32}?after={_cursor('0001-01-01T00:00:00+01:00')}",
    ],
)
def test_out_of_range_values_are_a_400(client: Any, store: Store, url: str) -> None:
    from loopstack.store.datasets import DatasetItem, DatasetRepository

    DatasetRepository(store, "default").push("qa", [DatasetItem("q1", {"q": "hi"}, "hello")])
    r = client.get(url)
    assert r.status_code == 400, (url, r.text)
    assert "range" in r.json()["detail"] or "cursor" in r.json()["detail"] or "after" in r.json()["detail"]
