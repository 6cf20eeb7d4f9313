"""``loopstack init``: create (or migrate) the store and write an example ``prompts/`` folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

#: The example's name is its own: the quickstart's ``triage`` prompt and its labels are never touched.
EXAMPLE_NAME = "review-sentiment"
EXAMPLE_PROMPT = """\
# A prompt as code (format: docs/prompts.md). Push it with:  loopstack prompt push prompts/
name: review-sentiment
description: Classify an app review as positive, negative or neutral
messages:
  - role: system
    content: |
      You label app store reviews. Answer with exactly one word:
      positive, negative or neutral.
  - role: user
    content: "Review: {{ review }}"
model: local/smollm2-135m
params: {temperature: 0, max_tokens: 5}
message: first version
labels: [staging]
"""


@dataclass(frozen=True)
class InitResult:
    """What ``init_project`` did."""

    database: str
    revision: str | None
    prompts_dir: Path
    wrote_example: Path | None


def init_project(directory: Path) -> InitResult:
    """Create or migrate the configured store; write ``prompts/review-sentiment.yaml`` when ``prompts/``
    is absent."""
    from loopstack.cli.db import open_store
    from loopstack.store._store import redact_url
    from loopstack.store.migrate import current_revision

    store = open_store()
    revision = current_revision(store)
    prompts_dir = directory / "prompts"
    wrote = None
    if not prompts_dir.exists():
        prompts_dir.mkdir(parents=True)
        wrote = prompts_dir / f"{EXAMPLE_NAME}.yaml"
        wrote.write_text(EXAMPLE_PROMPT, encoding="utf-8")
    return InitResult(redact_url(store.url), revision, prompts_dir, wrote)


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."))
def init(directory: Path) -> None:
    """Create the local store (or bring it up to date) and an example prompts/ folder in DIRECTORY."""
    res = init_project(directory)
    click.echo(f"Store ready: {res.database} (schema {res.revision}).")
    if res.wrote_example is not None:
        click.echo(f"Wrote an example prompt: {res.wrote_example}")
    else:
        click.echo(f"Kept the existing {res.prompts_dir}/ folder.")
    click.echo("\nNext steps:")
    steps = next_steps(res.prompts_dir)
    width = max(len(cmd) for cmd, comment in steps if comment)
    for cmd, comment in steps:
        click.echo(f"  {cmd:<{width}}   # {comment}" if comment else f"  {cmd}")


def next_steps(prompts_dir: Path) -> list[tuple[str, str]]:
    """The commands ``init`` suggests, as ``(command, comment)`` in order (a test runs them as printed)."""
    n = EXAMPLE_NAME
    return [
        (f"loopstack prompt push {prompts_dir}/", "store every prompt file as a version"),
        (f"loopstack prompt label {n} production latest", "promote it"),
        (f"loopstack prompt show {n}", f"what get_prompt('{n}') will serve"),
        (f"python -c \"import loopstack; print(loopstack.get_prompt('{n}').render(review='Love it'))\"", ""),
    ]
