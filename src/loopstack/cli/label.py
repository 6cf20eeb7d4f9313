"""``loopstack label``: label a dataset's items with a teacher model, live or through the OpenAI Batch API."""

from __future__ import annotations

import json
from typing import Any

import click

from loopstack.errors import InvalidInput


def _pairs(pairs: tuple[str, ...], flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{flag} {pair!r}: use key=value")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


@click.command()
@click.argument("dataset")
@click.option("--teacher", required=True, help="Teacher model string, e.g. openai/gpt-4o-mini.")
@click.option(
    "--prompt", default=None, help="Render each request with this prompt (NAME, NAME@LABEL, NAME@3)."
)
@click.option("--system-prompt", default=None, help="System message (TEXT or @file) before each request.")
@click.option("--concurrency", "-c", type=int, default=8, show_default=True, help="Calls in flight.")
@click.option(
    "--max-cost", type=float, default=None, help="Budget in USD; labelling stops before passing it."
)
@click.option("--split", default=None, help="Only items of this split.")
@click.option("--missing-only", is_flag=True, help="Only items without an expected output.")
@click.option("--limit", type=int, default=None, help="At most this many items.")
@click.option("--param", "params", multiple=True, help="Request parameter, e.g. --param temperature=0.")
@click.option(
    "--option", "-o", "options", multiple=True, help="Provider option, e.g. -o base_url=http://host/v1."
)
@click.option(
    "--batch-export", type=click.Path(dir_okay=False), default=None, help="Write OpenAI Batch JSONL requests."
)
@click.option(
    "--batch-import",
    type=click.Path(dir_okay=False),
    default=None,
    help="Store the labels of an OpenAI Batch results file.",
)
@click.option(
    "--cache/--no-cache",
    default=False,
    show_default=True,
    help="Replay answers the response cache holds for the same request (and store new ones).",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--project", default=None, help="Project (default: LOOPSTACK_PROJECT or 'default').")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def label(
    dataset: str,
    teacher: str,
    prompt: str | None,
    system_prompt: str | None,
    concurrency: int,
    max_cost: float | None,
    split: str | None,
    missing_only: bool,
    limit: int | None,
    params: tuple[str, ...],
    options: tuple[str, ...],
    batch_export: str | None,
    batch_import: str | None,
    cache: bool,
    no_progress: bool,
    project: str | None,
    as_json: bool,
) -> None:
    """Label DATASET's items with a TEACHER model; each label is stored as it arrives.

    Rerun the same command after an interruption (even kill -9): only items without a stored label from
    this teacher and prompt version are asked for, so none is paid for twice.
    """
    from loopstack.flywheel.chat import read_system_prompt

    if batch_export and batch_import:
        raise InvalidInput("give --batch-export or --batch-import, not both")
    selection: dict[str, Any] = {
        "prompt": prompt,
        "system_prompt": read_system_prompt(system_prompt),
        "params": _pairs(params, "--param"),
        "split": split,
        "missing_only": missing_only,
        "limit": limit,
        "project": project,
    }
    if batch_export:
        from loopstack.flywheel.batch import export_batch

        exported = export_batch(
            dataset, batch_export, teacher=teacher, model_options=_pairs(options, "--option"), **selection
        )
        _say(
            as_json,
            {"requests": exported.requests, "already": exported.already, "masked": exported.masked},
            f"Wrote {exported.requests} Batch requests to {exported.path} ({exported.already} items already "
            f"labelled; {exported.masked} masked by the PII policy).",
        )
        return
    if batch_import:
        from loopstack.flywheel.batch import import_batch

        imported = import_batch(dataset, batch_import, teacher=teacher, **selection)
        for number, reason in imported.errors:
            click.secho(f"{batch_import}:{number}: {reason}", fg="yellow", err=True)
        _say(
            as_json,
            {
                "lines": imported.lines,
                "stored": imported.stored,
                "duplicates": imported.duplicates,
                "errors": [{"line": n, "error": e} for n, e in imported.errors],
                "cost": imported.cost,
            },
            f"Stored {imported.stored} labels from {imported.lines} lines ({imported.duplicates} already "
            f"stored, {len(imported.errors)} bad lines; cost ${imported.cost:.4f} at the Batch discount).",
        )
        return
    from loopstack.flywheel.label import label_dataset
    from loopstack.safety import apply_project_pii_policy

    apply_project_pii_policy(project=project)  # requests to external teachers are masked like any call
    report = label_dataset(
        dataset,
        teacher=teacher,
        concurrency=concurrency,
        max_cost=max_cost,
        model_options=_pairs(options, "--option"),
        cache=cache,
        progress=not no_progress and not as_json,
        **selection,
    )
    from loopstack.flywheel.trust import teacher_agreement

    # where an item has a human answer too, the teacher is measured against people
    trust = teacher_agreement(dataset, teacher=teacher, prompt=report.prompt, project=project)
    _say(
        as_json,
        {
            "agreement_with_people": trust.to_dict() if trust.items else None,
            "selected": report.selected,
            "already": report.already,
            "labelled": report.labelled,
            "errors": report.errors,
            "replayed": report.replayed,
            "remaining": report.remaining,
            "cost": report.cost,
            "stopped": report.stopped,
            "message": report.message,
        },
        f"Labelled {report.labelled} of {report.selected} items of {dataset} with {teacher}"
        + (f" ({report.prompt})" if report.prompt else "")
        + f": {report.already} already labelled, {report.errors} errors, ${report.cost:.4f}"
        + (f", {report.replayed} replayed from the response cache." if report.replayed else "."),
    )
    if trust.items and not as_json:
        click.echo(trust.line())
    if report.stopped == "max-cost" and not as_json:
        click.echo(report.message)
    if report.stopped == "errors":
        raise InvalidInput(report.message or "the teacher kept failing")
    if report.errors and not as_json:
        click.secho(
            f"First error: {report.error_samples[0]} (rerun to retry failed items)", fg="yellow", err=True
        )


def _say(as_json: bool, data: dict[str, Any], line: str) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=str) if as_json else line)
