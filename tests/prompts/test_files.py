"""The prompt YAML format: parse, validate with file:line errors, and dump back losslessly."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopstack.errors import InvalidInput
from loopstack.prompts import PromptRegistry, dump_prompt, load_prompt_files, load_prompt_text
from loopstack.store import Store

TRIAGE = """\
name: triage
description: Classify app reviews
messages:
  - role: system
    content: |
      You label app reviews.
      Answer with one word.
  - role: user
    content: "Review: {{ review }}"
model: local/smollm2-135m
params: {temperature: 0, max_tokens: 200}
message: first version
labels: [staging]
"""


def test_parses_every_field() -> None:
    [spec] = load_prompt_text(TRIAGE, "prompts/triage.yaml")
    assert spec.name == "triage"
    assert spec.description == "Classify app reviews"
    assert spec.messages == [
        {"role": "system", "content": "You label app reviews.\nAnswer with one word.\n"},
        {"role": "user", "content": "Review: {{ review }}"},
    ]
    assert (spec.model, spec.params) == ("local/smollm2-135m", {"temperature": 0, "max_tokens": 200})
    assert (spec.message, spec.labels, spec.source) == (
        "first version",
        ("staging",),
        "prompts/triage.yaml:1",
    )


def test_several_documents_in_one_file() -> None:
    text = "name: a\nmessages: [{role: user, content: hi}]\n---\n"
    text += "name: b\nmessages: [{role: user, content: yo}]\n"
    assert [s.name for s in load_prompt_text(text, "x.yaml")] == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("name: triage\nmessages: [\n", "bad.yaml:3: invalid YAML"),
        ("name: triage\ndescription: x\n", "bad.yaml:1: missing required field 'messages'"),
        ("messages: [{role: user, content: hi}]\n", "bad.yaml:1: missing required field 'name'"),
        (
            "name: triage\nmessages:\n  - role: user\n    content: hi\n  - content: yo\n",
            "bad.yaml:5: messages[1]: missing required field 'role'",
        ),
        (
            "name: triage\nmessages:\n  - role: user\n    content: '{{ x }'\n",
            "bad.yaml:4: messages[0].content: template syntax error on line 1",
        ),
        ("name: Triage!\nmessages: [{role: user, content: hi}]\n", "bad.yaml:1: name: invalid prompt name"),
        (
            "name: t\nmessages: [{role: user, content: hi}]\ntemprature: 1\n",
            "bad.yaml:3: unknown field 'temprature'",
        ),
        (
            "name: t\nmessages: [{role: user, content: hi}]\nparams: [1]\n",
            "bad.yaml:3: params: must be a mapping",
        ),
        ("name: t\nmessages: [{role: user, content: hi}]\nlabels: [latest]\n", "bad.yaml:3: labels[0]"),
    ],
)
def test_errors_name_file_line_and_field(text: str, error: str) -> None:
    with pytest.raises(InvalidInput) as err:
        load_prompt_text(text, "bad.yaml")
    assert str(err.value).startswith(error), str(err.value)


def test_directories_expand_to_their_yaml_files(tmp_path: Path) -> None:
    (tmp_path / "triage.yaml").write_text(TRIAGE)
    (tmp_path / "other.yml").write_text("name: other\nmessages: [{role: user, content: hi}]\n")
    (tmp_path / "notes.txt").write_text("not a prompt")
    assert sorted(s.name for s in load_prompt_files([tmp_path])) == ["other", "triage"]
    with pytest.raises(InvalidInput, match="missing.yaml: no such file"):
        load_prompt_files([tmp_path / "missing.yaml"])


def test_dump_then_load_gives_the_same_content(store: Store) -> None:
    [spec] = load_prompt_text(TRIAGE, "t.yaml")
    reg = PromptRegistry(store)
    reg.push_many([spec], author="ana")
    text = dump_prompt(reg.get("triage", label="staging"))
    assert "labels" not in text and "first version" not in text
    assert "      You label app reviews.\n      Answer with one word.\n" in text
    [again] = load_prompt_text(text, "pulled.yaml")
    assert again.content_hash == spec.content_hash
    assert again.description == spec.description
    res = reg.push_many([again], author="bo")
    assert (res[0].version, res[0].created) == (1, False)
