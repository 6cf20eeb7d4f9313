"""``loopstack finetune``: train a small model on a dataset's expected outputs and register it."""

from __future__ import annotations

import json

import click


@click.command()
@click.argument("dataset")
@click.option("--name", required=True, help="The new model's name: it is called as local/NAME.")
@click.option(
    "--base",
    default="local/smollm2-135m",
    show_default=True,
    help="Base: local/<alias, folder or .gguf>, a transformers folder, a hub id; OpenAI: gpt-4o-mini-….",
)
@click.option("--backend", type=click.Choice(["local", "openai"]), default="local", show_default=True)
@click.option("--epochs", type=float, default=3.0, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Learning rate.")
@click.option("--lora-r", type=int, default=16, show_default=True, help="LoRA rank (all linear layers).")
@click.option("--batch-size", type=int, default=4, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--system-prompt", default=None, help="The student's short instruction (served with it).")
@click.option(
    "--labels",
    type=click.Choice(["expected-then-teacher", "expected", "teacher"]),
    default="expected-then-teacher",
    show_default=True,
    help="Train on human answers, else the teacher's; human answers only; or teacher labels only.",
)
@click.option(
    "--teacher-floor",
    type=float,
    default=None,
    help="Train on a teacher label's values only of the JSON fields where the teacher agrees with "
    "people's answers on this dataset at least this often (e.g. 0.8); the rest get no loss.",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder (default: $LOOPSTACK_HOME/finetune/NAME).",
)
@click.option("--save-steps", type=int, default=10, show_default=True, help="Checkpoint every N steps.")
@click.option("--max-steps", type=int, default=None, help="Stop after N steps (a quick look).")
@click.option("--restart", is_flag=True, help="Ignore checkpoints in the output folder and start at step 0.")
@click.option(
    "--base-url", default=None, help="OpenAI backend: API root (default $OPENAI_BASE_URL or api.openai.com)."
)
@click.option(
    "--poll-interval",
    type=float,
    default=10.0,
    show_default=True,
    help="OpenAI backend: seconds between polls.",
)
@click.option("--project", default=None, help="Project (default: LOOPSTACK_PROJECT or 'default').")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def finetune(
    dataset: str,
    name: str,
    base: str,
    backend: str,
    epochs: float,
    lr: float,
    lora_r: int,
    batch_size: int,
    seed: int,
    system_prompt: str | None,
    labels: str,
    teacher_floor: float | None,
    output: str | None,
    save_steps: int,
    max_steps: int | None,
    restart: bool,
    base_url: str | None,
    poll_interval: float,
    project: str | None,
    as_json: bool,
) -> None:
    """Fine-tune BASE on DATASET (train split; validation loss on the validation split) with LoRA.

    A run started again on the same output folder resumes from its last checkpoint. The result is
    registered only when training finished and the model loads: then local/NAME works wherever a
    model string does (suites, loopstack run, prompts, serve-model).
    """
    from rich.console import Console

    from loopstack.flywheel import finetune as run_finetune

    console = Console(stderr=True)
    result = run_finetune(
        dataset,
        name=name,
        base=base,
        backend=backend,
        epochs=epochs,
        lr=lr,
        lora_r=lora_r,
        batch_size=batch_size,
        seed=seed,
        system_prompt=system_prompt,
        labels=labels,
        teacher_floor=teacher_floor,
        output=output,
        save_steps=save_steps,
        max_steps=max_steps,
        restart=restart,
        openai={"base_url": base_url, "poll_interval": poll_interval} if backend == "openai" else None,
        project=project,
        progress=not as_json,
        console=console,
    )
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, default=str))
        return
    for line in result.summary_lines():
        click.echo(line)
