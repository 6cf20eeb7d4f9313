"""``loopstack keys``: create (printed once), list and revoke the server's API keys."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

project_option = click.option(
    "--project", default=None, help="Project the key acts on (default: LOOPSTACK_PROJECT or 'default')."
)


@click.group()
def keys() -> None:
    """API keys for the server: each key reads and writes one project only."""


@keys.command()
@click.argument("name")
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print the key and its details as JSON.")
def create(name: str, project: str | None, as_json: bool) -> None:
    """Create a key called NAME; it is shown this once and stored only as a hash."""
    from loopstack.config import get_settings
    from loopstack.store import get_store
    from loopstack.store.keys import create_key

    secret, key = create_key(get_store(), name, project or get_settings().project)
    if as_json:
        click.echo(json.dumps({"key": secret, **key.to_dict()}, indent=2))
        return
    click.echo(f"Created key {key.name!r} for project {key.project!r}:")
    click.echo(f"\n  {secret}\n")
    click.echo(
        "Store it now: it cannot be shown again. Use it as LOOPSTACK_API_KEY or 'Authorization: Bearer'."
    )


@keys.command("list")
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(project: str | None, as_json: bool) -> None:
    """List keys (their prefixes, never the secrets)."""
    from loopstack.store import get_store
    from loopstack.store.keys import list_keys

    found = list_keys(get_store(), project)
    if as_json:
        click.echo(json.dumps([k.to_dict() for k in found], indent=2))
        return
    table = Table("name", "prefix", "project", "created", "last used", "status")
    for k in found:
        table.add_row(
            k.name,
            k.prefix + "…",
            k.project,
            k.created_at.strftime("%Y-%m-%d %H:%M"),
            k.last_used_at.strftime("%Y-%m-%d %H:%M") if k.last_used_at else "-",
            "revoked" if k.revoked_at else "active",
        )
    Console().print(table)


@keys.command()
@click.argument("ref")
def revoke(ref: str) -> None:
    """Revoke the key with this id, prefix or name."""
    from loopstack.store import get_store
    from loopstack.store.keys import revoke_key

    key = revoke_key(get_store(), ref)
    click.echo(f"Revoked key {key.name!r} ({key.prefix}…) of project {key.project!r}.")
