"""``loopstack serve-model``: a model behind an OpenAI-compatible /v1/chat/completions."""

from __future__ import annotations

import click


@click.command("serve-model")
@click.argument("model")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--name", default=None, help="The model id clients send (default: MODEL).")
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
def serve_model(model: str, host: str, port: int, name: str | None, log_level: str) -> None:
    """Serve MODEL (any model string: local/triage-student, openai/..., mock/...) as an OpenAI-compatible
    API: point an OpenAI client at http://HOST:PORT/v1. Local models batch concurrent requests."""
    from loopstack.flywheel._serve import serve_model as run

    def announce(url: str) -> None:
        click.echo(f"Serving {model} on {url}  (POST /v1/chat/completions, GET /v1/models)")

    run(model, host=host, port=port, name=name, log_level=log_level, announce=announce)
