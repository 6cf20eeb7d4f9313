"""``loopstack init``: store created, example prompt written once, and the example pushes cleanly."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
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
    example = tmp_path / "prompts" / "review-sentiment.yaml"
    assert f"Wrote an example prompt: {example}" in res.output
    assert "loopstack prompt push" in res.output

    res = run("prompt", "push", str(tmp_path / "prompts"))
    assert f"{example}: review-sentiment created v1" in res.output
    assert PromptRegistry(get_store()).get("review-sentiment", label="staging").render(review="ok")[1] == {
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
    assert names == ["review-sentiment", "summarise"]


def test_the_example_is_the_one_init_writes(tmp_path: Path) -> None:
    from loopstack.cli.init import EXAMPLE_NAME, EXAMPLE_PROMPT

    shipped = (EXAMPLES / f"{EXAMPLE_NAME}.yaml").read_text().split("\n", 1)[1]
    assert EXAMPLE_PROMPT.split("\n", 1)[1] == shipped  # the same prompt (only the comment differs)


def test_init_next_steps_run_as_printed_and_leave_the_quickstart_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loopstack_home: Path
) -> None:
    from loopstack.evals.quickstart import copy_project, push_project

    copy_project(tmp_path / "qs")
    push_project(tmp_path / "qs", get_store(), "default")
    registry = PromptRegistry(get_store())
    before = (registry.labels("triage"), len(registry.versions("triage")))
    assert before == ({"production": 1, "staging": 2}, 2)

    monkeypatch.chdir(tmp_path)
    res = run("init", "app")
    assert res.exit_code == 0, res.output
    steps = [
        line.split("   # ", 1)[0].strip() for line in res.output.split("Next steps:\n", 1)[1].splitlines()
    ]
    assert len(steps) == 4
    for step in steps:
        argv = shlex.split(step)
        if argv[0] == "python":  # the SDK, in a fresh process on the same store
            env = {
                **os.environ,
                "LOOPSTACK_HOME": str(loopstack_home),
                "PYTHONPATH": os.pathsep.join(sys.path),
            }
            done = subprocess.run(
                [sys.executable, *argv[1:]], env=env, capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 0, done.stderr
            assert "Review: Love it" in done.stdout
            continue
        assert argv[0] == "loopstack", step
        out = run(*argv[1:])
        assert out.exit_code == 0, f"{step}: {out.output}"
    assert (registry.labels("triage"), len(registry.versions("triage"))) == before
    assert registry.labels("review-sentiment") == {"production": 1, "staging": 1}
