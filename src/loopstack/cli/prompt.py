"""``loopstack prompt``: push and pull prompt files, list, show, diff, label, roll back, history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console

    from loopstack.prompts import PromptRegistry, PromptVersion


def _registry(project: str | None) -> PromptRegistry:
    from loopstack.cli.db import open_store
    from loopstack.config import get_settings
    from loopstack.prompts import PromptRegistry

    return PromptRegistry(open_store(), project or get_settings().project)


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False)


def _author(author: str | None) -> str | None:
    from loopstack.prompts import default_author

    return author or default_author()


def _cells(*values: str) -> list[Any]:
    """Table cells as plain Text: user text such as '[bold]' is shown, never interpreted as markup."""
    from rich.text import Text

    return [Text(v) for v in values]


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""


def _v(version: int | None) -> str:
    return "(new)" if version is None else f"v{version}"


project_option = click.option(
    "--project", default=None, help="Project (default: LOOPSTACK_PROJECT or 'default')."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
author_option = click.option("--author", default=None, help="Who is doing this (default: git user.name).")


def _which(label: str | None, version: int | None) -> dict[str, Any]:
    if label is not None and version is not None:
        raise click.UsageError("give --label or --version, not both")
    return {"label": label, "version": version}


@click.group()
def prompt() -> None:
    """Versioned prompts: sync YAML files, inspect, diff, promote with labels, roll back."""


@prompt.command(short_help="Push prompt files as versions.")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("-m", "--message", default=None, help="Commit message (replaces the files' `message`).")
@click.option("--label", "labels", multiple=True, help="Also move this label to each pushed version.")
@author_option
@project_option
@json_option
def push(
    files: tuple[str, ...],
    message: str | None,
    labels: tuple[str, ...],
    author: str | None,
    project: str | None,
    as_json: bool,
) -> None:
    """Push prompt YAML FILES (or folders of them): a new version only when the content changed.

    Every file is validated before anything is written, and all prompts are stored in one transaction.
    """
    from loopstack.prompts import push_files

    done = push_files(_registry(project), files, author=_author(author), message=message, labels=labels)
    if as_json:
        _print_json([{**r.to_dict(), "file": spec.source} for spec, r in done])
        return
    for spec, res in done:
        state = f"created v{res.version}" if res.created else f"unchanged v{res.version}"
        where = (spec.source or "").rsplit(":", 1)[0]
        click.echo(f"{where}: {res.name} {state}")
        for move in res.label_moves:
            click.echo(f"  {move.label}: {_v(move.from_version)} -> v{move.to_version}")


@prompt.command(short_help="Write a version back as YAML.")
@click.argument("name")
@click.option("--label", default=None, help="Label to pull (default: production).")
@click.option("--version", type=int, default=None, help="Version number to pull.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write to this file.")
@project_option
def pull(name: str, label: str | None, version: int | None, output: str | None, project: str | None) -> None:
    """Write prompt NAME in the YAML format (to stdout, or -o FILE); pushing it back changes nothing."""
    from loopstack.prompts import dump_prompt

    pv = _registry(project).get(name, **_which(label, version))
    text = dump_prompt(pv)
    if output is None:
        click.echo(text, nl=False)
        return
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(text, encoding="utf-8")
    click.echo(f"Wrote {pv.ref} to {output}")


@prompt.command("list", short_help="Prompts with latest version and labels.")
@project_option
@json_option
def list_cmd(project: str | None, as_json: bool) -> None:
    """List prompts with their latest version and labels."""
    from rich.table import Table

    rows = _registry(project).list_prompts()
    if as_json:
        _print_json([r.to_dict() for r in rows])
        return
    if not rows:
        click.echo("No prompts yet. Push some with: loopstack prompt push prompts/")
        return
    table = Table("name", "latest", "labels", "updated (UTC)", "description")
    table.columns[3].no_wrap = True
    for r in rows:
        labels = ", ".join(f"{k}→v{v}" for k, v in r.labels.items())
        table.add_row(*_cells(r.name, _v(r.latest), labels, _when(r.updated_at), r.description or ""))
    _console().print(table)


@prompt.command(short_help="Show one version.")
@click.argument("name")
@click.option("--label", default=None, help="Label to show (default: production; 'latest' for newest).")
@click.option("--version", type=int, default=None, help="Version number to show.")
@project_option
@json_option
def show(name: str, label: str | None, version: int | None, project: str | None, as_json: bool) -> None:
    """Show one version of prompt NAME: messages, model, parameters, labels and who pushed it."""
    reg = _registry(project)
    pv = reg.get(name, **_which(label, version))
    labels = sorted(k for k, v in reg.labels(name).items() if v == pv.version)
    if as_json:
        _print_json({**pv.to_dict(), "labels": labels})
        return
    _print_version(_console(), pv, labels)


def _print_version(console: Console, pv: PromptVersion, labels: list[str]) -> None:
    from rich.table import Table
    from rich.text import Text

    head = Table(show_header=False, box=None)
    head.add_row("prompt", Text(pv.ref, style="bold"))
    if pv.description:
        head.add_row("description", Text(pv.description))
    head.add_row("labels", Text(", ".join(labels) or "-"))
    head.add_row("model", Text(pv.model or "-"))
    head.add_row("params", Text(json.dumps(pv.params, ensure_ascii=False) if pv.params else "-"))
    head.add_row("pushed", Text(f"{_when(pv.created_at)} UTC by {pv.author or 'unknown'}"))
    if pv.message:
        head.add_row("message", Text(pv.message))
    head.add_row("hash", Text(pv.content_hash[:12]))
    console.print(head)
    for m in pv.messages:
        console.print(Text(f"\n[{m['role']}]", style="bold cyan"))
        # Text, not markup: prompt text is never interpreted; soft wrap keeps lines copyable.
        console.print(Text(m["content"]), soft_wrap=True)


@prompt.command(short_help="Diff two versions or labels.")
@click.argument("name")
@click.argument("before")
@click.argument("after", required=False, default="latest")
@project_option
@json_option
def diff(name: str, before: str, after: str, project: str | None, as_json: bool) -> None:
    """Diff two versions of NAME: BEFORE and AFTER are version numbers or labels (AFTER: latest)."""
    from rich.text import Text

    d = _registry(project).diff(name, before, after)
    if as_json:
        _print_json(d.to_dict())
        return
    console = _console()
    if d.identical:
        click.echo(f"{name}@{d.before} and {name}@{d.after} are identical.")
        return
    for m in d.messages:
        for line in m.diff:
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else None
            style = "cyan" if line.startswith("@@") else style
            console.print(Text(line, style=style or ""), soft_wrap=True)
    if d.config:
        console.print(Text("config:", style="bold"))
        for c in d.config:
            line = f"  {c.key}: {_repr(c.before)} -> {_repr(c.after)}"
            console.print(Text(line, style="yellow"), soft_wrap=True)


def _repr(value: Any) -> str:
    return "<unset>" if value is None else json.dumps(value, ensure_ascii=False)


@prompt.command(short_help="Point a label at a version.")
@click.argument("name")
@click.argument("label_name", metavar="LABEL")
@click.argument("target", metavar="VERSION")
@click.option("-m", "--message", default=None, help="Why (kept in the history).")
@click.option(
    "--new",
    "new",
    is_flag=True,
    help="Create LABEL even though its name looks like an existing label (e.g. 'prod' next to 'production').",
)
@author_option
@project_option
def label(
    name: str,
    label_name: str,
    target: str,
    message: str | None,
    new: bool,
    author: str | None,
    project: str | None,
) -> None:
    """Point LABEL of prompt NAME at VERSION (a number, 'latest', or another label's version).

    A label NAME does not have yet is created, unless its name looks like one it has (a typo such as
    'prod' for 'production' is refused with a "did you mean"; --new creates it anyway).
    """
    move = _registry(project).set_label(
        name, label_name, target, author=_author(author), message=message, allow_lookalike=new
    )
    _print_move(move.name, move.label, move.from_version, move.to_version)


@prompt.command(short_help="Move a label back one step.")
@click.argument("name")
@click.option("--label", "label_name", default="production", show_default=True, help="Label to move back.")
@click.option("-m", "--message", default=None, help="Why (kept in the history).")
@author_option
@project_option
def rollback(
    name: str, label_name: str, message: str | None, author: str | None, project: str | None
) -> None:
    """Move a label of NAME back to the version it pointed at before its last move."""
    move = _registry(project).rollback(name, label_name, author=_author(author), message=message)
    _print_move(move.name, move.label, move.from_version, move.to_version)


def _print_move(name: str, label_name: str, before: int | None, after: int) -> None:
    if before == after:
        click.echo(f"{name}: {label_name} already points at v{after}.")
    else:
        click.echo(f"{name}: {label_name} {_v(before)} -> v{after}")


@prompt.command(short_help="Versions and label moves.")
@click.argument("name")
@click.option("--limit", type=int, default=None, help="Show only the newest N entries.")
@project_option
@json_option
def history(name: str, limit: int | None, project: str | None, as_json: bool) -> None:
    """Versions pushed and label moves of NAME, newest first: who, when, why."""
    from rich.table import Table

    entries = _registry(project).history(name)[:limit]
    if as_json:
        _print_json([e.to_dict() for e in entries])
        return
    table = Table("when (UTC)", "what", "author", "message")
    table.columns[0].no_wrap = True
    table.columns[1].no_wrap = True
    for e in entries:
        if e.kind == "version":
            what = f"pushed v{e.version}"
        else:
            what = f"{e.label}: {_v(e.from_version)} -> v{e.to_version}"
        table.add_row(*_cells(_when(e.created_at), what, e.author or "", e.message or ""))
    _console().print(table)
