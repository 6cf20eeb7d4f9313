"""What a version keeps: its own description (also across the 0006 migration) and checked params."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from loopstack.errors import InvalidInput
from loopstack.models import ModelRequest
from loopstack.prompts import PromptRegistry
from loopstack.prompts._content import REQUEST_PARAMS
from loopstack.prompts.files import load_prompt_text
from loopstack.store import Store, utcnow
from loopstack.store.migrate import upgrade
from loopstack.store.tables import projects, prompt_versions, prompts

USER = {"role": "user", "content": "Review: {{ review }}"}


def test_each_version_keeps_its_own_description(store: Store) -> None:
    reg = PromptRegistry(store)
    reg.push("triage", [USER], description="v1: plain instruction")
    reg.push("triage", [USER, {"role": "user", "content": "JSON please"}], description="v2: asks for JSON")
    reg.push("triage", [{"role": "user", "content": "Short: {{ review }}"}])  # no description given

    assert reg.get("triage", version=1).description == "v1: plain instruction"
    assert reg.get("triage", version=2).description == "v2: asks for JSON"
    assert reg.get("triage", version=3).description == "v2: asks for JSON"  # kept from the latest
    assert [v.description for v in reg.versions("triage")][:2] == [
        "v1: plain instruction",
        "v2: asks for JSON",
    ]
    (summary,) = reg.list_prompts()
    assert summary.description == "v2: asks for JSON"


def test_migration_copies_the_prompt_description_into_existing_versions(empty_url: str) -> None:
    url = empty_url
    old = Store(url, migrate=False)
    upgrade(old, "0004")
    now = utcnow()
    with old.write() as conn:
        conn.execute(insert(projects).values(id="p1", name="default", created_at=now))
        conn.execute(
            insert(prompts).values(
                id="t1", project_id="p1", name="triage", description="Triage", created_at=now
            )
        )
        for v in (1, 2):  # only the columns the 0004 schema has: the insert names no description
            conn.execute(
                insert(prompt_versions).values(
                    id=f"v{v}",
                    prompt_id="t1",
                    version=v,
                    messages=[USER],
                    config={"model": None, "params": {}},
                    content_hash=f"h{v}",
                    created_at=now,
                )
            )
    old.close()

    new = Store(url)  # upgrades to head
    reg = PromptRegistry(new)
    assert [v.description for v in reg.versions("triage")] == ["Triage", "Triage"]
    with new.read() as conn:
        stored = conn.execute(select(prompt_versions.c.description).order_by(prompt_versions.c.version))
        assert [r[0] for r in stored] == ["Triage", "Triage"]
        assert conn.execute(select(prompts.c.description)).scalar() == "Triage"  # nothing dropped
    new.close()


def test_the_known_params_are_the_model_request_fields() -> None:
    not_params = {
        "messages",
        "prompt_name",
        "prompt_version",
        "prompt_variables",
        "epoch",
        "rollout_id",
        "rollout_arm",
    }
    assert set(REQUEST_PARAMS) == set(ModelRequest.model_fields) - not_params


def test_a_misspelt_param_is_refused_at_push_with_a_suggestion(store: Store) -> None:
    reg = PromptRegistry(store)
    with pytest.raises(
        InvalidInput,
        match=r"params.temprature: unknown parameter 'temprature' \(did you mean 'temperature'\?\)",
    ):
        reg.push("triage", [USER], params={"temprature": 0})
    with pytest.raises(InvalidInput, match=r"params.max_tokens: must be a whole number > 0, got '5'"):
        reg.push("triage", [USER], params={"max_tokens": "5"})
    assert reg.list_prompts() == []
    assert reg.push("triage", [USER], params={"temperature": 0, "max_tokens": 5, "stop": ["\n"]}).version == 1


def test_a_misspelt_param_in_a_file_names_the_file_and_line() -> None:
    text = "name: triage\nmessages:\n  - {role: user, content: hi}\nparams:\n  max_token: 5\n"
    with pytest.raises(
        InvalidInput,
        match=r"^p.yaml:5: params.max_token: unknown parameter 'max_token' \(did you mean 'max_tokens'\?\)",
    ):
        load_prompt_text(text, "p.yaml")


@pytest.mark.parametrize(
    ("label", "similar"),
    [
        ("prod", "production"),
        ("prodution", "production"),
        ("Staging", "staging"),
        ("stage", "staging"),
        ("canary", None),
        ("beta", None),
        ("qa", None),
        ("staging", None),  # the label itself is not a lookalike
    ],
)
def test_lookalike_labels(label: str, similar: str | None) -> None:
    from loopstack.prompts.registry import lookalike_label

    assert lookalike_label(label, ["production", "staging"]) == similar
