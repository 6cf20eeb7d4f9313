"""The monitoring pages: forms create through the same checks as the API; errors are shown, not 500s."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from loopstack.store import Store
from loopstack.store.monitoring import AlertRepository, EvaluatorRepository
from loopstack.ui import mount_ui


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    from fastapi import FastAPI

    app = FastAPI()
    mount_ui(app, store)
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def test_create_an_evaluator_and_a_rule_from_the_forms(client: TestClient, store: Store) -> None:
    page = client.get("/ui/monitor")
    assert page.status_code == 200 and "No evaluators yet" in page.text
    made = client.post(
        "/ui/monitor/evaluators",
        data={
            "name": "bugs",
            "scorer": "contains",
            "params": '{"value": "bug"}',
            "sample_rate": "0.25",
            "prompt_name": "triage",
            "on_feedback": "yes",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303
    row = EvaluatorRepository(store).get("bugs")
    assert row["sample_rate"] == 0.25 and row["filter"] == {"prompt_name": "triage"} and row["on_feedback"]
    made = client.post(
        "/ui/monitor/alerts",
        data={
            "name": "errors",
            "metric": "error_rate",
            "fire": "0.1",
            "resolve": "0.05",
            "sustained": "3",
            "log": "yes",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303
    assert AlertRepository(store).get_rule("errors")["spec"]["sustained"] == 3
    page = client.get("/ui/monitor")
    assert "bugs" in page.text and "errors" in page.text and "fire 0.1 / resolve 0.05" in page.text
    detail = client.get(f"/ui/monitor/evaluators/{row['id']}")
    assert detail.status_code == 200 and "Evaluator bugs" in detail.text


def test_a_bad_form_shows_the_reason_and_stores_nothing(client: TestClient, store: Store) -> None:
    bad = client.post(
        "/ui/monitor/evaluators", data={"name": "x", "scorer": "contains", "params": '{"wat": 1}'}
    )
    assert bad.status_code == 400 and "has no parameter" in bad.text
    bad = client.post("/ui/monitor/evaluators", data={"name": "x", "scorer": "contains", "params": "{nope"})
    assert bad.status_code == 400 and "must be a JSON object" in bad.text
    bad = client.post("/ui/monitor/alerts", data={"name": "x", "metric": "error_rate"})
    assert bad.status_code == 400 and "give a fire threshold" in bad.text
    assert EvaluatorRepository(store).list() == [] and AlertRepository(store).list_rules() == []


def test_a_form_posted_from_another_site_is_refused(client: TestClient, store: Store) -> None:
    response = client.post(
        "/ui/monitor/alerts",
        data={"name": "x", "metric": "error_rate", "fire": "0.1"},
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert AlertRepository(store).list_rules() == []
