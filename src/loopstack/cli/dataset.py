"""``loopstack dataset``: push files as versioned datasets, list, show and export them."""

from __future__ import annotations

import json
from typing import Any

import click

from loopstack.evals.datasets import Dataset
from loopstack.store.datasets import DatasetItem, DatasetRepository


def _repo(project: str | None) -> DatasetRepository:
    from loopstack.config import get_settings
    from loopstack.store import get_store

    return DatasetRepository(get_store(), project or get_settings().project)


def _preview(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


project_option = click.option(
    "--project", default=None, help="Project (default: LOOPSTACK_PROJECT or 'default')."
)


@click.group()
def dataset() -> None:
    """Versioned test sets: push a file, list, show and export."""


@dataset.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--name", "-n", default=None, help="Dataset name (default: the file name without suffix).")
@click.option("--description", default=None, help="A line describing the dataset.")
@click.option(
    "--expected-column", default="expected", show_default=True, help="Column with the expected output."
)
@click.option("--id-column", default="id", show_default=True, help="Column with a stable item id.")
@click.option("--split-column", default="split", show_default=True, help="Column with the split name.")
@click.option("--cluster-column", default="cluster", show_default=True, help="Column grouping related items.")
@click.option(
    "--input-column",
    "input_columns",
    multiple=True,
    help="Only these columns are input variables (repeatable); default: every other column.",
)
@click.option("--format", "fmt", default=None, help="jsonl, json, csv, tsv or parquet (default: by suffix).")
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def push(
    file: str,
    name: str | None,
    description: str | None,
    expected_column: str,
    id_column: str,
    split_column: str,
    cluster_column: str,
    input_columns: tuple[str, ...],
    fmt: str | None,
    project: str | None,
    as_json: bool,
) -> None:
    """Store FILE as a dataset; a new version only when its content changed."""
    ds = Dataset.load(
        file,
        name=name,
        expected=expected_column,
        id=id_column,
        split=split_column,
        cluster=cluster_column,
        input=input_columns or None,
        format=fmt,
    )
    repo = _repo(project)
    result = repo.push(ds.name or "dataset", ds.items, description=description)
    if as_json:
        _print_json(
            {
                "name": result.name,
                "version": result.version,
                "created_version": result.created_version,
                "added": result.added,
                "changed": result.changed,
                "removed": result.removed,
                "unchanged": result.unchanged,
            }
        )
        return
    if result.created_version:
        click.echo(
            f"Pushed {result.name} v{result.version}: {result.added} added, {result.changed} changed, "
            f"{result.removed} removed, {result.unchanged} unchanged ({result.total} items)."
        )
    else:
        click.echo(f"{result.name} is unchanged at v{result.version} ({result.total} items).")


@dataset.command(name="list")
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print the datasets as JSON.")
def list_(project: str | None, as_json: bool) -> None:
    """List datasets with their current version and item count."""
    infos = _repo(project).list_datasets()
    if as_json:
        _print_json(
            [
                {
                    "name": d.name,
                    "version": d.version,
                    "items": d.item_count,
                    "description": d.description,
                    "updated_at": d.updated_at.isoformat(),
                }
                for d in infos
            ]
        )
        return
    if not infos:
        click.echo("No datasets yet. Push one with: loopstack dataset push FILE --name NAME")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "version", "items", "updated", "description")
    for d in infos:
        table.add_row(
            d.name,
            str(d.version),
            str(d.item_count),
            d.updated_at.strftime("%Y-%m-%d %H:%M"),
            d.description or "",
        )
    Console().print(table)


def _item_json(item: DatasetItem) -> dict[str, Any]:
    return {
        "key": item.key,
        "input": item.input,
        "expected": item.expected,
        "split": item.split,
        "cluster": item.cluster,
        "metadata": item.metadata,
        "valid_from": item.valid_from,
        "valid_to": item.valid_to,
    }


@dataset.command()
@click.argument("name")
@click.option("--version", "-v", type=int, default=None, help="Dataset version (default: current).")
@click.option("--split", default=None, help="Only items of this split.")
@click.option("--limit", type=int, default=20, show_default=True, help="Items to show (0 = all).")
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print the items as JSON.")
def show(
    name: str, version: int | None, split: str | None, limit: int, project: str | None, as_json: bool
) -> None:
    """Show a dataset's items at a version."""
    repo = _repo(project)
    info = repo.get(name)
    v = version if version is not None else info.version
    items = repo.items(name, v, split=split)
    shown = items if limit <= 0 else items[:limit]
    if as_json:
        _print_json(
            {"name": name, "version": v, "items": [_item_json(i) for i in shown], "total": len(items)}
        )
        return
    from rich.console import Console
    from rich.table import Table

    title = f"{name} v{v}" + (f" (current v{info.version})" if v != info.version else "")
    table = Table("key", "input", "expected", "split", "cluster", title=title)
    for i in shown:
        table.add_row(
            i.key,
            _preview(i.input),
            "" if i.expected is None else _preview(i.expected, 40),
            i.split or "",
            i.cluster or "",
        )
    console = Console()
    console.print(table)
    if len(shown) < len(items):
        console.print(f"{len(shown)} of {len(items)} items shown (use --limit 0 for all).")
    else:
        console.print(f"{len(items)} items.")


@dataset.command()
@click.argument("name")
@click.option("--output", "-o", required=True, type=click.Path(), help="File (or hf folder) to write.")
@click.option("--version", "-v", type=int, default=None, help="Dataset version (default: current).")
@click.option("--split", default=None, help="Only items of this split.")
@click.option(
    "--format",
    "fmt",
    default=None,
    help="jsonl, json, csv, tsv or parquet (default: by suffix); openai-chat or hf for training examples.",
)
@click.option(
    "--system-prompt",
    default=None,
    help="Training examples: the system message (TEXT or @file) the student will be served with.",
)
@click.option(
    "--prompt",
    "chat_prompt",
    default=None,
    help="Training examples: render each item with this prompt (NAME@LABEL) into system + user messages.",
)
@click.option(
    "--labels",
    type=click.Choice(["expected", "teacher", "expected-then-teacher"]),
    default="expected-then-teacher",
    show_default=True,
    help="Training examples: which answer to train on.",
)
@click.option("--teacher", default=None, help="Training examples: use this teacher's labels only.")
@click.option("--weight", is_flag=True, help="openai-chat: weight 1 on the answer, 0 on few-shot turns.")
@click.option(
    "--mask-pii", is_flag=True, help="Mask PII (emails, phones, cards, IBANs, IPs, ...) in the file."
)
@click.option(
    "--pii-strategy",
    type=click.Choice(["placeholder", "redact", "hash"]),
    default="placeholder",
    show_default=True,
    help="How --mask-pii replaces what it finds (hash needs LOOPSTACK_PII_SALT).",
)
@project_option
def export(
    name: str,
    output: str,
    version: int | None,
    split: str | None,
    fmt: str | None,
    system_prompt: str | None,
    chat_prompt: str | None,
    labels: str,
    teacher: str | None,
    weight: bool,
    mask_pii: bool,
    pii_strategy: str,
    project: str | None,
) -> None:
    """Write a dataset version to a JSONL, CSV or Parquet file, or as training examples.

    With --format openai-chat or hf (a save_to_disk folder), or with --system-prompt/--prompt, each
    item is written as chat messages ending in its answer (see docs/flywheel.md for the rendering).
    """
    transform = None
    if mask_pii:
        from loopstack.safety import mask_records, pii_masker

        masker = pii_masker(pii_strategy)  # type: ignore[arg-type]
        transform = lambda records: mask_records(records, masker)  # noqa: E731
    if fmt in ("openai-chat", "hf") or system_prompt is not None or chat_prompt is not None:
        from loopstack.cli._dataset_flywheel import export_training

        line = export_training(
            name,
            output,
            fmt or ("parquet" if output.endswith(".parquet") else "jsonl"),
            version=version,
            split=split,
            system_prompt=system_prompt,
            prompt=chat_prompt,
            labels=labels,
            teacher=teacher,
            weight=weight,
            transform=transform,
            project=project,
        )
        masked_note = f" ({sum(masker.counts.values())} PII values masked)" if mask_pii else ""
        click.echo(line + masked_note)
        return
    repo = _repo(project)
    v = version if version is not None else repo.get(name).version
    items = repo.items(name, v, split=split)
    path = Dataset(items, name=name, version=v).export(output, format=fmt, transform=transform)
    masked = f" ({sum(masker.counts.values())} PII values masked)" if mask_pii else ""
    click.echo(f"Wrote {len(items)} items of {name} v{v} to {path}{masked}.")


def _add_flywheel_commands() -> None:
    from loopstack.cli._dataset_flywheel import from_traces

    dataset.add_command(from_traces)


_add_flywheel_commands()
