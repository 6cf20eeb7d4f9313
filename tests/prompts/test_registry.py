"""The registry on both dialects: versions, dedupe, labels, rollback, history, diff, clear errors."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from loopstack.errors import InvalidInput, NotFound
from loopstack.prompts import PromptRegistry
from loopstack.store import Store
from loopstack.store.tables import prompt_label_events, prompt_versions

SYSTEM = {"role": "system", "content": "Classify the review as positive or negative."}
USER = {"role": "user", "content": "Review: {{ review }}"}


def _push(reg: PromptRegistry, system: str = SYSTEM["content"], **kw: object) -> int:
    msgs = [{"role": "system", "content": system}, USER]
    return reg.push("triage", msgs, model="openai/gpt-4o-mini", **kw).version  # type: ignore[arg-type]


def _count(store: Store, table: object) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_versions_are_numbered_and_identical_content_is_not_stored_twice(store: Store) -> None:
    reg = PromptRegistry(store)
    first = reg.push("triage", [SYSTEM, USER], model="openai/gpt-4o-mini", params={"temperature": 0})
    again = reg.push("triage", [SYSTEM, USER], model="openai/gpt-4o-mini", params={"temperature": 0})
    changed = reg.push("triage", [SYSTEM, USER], model="openai/gpt-4o-mini", params={"temperature": 0.5})
    assert (first.version, first.created) == (1, True)
    assert (again.version, again.created) == (1, False)
    assert (changed.version, changed.created) == (2, True)
    assert _count(store, prompt_versions) == 2
    # Identical to v1 again: still v1, even though v2 is the latest.
    back = reg.push("triage", [SYSTEM, USER], model="openai/gpt-4o-mini", params={"temperature": 0})
    assert (back.version, back.created) == (1, False)
    assert [v.version for v in reg.versions("triage")] == [1, 2]


def test_fetch_defaults_to_production_and_explains_a_missing_label(store: Store) -> None:
    reg = PromptRegistry(store)
    _push(reg, "one")
    _push(reg, "two")
    _push(reg, "three")
    with pytest.raises(NotFound) as err:
        reg.get("triage")
    assert str(err.value) == (
        "prompt 'triage' has no 'production' label; versions 1..3 exist — label one with "
        "`loopstack prompt label triage production 3`"
    )
    reg.set_label("triage", "production", 2)
    got = reg.get("triage")
    assert (got.version, got.messages[0]["content"], got.model) == (2, "two", "openai/gpt-4o-mini")
    assert reg.get("triage", label="latest").version == 3
    assert reg.get("triage", version=1).messages[0]["content"] == "one"
    assert reg.resolve("triage", "v3").version == 3


def test_label_moves_rollback_and_history(store: Store) -> None:
    reg = PromptRegistry(store)
    _push(reg, "one", message="first", author="ana")
    _push(reg, "two", message="sharper", author="bo")
    assert reg.set_label("triage", "production", 1, author="ana").from_version is None
    move = reg.set_label("triage", "production", 2, author="bo", message="ship it")
    assert (move.from_version, move.to_version) == (1, 2)
    assert reg.get("triage").version == 2

    back = reg.rollback("triage", author="cy")
    assert (back.from_version, back.to_version) == (2, 1)
    assert reg.get("triage").version == 1
    assert reg.labels("triage") == {"production": 1}

    hist = reg.history("triage")
    assert [(h.kind, h.version, h.label, h.from_version, h.to_version, h.author) for h in hist] == [
        ("label", None, "production", 2, 1, "cy"),
        ("label", None, "production", 1, 2, "bo"),
        ("label", None, "production", None, 1, "ana"),
        ("version", 2, None, None, None, "bo"),
        ("version", 1, None, None, None, "ana"),
    ]
    assert hist[0].message == "rollback from v2"
    assert hist[1].message == "ship it"
    assert _count(store, prompt_label_events) == 3


def test_moving_a_label_where_it_already_points_logs_nothing(store: Store) -> None:
    reg = PromptRegistry(store)
    _push(reg)
    reg.set_label("triage", "production", 1)
    again = reg.set_label("triage", "production", "latest")
    assert (again.from_version, again.to_version) == (1, 1)
    assert _count(store, prompt_label_events) == 1


def test_label_can_copy_another_label(store: Store) -> None:
    reg = PromptRegistry(store)
    _push(reg, "one")
    _push(reg, "two", labels=["staging"])
    reg.set_label("triage", "production", "staging")
    assert reg.labels("triage") == {"production": 2, "staging": 2}


def test_push_moves_labels_named_in_the_push(store: Store) -> None:
    reg = PromptRegistry(store)
    res = reg.push("triage", [SYSTEM, USER], labels=["staging"])
    assert [(m.label, m.from_version, m.to_version) for m in res.label_moves] == [("staging", None, 1)]
    again = reg.push("triage", [SYSTEM, USER], labels=["staging"])
    assert again.label_moves == []


def test_bad_requests_name_the_thing(store: Store) -> None:
    reg = PromptRegistry(store)
    with pytest.raises(NotFound, match="unknown prompt 'nope' in project 'default'"):
        reg.get("nope")
    _push(reg)
    with pytest.raises(NotFound, match="prompt 'triage' has no version 9; version 1 exists"):
        reg.get("triage", version=9)
    with pytest.raises(NotFound, match=r"cannot label triage@5 as 'production'.*version 1 exists"):
        reg.set_label("triage", "production", 5)
    with pytest.raises(InvalidInput, match="'latest' always means the highest version"):
        reg.set_label("triage", "latest", 1)
    with pytest.raises(NotFound, match="known: triage"):
        reg.set_label("other", "production", 1)
    with pytest.raises(NotFound, match="no 'production' label to roll back"):
        reg.rollback("triage")
    reg.set_label("triage", "production", 1)
    with pytest.raises(InvalidInput, match="only ever pointed at v1"):
        reg.rollback("triage")
    with pytest.raises(InvalidInput, match=r"messages\[0\].role: unknown role 'bot'"):
        reg.push("triage", [{"role": "bot", "content": "hi"}])
    with pytest.raises(InvalidInput, match=r"messages\[0\].content: template syntax error on line 1"):
        reg.push("triage", [{"role": "user", "content": "{{ oops }"}])
    assert _count(store, prompt_versions) == 1


def test_diff_shows_message_text_and_config_changes(store: Store) -> None:
    reg = PromptRegistry(store)
    reg.push("triage", [SYSTEM, USER], model="openai/gpt-4o-mini", params={"temperature": 0})
    reg.push(
        "triage",
        [{"role": "system", "content": "Classify the review. Answer in one word."}, USER],
        model="local/smollm2-135m",
        params={"temperature": 0, "max_tokens": 5},
    )
    d = reg.diff("triage", 1, "latest")
    assert [m.status for m in d.messages] == ["changed", "unchanged"]
    assert "-Classify the review as positive or negative." in d.messages[0].diff
    assert "+Classify the review. Answer in one word." in d.messages[0].diff
    assert [(c.key, c.before, c.after) for c in d.config] == [
        ("model", "openai/gpt-4o-mini", "local/smollm2-135m"),
        ("params.max_tokens", None, 5),
    ]
    assert not d.identical
    assert reg.diff("triage", 2, 2).identical


def test_list_shows_latest_and_labels(store: Store) -> None:
    reg = PromptRegistry(store)
    assert reg.list_prompts() == []
    reg.push("triage", [SYSTEM, USER], description="Classify reviews")
    reg.push("triage", [USER])
    reg.push("summarise", [USER], labels=["production"])
    rows = {s.name: s for s in reg.list_prompts()}
    assert (rows["triage"].latest, rows["triage"].description, rows["triage"].labels) == (
        2,
        "Classify reviews",
        {},
    )
    assert rows["summarise"].labels == {"production": 1}


def test_projects_are_separate(store: Store) -> None:
    PromptRegistry(store, "a").push("triage", [USER])
    with pytest.raises(NotFound, match="in project 'b'"):
        PromptRegistry(store, "b").get("triage", label="latest")


def test_a_version_survives_a_json_round_trip(store: Store) -> None:
    import json

    from loopstack.prompts import PromptVersion

    reg = PromptRegistry(store)
    reg.push("triage", [SYSTEM, USER], model="m/x", params={"temperature": 0}, message="hi", author="ana")
    pv = reg.get("triage", version=1)
    again = PromptVersion.from_dict(json.loads(json.dumps(pv.to_dict())))
    assert again == pv
    assert again.render(review="ok")[1]["content"] == "Review: ok"
