"""``loopstack prompt`` through the real entry point: output, exit codes and the rows written."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from loopstack.cli.main import main
from loopstack.prompts import PromptRegistry
from loopstack.store import Store
from loopstack.store.tables import prompt_versions, prompts

TRIAGE = """\
name: triage
description: Classify app reviews
messages:
  - role: system
    content: |
      Label the review.
      One word.
  - role: user
    content: "Review: {{ review }}"
model: local/smollm2-135m
params: {temperature: 0}
message: first version
labels: [staging]
"""


def run(*args: str) -> Result:
    """Invoke ``loopstack ARGS`` exactly as the console script does (errors become one line + exit 1)."""
    entry = click.Command("loopstack", callback=lambda: main(list(args)))
    return CliRunner().invoke(entry, [])


def _versions(store: Store) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(prompt_versions)).scalar_one())


def test_push_label_show_diff_rollback_history(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "prompts"
    folder.mkdir()
    f = folder / "triage.yaml"
    f.write_text(TRIAGE)
    res = run("prompt", "push", str(folder), "--author", "ana")
    assert res.exit_code == 0, res.output
    assert f"{f}: triage created v1" in res.output
    assert "staging: (new) -> v1" in res.output

    res = run("prompt", "push", str(f), "--author", "ana")
    assert f"{f}: triage unchanged v1" in res.output
    assert "staging" not in res.output
    assert _versions(store) == 1

    f.write_text(TRIAGE.replace("One word.", "Exactly one word."))
    res = run("prompt", "push", str(f), "-m", "stricter", "--author", "bo")
    assert f"{f}: triage created v2" in res.output
    assert "staging: v1 -> v2" in res.output

    res = run("prompt", "label", "triage", "production", "1", "--author", "ana")
    assert (res.exit_code, res.output.strip()) == (0, "triage: production (new) -> v1")
    res = run("prompt", "label", "triage", "production", "staging", "-m", "ship", "--author", "bo")
    assert res.output.strip() == "triage: production v1 -> v2"
    assert PromptRegistry(store).get("triage").version == 2

    res = run("prompt", "show", "triage")
    assert res.exit_code == 0
    assert "triage@2" in res.output and "Exactly one word." in res.output and "production" in res.output
    shown = json.loads(run("prompt", "show", "triage", "--version", "1", "--json").output)
    assert (shown["version"], shown["author"], shown["message"]) == (1, "ana", "first version")
    assert shown["messages"][1] == {"role": "user", "content": "Review: {{ review }}"}

    res = run("prompt", "diff", "triage", "1", "2")
    assert "-One word." in res.output and "+Exactly one word." in res.output
    d = json.loads(run("prompt", "diff", "triage", "1", "production", "--json").output)
    assert [m["status"] for m in d["messages"]] == ["changed", "unchanged"]
    assert d["config"] == [] and d["identical"] is False

    res = run("prompt", "rollback", "triage", "--author", "cy")
    assert res.output.strip() == "triage: production v2 -> v1"
    assert PromptRegistry(store).get("triage").version == 1

    hist = json.loads(run("prompt", "history", "triage", "--json").output)
    assert [(h["kind"], h.get("version"), h.get("label"), h["author"]) for h in hist] == [
        ("label", None, "production", "cy"),
        ("label", None, "production", "bo"),
        ("label", None, "production", "ana"),
        ("label", None, "staging", "bo"),
        ("version", 2, None, "bo"),
        ("label", None, "staging", "ana"),
        ("version", 1, None, "ana"),
    ]
    assert hist[4]["message"] == "stricter"
    res = run("prompt", "history", "triage")
    assert "pushed v2" in res.output and "production: v2 -> v1" in res.output

    listed = json.loads(run("prompt", "list", "--json").output)
    assert listed[0]["name"] == "triage" and listed[0]["latest"] == 2
    assert listed[0]["labels"] == {"production": 1, "staging": 2}
    assert "triage" in run("prompt", "list").output


def test_pull_then_push_is_unchanged(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "triage.yaml"
    src.write_text(TRIAGE)
    assert run("prompt", "push", str(src)).exit_code == 0
    out = tmp_path / "pulled" / "triage.yaml"
    res = run("prompt", "pull", "triage", "--label", "staging", "-o", str(out))
    assert res.exit_code == 0 and f"Wrote triage@1 to {out}" in res.output
    res = run("prompt", "push", str(out))
    assert f"{out}: triage unchanged v1" in res.output
    assert _versions(store) == 1
    stdout = run("prompt", "pull", "triage", "--version", "1").output
    assert stdout == out.read_text()


def test_invalid_third_file_writes_nothing(store: Store, tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.yaml").write_text(TRIAGE.replace("name: triage", f"name: {name}"))
    bad = tmp_path / "c.yaml"
    bad.write_text("name: c\nmessages:\n  - role: user\n    content: ok\n  - content: no role\n")
    res = run("prompt", "push", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml"), str(bad))
    assert res.exit_code == 1
    assert res.output.strip() == f"Error: {bad}:5: messages[1]: missing required field 'role'"
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(prompts)).scalar_one() == 0


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("prompt", "show", "nope"), "Error: unknown prompt 'nope' in project 'default'"),
        (
            ("prompt", "show", "triage"),
            "Error: prompt 'triage' has no 'production' label; version 1 exists — label one with "
            "`loopstack prompt label triage production 1`",
        ),
        (("prompt", "label", "triage", "production", "7"), "Error: cannot label triage@7 as 'production'"),
        (("prompt", "diff", "triage", "1", "3"), "Error: prompt 'triage' has no version 3; version 1 exists"),
        (("prompt", "rollback", "triage"), "Error: prompt 'triage' has no 'production' label to roll back"),
    ],
)
def test_errors_are_one_line_and_exit_1(
    store: Store, tmp_path: Path, args: tuple[str, ...], error: str
) -> None:
    src = tmp_path / "t.yaml"
    src.write_text(TRIAGE.replace("labels: [staging]\n", ""))
    assert run("prompt", "push", str(src)).exit_code == 0
    res = run(*args)
    assert res.exit_code == 1
    assert res.output.startswith(error), res.output
    assert len(res.output.strip().splitlines()) == 1
    assert "Traceback" not in res.output


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: triage\nmessages:\n  - role: user\n    content: [unclosed\n")
    res = run("prompt", "push", str(bad))
    assert res.exit_code == 1
    assert res.output.startswith(f"Error: {bad}:5: invalid YAML")


def test_unreachable_database_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from loopstack.config import get_settings

    monkeypatch.setenv("LOOPSTACK_DATABASE_URL", "postgresql://someone:secret@127.0.0.1:1/nothing")
    get_settings.cache_clear()
    res = run("prompt", "list")
    assert res.exit_code == 1
    assert res.output.startswith("Error: cannot use the database at postgresql://someone:***@127.0.0.1:1")
    assert "secret" not in res.output and len(res.output.strip().splitlines()) == 1


def test_projects_json_push_and_markup_shown_literally(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "t.yaml"
    src.write_text(TRIAGE.replace("Classify app reviews", "'[b]hi[/b]'"))
    res = run("prompt", "push", str(src), "--project", "acme", "--json", "--label", "production")
    assert res.exit_code == 0, res.output
    [pushed] = json.loads(res.output)
    assert (pushed["name"], pushed["version"], pushed["created"], pushed["file"]) == (
        "triage",
        1,
        True,
        f"{src}:1",
    )
    assert {m["label"] for m in pushed["label_moves"]} == {"staging", "production"}
    assert json.loads(run("prompt", "list", "--json").output) == []
    assert "[b]hi[/b]" in run("prompt", "list", "--project", "acme").output
    assert PromptRegistry(store, "acme").get("triage").version == 1


def _labels(store: Store) -> dict[str, int]:
    return PromptRegistry(store).labels("triage")


def test_a_label_that_looks_like_an_existing_one_is_refused_unless_new(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "t.yaml"
    src.write_text(TRIAGE.replace("labels: [staging]", "labels: [production]"))
    assert run("prompt", "push", str(src)).exit_code == 0
    src.write_text(TRIAGE.replace("One word.", "One word only.").replace("labels: [staging]\n", ""))
    assert run("prompt", "push", str(src)).exit_code == 0

    res = run("prompt", "label", "triage", "prod", "2")
    assert res.exit_code == 1
    assert res.output.strip() == (
        "Error: prompt 'triage' has no label 'prod' (did you mean 'production'?); "
        "to create a new label 'prod' anyway, add --new"
    )
    assert _labels(store) == {"production": 1}

    assert run("prompt", "label", "triage", "Staging", "2").exit_code == 0  # not like 'production'
    assert run("prompt", "label", "triage", "staging", "1").exit_code == 1  # like 'Staging'
    res = run("prompt", "label", "triage", "prod", "2", "--new")
    assert res.exit_code == 0, res.output
    assert run("prompt", "label", "triage", "production", "2").exit_code == 0
    assert _labels(store) == {"Staging": 2, "prod": 2, "production": 2}


def test_a_params_typo_is_refused_at_push(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "t.yaml"
    src.write_text(TRIAGE.replace("{temperature: 0}", "{temprature: 0}"))
    res = run("prompt", "push", str(src))
    assert res.exit_code == 1
    assert res.output.strip().startswith(
        f"Error: {src}:11: params.temprature: unknown parameter 'temprature' (did you mean 'temperature'?)"
    )
    assert _versions(store) == 0


def _version_file(folder: Path, n: int, text: str, labels: str = "") -> None:
    message = f"  - {{role: user, content: '{text}: {{{{ review }}}}'}}\n"
    body = f"name: triage\ndescription: v{n}\nmessages:\n{message}"
    (folder / f"triage-v{n}.yaml").write_text(body + labels)


def test_a_folder_may_hold_several_versions_of_one_prompt(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "prompts"
    folder.mkdir()
    for n in (1, 2, 10):  # natural order: v2 is older than v10
        _version_file(folder, n, f"text {n}", "labels: [production]\n" if n == 1 else "")
    res = run("prompt", "push", str(folder), "--label", "staging")
    assert res.exit_code == 0, res.output
    reg = PromptRegistry(store)
    assert [v.description for v in reg.versions("triage")] == ["v1", "v2", "v10"]
    assert reg.labels("triage") == {"production": 1, "staging": 3}

    res = run("prompt", "push", str(folder))  # again: nothing new
    assert res.exit_code == 0 and res.output.count("unchanged") == 3, res.output
    _version_file(folder, 2, "text 2, edited")
    res = run("prompt", "push", str(folder))
    assert res.exit_code == 0 and "triage created v4" in res.output
    assert _versions(store) == 4

    _version_file(folder, 10, "text 10", "labels: [production]\n")
    res = run("prompt", "push", str(folder))
    assert res.exit_code == 1
    assert "label 'production' of prompt 'triage' is given twice" in res.output
    assert reg.labels("triage") == {"production": 1, "staging": 3}
