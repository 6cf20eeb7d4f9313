"""``loopstack run`` and ``loopstack models`` through the real entry point: output, exit codes, cache rows."""

from __future__ import annotations

import json
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from loopstack.cli.main import main
from loopstack.models import (
    Capabilities,
    ModelRequest,
    ModelResponse,
    Provider,
    TextCallback,
    forget_models,
    register_provider,
)
from loopstack.prompts import PromptRegistry
from loopstack.store import Store
from loopstack.store.tables import model_cache


@register_provider("chunky")
class ChunkyProvider(Provider):
    """A user-registered streaming provider: answers the last message back in 3-character chunks."""

    capabilities = Capabilities(streaming=True, free=True)

    async def generate(self, request: ModelRequest) -> ModelResponse:
        return ModelResponse(text=request.messages[-1].content, finish_reason="stop")

    async def stream(self, request: ModelRequest, on_text: TextCallback) -> ModelResponse:
        text = request.messages[-1].content
        for i in range(0, len(text), 3):
            on_text(f"[{text[i : i + 3]}]")
        return ModelResponse(text=text, finish_reason="stop")


def run(*args: str, stdin: str | None = None) -> Result:
    """Invoke ``loopstack ARGS`` exactly as the console script does (errors become one line + exit 1)."""
    entry = click.Command("loopstack", callback=lambda: main(list(args)))
    return CliRunner().invoke(entry, [], input=stdin)


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    forget_models()
    yield
    forget_models()


def _cache_rows(store: Store) -> list[tuple[str, int, dict[str, object]]]:
    with store.read() as conn:
        rows = conn.execute(select(model_cache.c.model, model_cache.c.hits, model_cache.c.request)).all()
    return [(r.model, r.hits, r.request) for r in rows]


def test_run_answers_caches_and_replays(store: Store) -> None:
    first = run("run", "hello there", "-m", "mock/echo", "--temperature", "0.5", "--max-tokens", "5")
    assert first.exit_code == 0, first.output
    assert first.stdout == "hello there\n"
    assert "mock/echo · 2 in / 2 out tokens · $0.000000" in first.stderr
    ((model, hits, request),) = _cache_rows(store)
    assert (model, hits) == ("mock/echo", 0)
    assert request["messages"] == [{"role": "user", "content": "hello there"}]
    assert (request["temperature"], request["max_tokens"]) == (0.5, 5)

    replay = run("run", "hello there", "-m", "mock/echo", "--temperature", "0.5", "--max-tokens", "5")
    assert replay.stdout == "hello there\n"
    assert "replayed from cache" in replay.stderr
    assert [r[1] for r in _cache_rows(store)] == [1]

    fresh = run(
        "run", "hello there", "-m", "mock/echo", "--temperature", "0.5", "--max-tokens", "5", "--no-cache"
    )
    assert fresh.exit_code == 0 and "replayed" not in fresh.stderr
    assert [r[1] for r in _cache_rows(store)] == [1]


def test_run_json_system_and_stdin(store: Store) -> None:
    res = run(
        "run",
        "-m",
        "mock/echo",
        "--system",
        "Be brief.",
        "--max-tokens",
        "2",
        "--json",
        stdin="one two three",
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert (data["text"], data["finish_reason"], data["cached"]) == ("one two", "length", False)
    assert (data["model"], data["provider"], data["cost"]) == ("mock/echo", "mock", 0.0)
    assert data["usage"]["input_tokens"] == 5  # "Be brief." + "one two three"
    ((_, _, request),) = _cache_rows(store)
    assert request["messages"][0] == {"role": "system", "content": "Be brief."}


def test_run_renders_a_registered_prompt(store: Store) -> None:
    registry = PromptRegistry(store, "default")
    messages = [
        {"role": "system", "content": "Label the review."},
        {"role": "user", "content": "Review: {{ review }}"},
    ]
    registry.push("triage", messages, model="mock/echo", params={"temperature": 0}, labels=["production"])
    res = run("run", "--prompt", "triage@production", "--var", "review=great app")
    assert res.exit_code == 0, res.output
    assert res.stdout == "Review: great app\n"
    ((model, _, request),) = _cache_rows(store)
    assert model == "mock/echo"  # the prompt's own model, since -m was not given
    assert request["temperature"] == 0
    assert request["messages"][0] == {"role": "system", "content": "Label the review."}

    missing = run("run", "--prompt", "triage@1", "-m", "mock/echo")
    assert missing.exit_code == 1
    assert "prompt triage@1 needs variable 'review'" in missing.stderr


def test_run_streams_from_a_user_registered_provider(store: Store) -> None:
    res = run("run", "streaming!", "-m", "chunky/any", "--no-cache")
    assert res.exit_code == 0, res.output
    assert res.stdout == "[str][eam][ing][!]\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "hi", "-m", "gpt-4o"], "Error: 'gpt-4o' is not a model string: use <provider>/<model>"),
        (["run", "hi", "-m", "mock/echo", "--var", "a=b"], "Error: --var needs --prompt"),
        (
            ["run", "-m", "mock/echo", "--prompt", "nope", "--var", "oops"],
            "Error: --var 'oops': use key=value",
        ),
        (
            ["run", "hi", "-m", "mock/echo", "--temperature", "-1"],
            "Error: parameter temperature: Input should be",
        ),
        (
            ["run", "hi", "-m", "openai-compatible/llama3"],
            "Error: openai-compatible/llama3: set the base_url option",
        ),
        (
            ["run", "hi", "-m", "mock/echo", "-o", "colour=red"],
            "Error: mock/echo: option colour: Extra inputs",
        ),
    ],
)
def test_run_errors_are_one_line(args: list[str], message: str) -> None:
    res = run(*args)
    assert res.exit_code == 1
    assert res.stderr.startswith(message)
    assert len(res.stderr.strip().splitlines()) == 1
    assert "Traceback" not in res.output


def test_run_missing_key_names_the_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    res = run("run", "hi", "-m", "openai/gpt-4o-mini", "--no-cache")
    assert res.exit_code == 1
    assert res.stderr.strip() == "Error: openai: no API key; set OPENAI_API_KEY or pass the api_key option"


def test_models_lists_providers_models_and_prices() -> None:
    res = run("models")
    assert res.exit_code == 0, res.output
    for text in (
        "openai-compatible",
        "anthropic",
        "OPENAI_API_KEY",
        "local/smollm2-135m",
        "openai/gpt-4o-mini",
    ):
        assert text in res.stdout
    data = json.loads(run("models", "--json").stdout)
    names = {p["name"] for p in data["providers"]}
    assert {"openai", "openai-compatible", "anthropic", "local", "mock"} <= names
    mini = next(p for p in data["prices"] if p["model"] == "openai/gpt-4o-mini")
    assert (mini["input"], mini["cached_input"], mini["output"]) == (0.15, 0.075, 0.6)
