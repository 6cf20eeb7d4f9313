"""Entry point of the ``loopstack`` command.

Command groups live in their own modules and are imported only when invoked, so ``loopstack --help``
stays fast and a heavy dependency of one command never slows another. Register a new group by adding
it to ``COMMANDS``.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from typing import Any

import click

from loopstack import __version__
from loopstack.errors import LoopstackError

#: command name -> ("module", "attribute", "one-line help")
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("loopstack.cli.init", "init", "Create the local store and an example prompt folder."),
    "db": ("loopstack.cli.db", "db", "Inspect and upgrade the database schema."),
    "prompt": ("loopstack.cli.prompt", "prompt", "Version, label, diff and sync prompts."),
    "dataset": ("loopstack.cli.dataset", "dataset", "Push, list, show and export versioned datasets."),
    "eval": ("loopstack.cli.eval", "eval", "Run eval suites, resume them, compare runs, gate CI."),
    "quickstart": ("loopstack.cli.quickstart", "quickstart", "Run the example project: data, prompts, eval."),
    "serve": ("loopstack.cli.serve", "serve", "Run the server: OTLP trace ingest, REST API and UI."),
    "keys": ("loopstack.cli.keys", "keys", "Create, list and revoke the server's API keys."),
    "run": ("loopstack.cli.run", "run", "Send a prompt to a model and stream the answer."),
    "models": ("loopstack.cli.models", "models", "List providers, known model strings and prices."),
    "queue": ("loopstack.cli.queue", "queue", "Add traces and spans to annotation queues, list them."),
    "pii": ("loopstack.cli.pii", "pii", "Set a project's PII masking policy; scan text for PII."),
    "runs": ("loopstack.cli.runs", "runs", "List, filter, tag, note and export eval runs (experiments)."),
    "traces": ("loopstack.cli.traces", "traces", "Export traces (spans) to Parquet, CSV or JSONL."),
    "playground": (
        "loopstack.cli.playground",
        "playground",
        "Open the prompt playground (starts the server).",
    ),
    "evaluators": (
        "loopstack.cli.evaluators",
        "evaluators",
        "Online evaluators on production spans; backfill.",
    ),
    "alerts": ("loopstack.cli.alerts", "alerts", "Alert rules over rolling windows, their firings."),
    "finetune": ("loopstack.cli.finetune", "finetune", "Fine-tune a small model on a dataset (TRL + LoRA)."),
    "flywheel": ("loopstack.cli.flywheel", "flywheel", "Student vs teacher, promote the student, the demo."),
    "serve-model": (
        "loopstack.cli.serve_model",
        "serve_model",
        "Serve any model as an OpenAI-compatible /v1/chat/completions.",
    ),
    "label": ("loopstack.cli.label", "label", "Label a dataset with a teacher model (live or OpenAI Batch)."),
    "rollout": ("loopstack.cli.rollout", "rollout", "Ramp a prompt version with an A/B test; roll back."),
    "judge": ("loopstack.cli.judge", "judge", "Calibrate an LLM judge against human labels (κ, α)."),
    "bias": ("loopstack.cli.bias", "bias", "Counterfactual bias test: swap demographic terms, compare."),
    "redteam": ("loopstack.cli.redteam", "redteam", "Offline red-team probes, attack rate per OWASP risk."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module = importlib.import_module(spec[0])
        command: click.Command = getattr(module, spec[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="loopstack")
def cli() -> None:
    """Loopstack: versioned prompts, evals with honest statistics, traces with feedback."""


#: Objects allocated between two young-generation collections in a CLI process (CPython's default: 700).
GC_YOUNG_THRESHOLD = 10_000


def start_quickly() -> None:
    """Two process-wide settings that cut a command's start-up, set by the CLI only (never on import).

    A command imports a few hundred modules before its first useful line (SQLAlchemy, pydantic, rich,
    jinja2): hundreds of thousands of new objects, almost none of them garbage, and CPython's default
    young-generation threshold of 700 runs the cyclic collector over them hundreds of times. A threshold
    of 10,000 still collects cycles, less often. And pydantic looks for plugins by scanning the entry
    points of every installed distribution when it builds its first model; the CLI does not use any, so
    the scan is skipped unless ``PYDANTIC_DISABLE_PLUGINS`` is already set (set it empty to load them).
    ``bench/startup.py`` measures both.
    """
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, GC_YOUNG_THRESHOLD), middle, old)
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI; a LoopstackError becomes one line on stderr and exit code 1, never a traceback."""
    start_quickly()
    try:
        return cli.main(args=argv, prog_name="loopstack", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except LoopstackError as exc:
        click.secho(f"Error: {exc}", fg="red", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
