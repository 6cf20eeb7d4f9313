"""``loopstack init``: store created, example prompt written once, and the example pushes cleanly."""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner, Result

from loopstack.cli.main import main
from loopstack.prompts import PromptRegistry, load_prompt_files
from loopstack.store import get_store
from loopstack.store.migrate import head_revision, status

EXAMPLES = Path(__file__).parents[2] / "examples" / "prompts"


def run(*args: str) -> Result:
    entry = click.Command("loopstack", callback=lambda: main(list(args)))
    return CliRunner().invoke(entry, [])


def test_init_creates_store_and_example(tmp_path: Path, loopstack_home: Path) -> None:
    res = run("init", str(tmp_path))
    assert res.exit_code == 0, res.output
    assert (loopstack_home / "loopstack.db").exists()
    assert status(get_store())["current"] == head_revision()
    example = tmp_path / "prompts" / "triage.yaml"
    assert f"Wrote an example prompt: {example}" in res.output
    assert "loopstack prompt push" in res.output

    res = run("prompt", "push", str(tmp_path / "prompts"))
    assert f"{example}: triage created v1" in res.output
    assert PromptRegistry(get_store()).get("triage", label="staging").render(review="ok")[1] == {
        "role": "user",
        "content": "Review: ok",
    }


def test_init_keeps_an_existing_prompts_folder(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "mine.yaml").write_text("name: mine\nmessages: [{role: user, content: hi}]\n")
    res = run("init", str(tmp_path))
    assert res.exit_code == 0 and "Kept the existing" in res.output
    assert sorted(p.name for p in (tmp_path / "prompts").iterdir()) == ["mine.yaml"]


def test_example_files_are_valid() -> None:
    names = sorted(s.name for s in load_prompt_files([EXAMPLES]))
    assert names == ["summarise", "triage"]
