"""``loopstack playground`` resolves the prompt it starts from and prints the page's address."""

from __future__ import annotations

from click.testing import CliRunner

from loopstack.cli.main import cli
from loopstack.prompts import PromptRegistry
from loopstack.store import get_store


def test_playground_prints_the_address_of_the_version_to_start_from() -> None:
    reg = PromptRegistry(get_store())
    for text in ("one {{ x }}", "two {{ x }}"):
        reg.push("triage", [{"role": "user", "content": text}])
    result = CliRunner().invoke(cli, ["playground", "--prompt", "triage", "--no-serve", "--no-browser"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8765/ui/playground?prompt=triage&version=2" in result.output
    result = CliRunner().invoke(
        cli, ["playground", "-p", "triage@1", "--no-serve", "--no-browser", "--port", "9"]
    )
    assert "http://127.0.0.1:9/ui/playground?prompt=triage&version=1" in result.output


def test_playground_with_an_unknown_prompt_fails_before_serving() -> None:
    result = CliRunner().invoke(cli, ["playground", "--prompt", "nosuch", "--no-serve", "--no-browser"])
    assert result.exit_code != 0 and "nosuch" in str(result.exception)
