"""``loopstack pii``: a project's PII policy (masking at ingest, for external models) and a scanner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from loopstack.errors import InvalidInput

project_option = click.option(
    "--project", default=None, help="Project to act on (default: LOOPSTACK_PROJECT or 'default')."
)


def _project(project: str | None) -> str:
    from loopstack.config import get_settings

    return project or get_settings().project


def _config_file(path: str) -> dict[str, Any]:
    text = Path(path).read_text(encoding="utf-8")
    try:
        if path.endswith((".yaml", ".yml")):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - any parse error is the user's file
        raise InvalidInput(
            f"{path}: not valid {'YAML' if path.endswith(('.yaml', '.yml')) else 'JSON'} ({exc})"
        ) from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: expected a mapping (entities, score_threshold, recognizers, ner_model)")
    return data


@click.group()
def pii() -> None:
    """PII masking: where spans and model requests are masked, and what counts as PII."""


@pii.command("set")
@click.option(
    "--ingest",
    type=click.Choice(["off", "placeholder", "redact", "hash"]),
    default=None,
    help="Mask spans as the server ingests them, before they are stored.",
)
@click.option(
    "--external",
    type=click.Choice(["off", "mask", "refuse"]),
    default=None,
    help="Requests for external model providers: mask PII, refuse to send it, or off.",
)
@click.option(
    "--external-strategy",
    type=click.Choice(["placeholder", "redact", "hash"]),
    default=None,
    help="How --external mask replaces PII (default placeholder).",
)
@click.option("--entities", default=None, help="Comma-separated entity types (default: the pattern types).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="YAML/JSON file: entities, score_threshold, recognizers (name, entity, regex, score, context).",
)
@project_option
def set_cmd(
    ingest: str | None,
    external: str | None,
    external_strategy: str | None,
    entities: str | None,
    config_path: str | None,
    project: str | None,
) -> None:
    """Change the project's PII policy (options not given keep their value)."""
    from loopstack.safety import project_pii_policy, set_project_pii_policy
    from loopstack.store import get_store

    store = get_store()
    name = _project(project)
    config: dict[str, Any] | None = None
    if config_path is not None or entities is not None:
        config = project_pii_policy(store, name).config.model_dump()
        if config_path is not None:
            config = _config_file(config_path)
        if entities is not None:
            config["entities"] = [e.strip() for e in entities.split(",") if e.strip()] or None
    policy = set_project_pii_policy(
        store, name, ingest=ingest, external=external, external_strategy=external_strategy, config=config
    )
    click.echo(
        f"Project {name!r}: ingest {policy.ingest}, external {policy.external}"
        + (f" ({policy.external_strategy})" if policy.external == "mask" else "")
        + "."
    )


@pii.command("show")
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print the policy as JSON.")
def show_cmd(project: str | None, as_json: bool) -> None:
    """Print the project's PII policy."""
    from loopstack.safety import project_pii_policy
    from loopstack.safety._pii_engine import resolved_entities
    from loopstack.store import get_store

    name = _project(project)
    policy = project_pii_policy(get_store(), name)
    if as_json:
        click.echo(json.dumps(policy.model_dump(mode="json"), indent=2))
        return
    click.echo(f"Project {name!r}")
    click.echo(f"  ingest:   {policy.ingest}")
    click.echo(f"  external: {policy.external} ({policy.external_strategy})")
    click.echo(f"  entities: {', '.join(resolved_entities(policy.config))}")
    for r in policy.config.recognizers:
        click.echo(f"  custom:   {r.name} -> {r.entity} /{r.regex}/ score {r.score:g}")


@pii.command("scan")
@click.argument("text")
@click.option(
    "--strategy",
    type=click.Choice(["placeholder", "redact", "hash"]),
    default="placeholder",
    show_default=True,
)
@project_option
def scan_cmd(text: str, strategy: str, project: str | None) -> None:
    """Show what the project's PII config finds in TEXT, and TEXT masked."""
    from loopstack.safety import pii_masker, project_pii_policy
    from loopstack.store import get_store

    config = project_pii_policy(get_store(), _project(project)).config
    masker = pii_masker(strategy, config=config)  # type: ignore[arg-type]
    findings = masker.find(text)
    table = Table("entity", "text", "score")
    for f in findings:
        table.add_row(f.entity, text[f.start : f.end], f"{f.score:.2f}")
    Console().print(table)
    click.echo(masker(text))
