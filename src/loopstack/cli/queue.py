"""``loopstack queue``: put traces and spans on an annotation queue, and list the queues."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import click

project_option = click.option(
    "--project", default=None, help="Project (default: LOOPSTACK_PROJECT or 'default')."
)
queue_option = click.option("--queue", "queue_name", default="default", show_default=True, help="Queue name.")


@click.group()
def queue() -> None:
    """Annotation queues: what reviewers judge one item at a time in the UI (/ui/annotate)."""


def _filters(texts: tuple[str, ...]) -> Any:
    """The trace list's filters from ``--filter`` query strings (``status=error&since=24h``)."""
    from fastapi import HTTPException

    from loopstack.errors import InvalidInput
    from loopstack.ui._traces import parse_filters

    params: dict[str, str] = {}
    for text in texts:
        pairs = parse_qsl(text.lstrip("?"), keep_blank_values=True)
        if not pairs:
            raise click.BadParameter(f"{text!r} is not NAME=VALUE (e.g. status=error)", param_hint="--filter")
        for key, value in pairs:
            params[key] = value
    known = {
        "since",
        "start",
        "end",
        "model",
        "prompt",
        "session",
        "user",
        "status",
        "negative",
        "score_name",
        "score_below",
        "text",
        "environment",
    }
    unknown = sorted(set(params) - known)
    if unknown:
        raise click.BadParameter(
            f"unknown filter {unknown[0]!r}; the trace list's filters are {', '.join(sorted(known))}",
            param_hint="--filter",
        )
    try:
        return parse_filters(params)
    except HTTPException as exc:
        raise click.BadParameter(str(exc.detail), param_hint="--filter") from None
    except InvalidInput as exc:
        raise click.BadParameter(str(exc), param_hint="--filter") from None


@queue.command()
@click.option("--trace", "trace_ids", multiple=True, metavar="TRACE_ID", help="A trace to add (repeatable).")
@click.option(
    "--span",
    "span_ids",
    multiple=True,
    metavar="[TRACE_ID:]SPAN_ID",
    help="A span to add, as TRACE_ID:SPAN_ID or SPAN_ID (repeatable).",
)
@click.option(
    "--filter",
    "filter_texts",
    multiple=True,
    metavar="NAME=VALUE",
    help="Add the traces the trace list shows for these filters (as in its URL: status=error&since=24h).",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=100,
    show_default=True,
    help="With --filter: add at most this many traces, newest first.",
)
@queue_option
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print what was added as JSON.")
def add(
    trace_ids: tuple[str, ...],
    span_ids: tuple[str, ...],
    filter_texts: tuple[str, ...],
    limit: int,
    queue_name: str,
    project: str | None,
    as_json: bool,
) -> None:
    """Put traces or spans on a queue; a bad id is reported and skipped, the others are added."""
    from loopstack.config import get_settings
    from loopstack.store import get_store
    from loopstack.store.annotations import AnnotationQueueRepository, Target, check_queue_name

    if not (trace_ids or span_ids or filter_texts):
        raise click.UsageError("give --trace ID, --span ID or --filter NAME=VALUE")
    if filter_texts and (trace_ids or span_ids):
        raise click.UsageError("--filter adds the traces it matches; give it without --trace/--span")
    queue_name = check_queue_name(queue_name)
    store, project = get_store(), project or get_settings().project
    repo = AnnotationQueueRepository(store, project)
    if filter_texts:
        from loopstack.ui._queue import matching_trace_ids

        filters = _filters(filter_texts)
        trace_ids = tuple(matching_trace_ids(store, project, filters, limit))
        if not trace_ids:
            click.echo(f"No traces match {' '.join(filter_texts)}; nothing added.")
            return
    targets = [Target("trace", t.strip().lower()) for t in trace_ids]
    for ref in span_ids:  # TRACE_ID:SPAN_ID is one index lookup; a bare SPAN_ID searches the project
        trace_part, _, span_part = ref.strip().lower().rpartition(":")
        targets.append(Target("span", span_part, trace_part or None))
    result = repo.add(targets, queue=queue_name)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "queue": queue_name,
                    "added": [
                        {"target_type": t.target_type, "id": t.target_id, "item_id": i}
                        for t, i in result.added.items()
                    ],
                    "already_queued": [t.target_id for t in result.already_queued],
                    "rejected": [{"id": t.target_id, "error": e} for t, e in result.rejected],
                },
                indent=2,
            )
        )
    else:
        click.echo(f"Added {len(result.added)} to queue {queue_name!r} in project {project!r}.")
        if result.already_queued:
            click.echo(f"{len(result.already_queued)} already in the queue (not added twice).")
        for target, error in result.rejected:
            click.secho(f"Skipped {target.target_id}: {error}", fg="red", err=True)
        if result.added:
            click.echo(f"Review them: loopstack serve, then /ui/annotate/{queue_name}")
    if result.rejected:
        raise SystemExit(1)


@queue.command("list")
@click.option("--queue", "queue_name", default=None, help="Also list the items of this queue.")
@click.option(
    "--status",
    type=click.Choice(["pending", "locked", "done"]),
    default=None,
    help="With --queue: only items in this state.",
)
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(queue_name: str | None, status: str | None, limit: int, project: str | None, as_json: bool) -> None:
    """Each queue's pending, locked and done counts (and, with --queue, its items)."""
    from rich.console import Console
    from rich.table import Table

    from loopstack.config import get_settings
    from loopstack.store import get_store
    from loopstack.store.annotations import AnnotationQueueRepository

    repo = AnnotationQueueRepository(get_store(), project or get_settings().project)
    counts = repo.counts()
    items = repo.items(queue_name, status=status, limit=limit) if queue_name else []
    if as_json:
        rows = [
            {
                "id": i.id,
                "queue": i.queue,
                "target_type": i.target_type,
                "target_id": i.target_id,
                "trace_id": i.trace_id,
                "status": i.status,
                "locked_by": i.locked_by,
                "created_at": i.created_at.isoformat(),
            }
            for i in items
        ]
        click.echo(json.dumps({"counts": counts, "items": rows}, indent=2))
        return
    if not counts:
        click.echo(
            f"No annotation queues in project {repo.project!r}. Add traces: loopstack queue add --trace ID"
        )
        return
    console = Console()
    table = Table("queue", "pending", "locked", "done")
    for name, c in counts.items():
        table.add_row(name, str(c["pending"]), str(c["locked"]), str(c["done"]))
    console.print(table)
    if queue_name:
        listing = Table("item", "target", "id", "status", "locked by", "added (UTC)")
        for i in items:
            listing.add_row(
                i.id,
                i.target_type,
                i.target_id,
                i.status,
                i.locked_by or "",
                i.created_at.strftime("%Y-%m-%d %H:%M"),
            )
        console.print(listing)
