"""``loopstack flywheel``: student vs teacher, promote the student, and the end-to-end demo."""

from __future__ import annotations

import json

import click

project_option = click.option(
    "--project", default=None, help="Project (default: LOOPSTACK_PROJECT or 'default')."
)


@click.group()
def flywheel() -> None:
    """From production traces to a fine-tuned student that is compared, served and promoted."""


@flywheel.command()
@click.option("--student", required=True, help="The student's model string, e.g. local/triage-student.")
@click.option("--teacher", required=True, help="The teacher's model string, e.g. openai/gpt-4o-mini.")
@click.option("--dataset", required=True, help="Dataset with gold labels (expected JSON objects).")
@click.option("--split", default="test", show_default=True, help="The held-out split to compare on.")
@click.option("--margin", type=float, default=0.05, show_default=True, help="Non-inferiority margin δ.")
@click.option(
    "--teacher-prompt", default=None, help="The teacher's prompt, NAME@LABEL (default: the student's)."
)
@click.option(
    "--student-prompt", default=None, help="The student's prompt (default: the one it was trained with)."
)
@click.option(
    "--student-price-per-1k-calls", type=float, default=None, help="USD per 1,000 student calls (compute)."
)
@click.option(
    "--teacher-price-per-1k-calls",
    type=float,
    default=None,
    help="USD per 1,000 teacher calls (default: token prices).",
)
@click.option("--concurrency", type=int, default=48, show_default=True)
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def compare(
    student: str,
    teacher: str,
    dataset: str,
    split: str,
    margin: float,
    teacher_prompt: str | None,
    student_prompt: str | None,
    student_price_per_1k_calls: float | None,
    teacher_price_per_1k_calls: float | None,
    concurrency: int,
    project: str | None,
    as_json: bool,
) -> None:
    """Quality against gold labels (paired CI), agreement with the teacher, tokens, latency, cost per
    1,000 calls and a non-inferiority verdict. Exit code 2 when the student is not non-inferior."""
    import asyncio

    from loopstack.flywheel._compare import compare_student

    result = asyncio.run(
        compare_student(
            student=student,
            teacher=teacher,
            dataset=dataset,
            split=split or None,
            margin=margin,
            student_prompt=student_prompt,
            teacher_prompt=teacher_prompt,
            student_price_per_1k_calls=student_price_per_1k_calls,
            teacher_price_per_1k_calls=teacher_price_per_1k_calls,
            concurrency=concurrency,
            project=project,
            progress=not as_json,
        )
    )
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        for line in result.lines():
            click.echo(line)
    if not result.verdict.passed:
        raise SystemExit(2)


@flywheel.command()
@click.argument("student")
@click.option(
    "--prompt", "prompt_name", default="triage", show_default=True, help="Prompt to add the version to."
)
@click.option("--label", default="production", show_default=True, help="Label to move to the new version.")
@click.option("-m", "--message", default=None, help="Why (kept in the history).")
@project_option
def promote(student: str, prompt_name: str, label: str, message: str | None, project: str | None) -> None:
    """Add a version of PROMPT that names STUDENT (with the prompt it was trained with) and move LABEL
    to it. Undo: loopstack prompt rollback PROMPT --label LABEL."""
    from loopstack.flywheel._promote import promote as run

    click.echo(run(student, prompt=prompt_name, label=label, message=message, project=project).line())


@flywheel.command()
@click.option(
    "--teacher", default="local/smollm2-135m", show_default=True, help="Labels what users did not judge."
)
@click.option(
    "--feedback-rate", type=float, default=0.8, show_default=True, help="Share of calls users react to."
)
@click.option("--epochs", type=float, default=3.0, show_default=True)
@click.option(
    "--teacher-floor",
    type=float,
    default=0.8,
    show_default=True,
    help="Train on the teacher's labels only for fields where it agrees with people this often.",
)
@click.option("--margin", type=float, default=0.05, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-promote", is_flag=True, help="Compare, but do not promote.")
@project_option
def demo(
    teacher: str,
    feedback_rate: float,
    epochs: float,
    teacher_floor: float,
    margin: float,
    seed: int,
    no_promote: bool,
    project: str | None,
) -> None:
    """The whole loop on the quickstart's review triage, offline: traced traffic with feedback, curate,
    teacher labels, fine-tune, student vs the v2 prompt, promote if non-inferior."""
    from rich.console import Console

    from loopstack.flywheel._demo import run_demo

    report = run_demo(
        teacher=teacher,
        feedback_rate=feedback_rate,
        epochs=epochs,
        teacher_floor=teacher_floor,
        margin=margin,
        seed=seed,
        promote=not no_promote,
        project=project,
        console=Console(stderr=True),
        say=click.echo,
    )
    click.echo(f"Done in {report.seconds:.0f} s ({report.seconds / 60:.1f} min).")
    click.echo("")
    click.echo("Try next:")
    for command, comment in report.next_steps():
        click.echo(f"  {command:<72} # {comment}")
