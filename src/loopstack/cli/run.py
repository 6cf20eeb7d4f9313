"""``loopstack run``: send one prompt to a model and stream the answer."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click


def _summary(response: Any) -> str:
    usage = response.usage
    cost = "cost unknown" if response.cost is None else f"${response.cost:.6f}"
    parts = [
        response.model,
        f"{usage.input_tokens} in / {usage.output_tokens} out tokens",
        cost,
        f"{response.latency_ms / 1000:.2f} s",
    ]
    if response.cached:
        parts.append("replayed from cache (--no-cache to call the model)")
    return " · ".join(parts)


@click.command(short_help="Send a prompt to a model and stream the answer.")
@click.argument("text", required=False)
@click.option(
    "-m", "--model", default=None, help="Model string, e.g. openai/gpt-4o-mini (default: LOOPSTACK_MODEL)."
)
@click.option(
    "-p", "--prompt", "prompt_ref", default=None, help="Registered prompt: NAME, NAME@label or NAME@3."
)
@click.option(
    "--var", "variables", multiple=True, metavar="KEY=VALUE", help="Template variable for --prompt."
)
@click.option("-s", "--system", default=None, help="System message.")
@click.option("-t", "--temperature", type=float, default=None, help="Sampling temperature (0 = greedy).")
@click.option("--max-tokens", type=int, default=None, help="Most tokens to generate.")
@click.option("--seed", type=int, default=None, help="Seed for repeatable sampling, where supported.")
@click.option(
    "-o",
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Provider option, e.g. -o base_url=http://localhost:11434/v1 (JSON values allowed).",
)
@click.option("--no-cache", is_flag=True, help="Always call the model; do not replay or store the answer.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole response as JSON (no streaming).")
def run(
    text: str | None,
    model: str | None,
    prompt_ref: str | None,
    variables: tuple[str, ...],
    system: str | None,
    temperature: float | None,
    max_tokens: int | None,
    seed: int | None,
    options: tuple[str, ...],
    no_cache: bool,
    as_json: bool,
) -> None:
    """Send TEXT (or stdin, or a registered --prompt) to a model and print the answer as it arrives.

    Answers are cached in the local store: the same model, messages and parameters replay the stored
    answer (marked as a replay) unless --no-cache is given.
    """
    from loopstack.models import compose_request, get_model, parse_prompt_ref, parse_vars

    if text is None and prompt_ref is None and not sys.stdin.isatty():
        text = sys.stdin.read() or None
    parsed_vars = parse_vars(variables)
    found = None
    if prompt_ref is not None:
        from loopstack.prompts import get_prompt

        name, label, version = parse_prompt_ref(prompt_ref)
        found = get_prompt(name, label=label, version=version, cache_ttl=0)
    composed = compose_request(
        text,
        model=model,
        system=system,
        prompt=found,
        variables=parsed_vars,
        temperature=temperature,
        max_tokens=max_tokens,
        seed=seed,
    )
    target = get_model(composed.model, **_options(options))
    from loopstack.safety import apply_project_pii_policy

    apply_project_pii_policy()  # the project may forbid unmasked PII on its way to external providers
    store = None
    if not no_cache:
        from loopstack.cli.db import open_store

        store = open_store()

    def show(chunk: str) -> None:
        click.echo(chunk, nl=False)
        sys.stdout.flush()

    async def answer() -> Any:
        load = getattr(target.provider, "load", None)
        needs_model = no_cache or not target.is_cached(composed.request, store=store)
        if load is not None and needs_model and not getattr(target.provider, "loaded", True):
            click.secho(f"Loading {target.name} …", dim=True, err=True)
            await load()
        return await target.generate(
            composed.request, cache=not no_cache, store=store, on_text=None if as_json else show
        )

    response = asyncio.run(answer())
    if as_json:
        click.echo(json.dumps(response.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    click.echo()
    sys.stdout.flush()
    click.secho(_summary(response), dim=True, err=True)


def _options(pairs: tuple[str, ...]) -> dict[str, Any]:
    from loopstack.errors import InvalidInput

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--option {pair!r}: use key=value")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out
