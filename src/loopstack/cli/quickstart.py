"""``loopstack quickstart``: the example project end to end — data, two prompt versions, an eval with
confidence intervals and a paired comparison — offline, on the local model, in a few minutes."""

from __future__ import annotations

import asyncio

import click
from rich.console import Console
from rich.markup import escape


@click.command()
@click.option(
    "--dir",
    "directory",
    default="loopstack-quickstart",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder to create the example project in.",
)
@click.option("--model", default=None, help="Model to run (default: LOOPSTACK_MODEL or local/smollm2-135m).")
@click.option("--force", is_flag=True, help="Overwrite example files that were changed in --dir.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when interactive).")
def quickstart(directory: str, model: str | None, force: bool, progress: bool | None) -> None:
    """Copy the example project, push its data and prompts, evaluate both prompt versions."""
    from loopstack.evals.quickstart import DATASET_NAME, next_steps, run_quickstart
    from loopstack.evals.report import print_result

    out = Console()
    err = Console(stderr=True)
    show = err.is_terminal if progress is None else progress
    out.print(f"[bold]Loopstack quickstart[/bold] → {escape(directory)}")
    run = asyncio.run(run_quickstart(directory, model=model, force=force, progress=show, console=err))
    s = run.setup
    out.print(f"  dataset [cyan]{DATASET_NAME}@{s.dataset_version}[/cyan] ({s.dataset_items} reviews)")
    for name, version, label in s.prompts:
        out.print(f"  prompt  [cyan]{escape(name)}@{version}[/cyan] labelled {escape(label)}")
    out.print(f"  model   [cyan]{escape(run.model)}[/cyan] · eval took {run.seconds:.1f} s")
    out.print()
    print_result(run.result, out)
    if run.result.interrupted:
        raise SystemExit(130)
    out.print()
    out.print("[bold]Try next[/bold]")
    width = 48  # comments start here; a longer command gets its comment on the next line
    for cmd, comment in next_steps(run, directory):
        if not comment:
            lines = [cmd]
        elif len(cmd) < width:
            lines = [f"{cmd:<{width}} # {comment}"]
        else:
            lines = [cmd, f"{'':<{width}} # {comment}"]
        for line in lines:
            out.print(f"  {escape(line)}", soft_wrap=True)
