"""The playground page: a grid of draft and stored versions × models, stored as playground runs; bad
input in place with nothing stored; saving the draft as a new version after the diff."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from loopstack.models import forget_models, get_model
from loopstack.prompts import PromptRegistry
from loopstack.store import Store
from loopstack.store.datasets import DatasetItem, DatasetRepository
from loopstack.store.experiments import ExperimentRepository
from loopstack.store.runs import RunRepository
from ui.helpers import XSS, add_prompt_versions


@pytest.fixture(autouse=True)
def _models() -> Iterator[None]:
    forget_models()
    # mock/a answers "bug" whatever it is asked; mock/b repeats the review's first word
    get_model("mock/a", fn=lambda r: "bug")
    get_model("mock/b", fn=lambda r: r.messages[-1].content.split()[-1])
    yield
    forget_models()


def _reviews(store: Store) -> None:
    DatasetRepository(store).push(
        "reviews",
        [
            DatasetItem(key="r1", input={"review": "crash bug"}, expected="bug"),
            DatasetItem(key="r2", input={"review": "love praise"}, expected="praise"),
            DatasetItem(key="r3", input={"review": f"odd {XSS}"}, expected="question"),
            DatasetItem(key="r4", input={"review": "not chosen"}, expected="bug"),
        ],
    )


def _form(**changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "name": "triage",
        "parent": "3",
        "role_0": "system",
        "content_0": "Label the review with one word.",
        "role_1": "user",
        "content_1": "Review: {{ review }}",
        "draft": "yes",
        "version": ["1"],
        "models": "mock/a\nmock/b",
        "source": "dataset",
        "dataset": "reviews",
        "items": "r1, r2, r3",
        "scorers": "exact_match",
        "action": "run",
    }
    form.update(changes)
    return form


def test_playground_starts_from_a_version(client: httpx.Client, store: Store) -> None:
    add_prompt_versions(store)
    page = client.get("/ui/playground", params={"prompt": "triage", "version": "2"})
    assert page.status_code == 200
    assert "Classify the review as bug or praise." in page.text and 'id="pg-version-3"' in page.text
    assert "review=" in page.text  # the template's variable, ready to type
    assert client.get("/ui/playground", params={"prompt": "nosuch"}).status_code == 404
    assert client.get("/ui/playground").status_code == 200  # a blank draft


def test_run_two_versions_on_two_models_over_three_items(client: httpx.Client, store: Store) -> None:
    add_prompt_versions(store)
    _reviews(store)
    page = client.post("/ui/playground", data=_form())
    assert page.status_code == 200, page.text[:2000]
    grid = page.text.split('id="pg-grid"', 1)[1]
    heads = re.findall(r"<th><a [^>]*>([^<]+)</a></th>", grid)
    assert heads == ["draft · mock/a", "draft · mock/b", "v1 · mock/a", "v1 · mock/b"]
    assert re.findall(r'class="item-key">([^<]+)<', grid) == ["r1", "r2", "r3"]
    outputs = re.findall(r'<pre class="pg-output">([^<]*)</pre>', grid)
    assert outputs[:4] == ["bug", "bug", "bug", "bug"] and outputs[5] == "praise"
    assert "exact_match: 1" in grid and "exact_match: 0" in grid and "out tokens" in grid
    assert XSS not in page.text
    runs = RunRepository(store).list_runs()
    assert len(runs) == 4 and {r.config["kind"] for r in runs} == {"playground"}
    assert all(RunRepository(store).count_items(r.id) == 3 for r in runs)
    assert {(r.prompt_version, r.model) for r in runs} == {
        (0, "mock/a"),
        (0, "mock/b"),
        (1, "mock/a"),
        (1, "mock/b"),
    }
    exp = ExperimentRepository(store).query("model=mock/b version=0")
    assert exp.total == 1 and exp.experiments[0].kind == "playground"
    assert exp.experiments[0].value("exact_match") == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"models": "openai/gpt-4o-mini"},
            "model openai/gpt-4o-mini: openai: no API key; set OPENAI_API_KEY",
        ),
        (
            {"source": "typed", "variables": "review=hi\ntone=warm"},
            "variable 'tone' is not used by the template",
        ),
        ({"source": "typed", "variables": ""}, "the template needs variable 'review'"),
        ({"items": "r1, nope"}, "no item 'nope'"),
        ({"models": "nosuchprovider/x"}, "nosuchprovider"),
        ({"content_1": "Review: {{ review"}, "draft: messages[1].content: template syntax error"),
        ({"temperature": "hot"}, "temperature: 'hot' is not a number"),
    ],
)
def test_bad_input_is_shown_in_place_and_nothing_is_stored(
    client: httpx.Client, store: Store, monkeypatch: pytest.MonkeyPatch, changes: dict[str, Any], message: str
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    add_prompt_versions(store)
    _reviews(store)
    page = client.post("/ui/playground", data=_form(**changes))
    assert page.status_code == 400
    error = re.search(r'<p class="error" id="playground-error">([^<]*)</p>', page.text)
    assert error is not None and message in error.group(1).replace("&#39;", "'")
    assert 'id="pg-content-1"' in page.text  # the form is still there, as typed
    assert RunRepository(store).list_runs() == []


def test_save_draft_shows_the_diff_then_saves_and_attributes_the_draft_runs(
    client: httpx.Client, store: Store
) -> None:
    add_prompt_versions(store)
    _reviews(store)
    ran = client.post("/ui/playground", data=_form())
    draft_runs = re.search(r'name="draft_runs" value="([^"]*)"', ran.text)
    assert draft_runs is not None and len(draft_runs.group(1).split(",")) == 2
    confirm = client.post("/ui/playground", data=_form(action="save", draft_runs=draft_runs.group(1)))
    assert confirm.status_code == 200 and "What changes against v3" in confirm.text
    assert "+Label the review with one word." in confirm.text.replace("&#43;", "+")
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', confirm.text))
    import html

    fields = {k: html.unescape(v) for k, v in fields.items()}
    assert PromptRegistry(store).labels("triage")["production"] == 1
    refused = client.post(
        "/ui/playground/save", data={**fields, "message": "one word", "label": "production"}
    )
    assert refused.status_code == 400 and "tick the confirmation box" in refused.text
    assert len(PromptRegistry(store).versions("triage")) == 3  # nothing saved
    saved = client.post(
        "/ui/playground/save",
        data={**fields, "message": "one word", "label": "production", "confirm": "yes"},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/ui/prompts/triage/versions/4?saved=1"
    reg = PromptRegistry(store)
    v4 = reg.get("triage", version=4)
    assert v4.messages[0]["content"] == "Label the review with one word." and v4.message == "one word"
    assert reg.labels("triage")["production"] == 4
    page = client.get("/ui/prompts/triage/versions/4")
    assert page.text.count("playground") >= 2  # the two draft runs now belong to v4
    assert {e.run.model for e in ExperimentRepository(store).for_prompt_version("triage", 4)} == {
        "mock/a",
        "mock/b",
    }


def test_saving_an_unchanged_draft_is_refused(client: httpx.Client, store: Store) -> None:
    add_prompt_versions(store)
    v3 = PromptRegistry(store).get("triage", version=3)
    form = _form(content_0=v3.messages[0]["content"], content_1=v3.messages[1]["content"], action="save")
    page = client.post("/ui/playground", data=form)
    assert page.status_code == 400 and "nothing to save: the draft is identical to triage@3" in page.text
    assert len(PromptRegistry(store).versions("triage")) == 3
