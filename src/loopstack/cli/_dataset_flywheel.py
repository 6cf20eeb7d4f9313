"""``loopstack dataset from-traces`` and the training formats of ``dataset export`` (the flywheel)."""

from __future__ import annotations

import json
from typing import Any

import click

from loopstack.errors import InvalidInput

CHAT_FORMATS = ("openai-chat", "hf")


@click.command(name="from-traces")
@click.argument("name")
@click.option("--since", default=None, help="Only calls at or after this ISO time (UTC when no zone).")
@click.option("--until", default=None, help="Only calls before this ISO time.")
@click.option("--prompt", default=None, help="Only calls of this prompt: NAME or NAME@VERSION.")
@click.option("--model", default=None, help="Only calls to this model.")
@click.option(
    "--feedback",
    type=click.Choice(["positive", "negative", "correction", "any", "none"]),
    default=None,
    help="Only calls with this feedback (positive: accepted/thumbs-up and never rejected).",
)
@click.option("--score", default=None, help="Name of a score to filter on (with --score-min/--score-max).")
@click.option("--score-min", type=float, default=None, help="Lowest value of --score kept.")
@click.option("--score-max", type=float, default=None, help="Highest value of --score kept.")
@click.option("--text", default=None, help="Only calls whose input or output contains this text.")
@click.option("--session", default=None, help="Only calls of this session.")
@click.option("--user", default=None, help="Only calls of this user.")
@click.option(
    "--status", type=click.Choice(["ok", "error"]), default=None, help="Only calls that did/didn't fail."
)
@click.option("--environment", default=None, help="Traffic: default production (no evals); 'all' or one.")
@click.option("--sample", type=float, default=None, help="Keep this seeded share of the calls, e.g. 0.2.")
@click.option("--limit", type=int, default=None, help="Add at most this many items.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample, order and splits.")
@click.option(
    "--dedupe-threshold",
    type=float,
    default=0.95,
    show_default=True,
    help="Cosine similarity (all-MiniLM-L6-v2) at which inputs are near duplicates; 0 = exact only.",
)
@click.option(
    "--splits",
    default="train=0.8,validation=0.1,test=0.1",
    show_default=True,
    help="Split shares for new items ('none' for no splits).",
)
@click.option(
    "--stratify", default=None, help="Label field to stratify the splits by (expected, else input)."
)
@click.option("--dry-run", is_flag=True, help="Print the counts after each filter; write nothing.")
@click.option("--description", default=None, help="A line describing the dataset.")
@click.option("--project", default=None, help="Project (default: LOOPSTACK_PROJECT or 'default').")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def from_traces(
    name: str,
    since: str | None,
    until: str | None,
    prompt: str | None,
    model: str | None,
    feedback: str | None,
    score: str | None,
    score_min: float | None,
    score_max: float | None,
    text: str | None,
    session: str | None,
    user: str | None,
    status: str | None,
    environment: str | None,
    sample: float | None,
    limit: int | None,
    seed: int,
    dedupe_threshold: float,
    splits: str,
    stratify: str | None,
    dry_run: bool,
    description: str | None,
    project: str | None,
    as_json: bool,
) -> None:
    """Add production model calls (template variables as input, a correction or the accepted output as
    expected) to dataset NAME, each linked to its source span."""
    from loopstack.flywheel._splits import parse_splits
    from loopstack.flywheel.curation import curate, format_report, span_criteria

    criteria = span_criteria(
        start=since,
        end=until,
        prompt=prompt,
        model=model,
        session=session,
        user=user,
        text=text,
        feedback=feedback,
        score=score,
        score_min=score_min,
        score_max=score_max,
        environment=environment,
        status=status,
    )
    report = curate(
        name,
        criteria=criteria,
        sample=sample,
        limit=limit,
        seed=seed,
        dedupe_threshold=dedupe_threshold or None,
        splits=None if splits.strip().lower() == "none" else parse_splits(splits),
        stratify=stratify,
        dry_run=dry_run,
        description=description,
        project=project,
    )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "dataset": report.dataset,
                    "dry_run": report.dry_run,
                    "version": report.version,
                    "added": report.added,
                    "steps": [{"step": s, "count": n} for s, n in report.steps],
                    "splits": report.splits,
                    "expected_from": report.expected_from,
                },
                ensure_ascii=False,
            )
        )
        return
    for line in format_report(report):
        click.echo(line)


def export_training(
    name: str,
    output: str,
    fmt: str,
    *,
    version: int | None,
    split: str | None,
    system_prompt: str | None,
    prompt: str | None,
    labels: str,
    teacher: str | None,
    weight: bool,
    transform: Any,
    project: str | None,
) -> str:
    """Write the chat examples of a dataset (``dataset export --format openai-chat|hf``, or parquet/jsonl
    with a system prompt or prompt); the line to print."""
    from loopstack.flywheel.chat import read_system_prompt
    from loopstack.flywheel.export import split_counts, training_set, write_training_set

    if fmt not in ("openai-chat", "hf", "parquet", "jsonl"):
        raise InvalidInput(
            f"--format {fmt}: training examples are written as openai-chat, hf, parquet or jsonl"
        )
    examples = training_set(
        name,
        version=version,
        split=split,
        system_prompt=read_system_prompt(system_prompt),
        prompt=prompt,
        labels=labels,  # type: ignore[arg-type]
        teacher=teacher,
        project=project,
    )
    path = write_training_set(examples, output, fmt, weight=weight, transform=transform)  # type: ignore[arg-type]
    counts = ", ".join(f"{k} {v}" for k, v in sorted(split_counts(examples.examples).items()))
    skipped = f"; {examples.skipped} items without an answer left out" if examples.skipped else ""
    return (
        f"Wrote {len(examples.examples)} {fmt} examples of {name} v{examples.version} to {path} "
        f"({counts}){skipped}."
    )
