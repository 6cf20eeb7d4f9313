"""Values the database cannot hold are a 4xx that names the field, never a 500 (found by schemathesis):
whole numbers of 2^63 and more, and times that fall outside years 1..9999 once in UTC."""

from __future__ import annotations

import base64

import httpx
import pytest

from loopstack.prompts import PromptRegistry
from loopstack.store import Store

HUGE = str(2**63)
PG_OVERFLOW = str(2**31)  # an INTEGER column on PostgreSQL holds up to 2^31 - 1
EARLY = "0001-01-01T00:00:00+01:00"
LATE = "9999-12-31T23:59:59-01:00"


def _cursor(stamp: str, key: str = "a" * 16) -> str:
    return base64.urlsafe_b64encode(f"{stamp}|{key}".encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/traces", {"prompt_version": HUGE}),
        ("/api/traces", {"prompt_version": PG_OVERFLOW}),
        ("/api/spans", {"prompt_version": HUGE}),
        ("/api/traces", {"offset": HUGE}),
        ("/api/spans", {"offset": HUGE}),
        ("/api/scores", {"offset": HUGE}),
        ("/api/traces", {"start": EARLY}),
        ("/api/traces", {"end": LATE}),
        ("/api/spans", {"start": EARLY}),
        ("/api/scores", {"start": EARLY}),
        ("/api/scores", {"end": LATE}),
        ("/api/traces", {"start": "2026-01-01T00:00:00"}),  # no zone
        ("/api/traces", {"min_latency_ms": "nan"}),
        ("/api/prompts/triage", {"version": HUGE}),
        ("/api/prompts/triage", {"version": PG_OVERFLOW}),
        ("/api/datasets/qa", {"version": HUGE}),
        ("/api/traces/" + "a" * 32, {"cursor": _cursor(EARLY)}),
        ("/api/traces/" + "a" * 32, {"cursor": _cursor(LATE)}),
        ("/api/traces/" + "a" * 32, {"cursor": "not-a-cursor"}),
    ],
)
async def test_out_of_range_query_values_are_a_4xx(
    client: httpx.AsyncClient, store: Store, path: str, params: dict[str, str]
) -> None:
    PromptRegistry(store, "default").push("triage", [{"role": "user", "content": "Hi"}])
    response = await client.get(path, params=params)
    assert 400 <= response.status_code < 500, response.text
    (field,) = params
    assert field in response.text


async def test_an_out_of_range_label_target_is_a_4xx(client: httpx.AsyncClient, store: Store) -> None:
    PromptRegistry(store, "default").push("triage", [{"role": "user", "content": "Hi"}])
    for target in (2**63, 2**31):
        response = await client.put("/api/prompts/triage/labels/production", json={"target": target})
        assert response.status_code == 422, response.text
    assert (await client.put("/api/prompts/triage/labels/production", json={"target": 1})).status_code == 200


async def test_in_range_extremes_still_work(client: httpx.AsyncClient) -> None:
    for params in ({"start": "0001-01-01T00:00:00Z"}, {"end": "9999-12-31T23:59:59Z"}, {"offset": "0"}):
        response = await client.get("/api/traces", params=params)
        assert response.status_code == 200, response.text


async def test_the_openapi_document_declares_the_error_responses(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path, method in [
        ("/api/traces", "get"),
        ("/api/traces/{trace_id}", "get"),
        ("/api/prompts/{name}", "get"),
        ("/api/prompts", "post"),
        ("/api/datasets/{name}", "get"),
        ("/api/runs/{run_id}", "get"),
    ]:
        declared = set(paths[path][method]["responses"])
        assert {"400", "401", "404", "422"} <= declared, (path, declared)


async def test_an_empty_label_parameter_means_no_label(client: httpx.AsyncClient, store: Store) -> None:
    PromptRegistry(store, "default").push("triage", [{"role": "user", "content": "Hi"}])
    response = await client.get("/api/prompts/triage", params={"label": "", "version": 1})
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 1
