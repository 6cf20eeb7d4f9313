"""``loopstack serve``: the server (OTLP ingest, REST API, UI) on one port."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    help="uvicorn log level.",
)
def serve(host: str, port: int, log_level: str) -> None:
    """Run the Loopstack server. Open without keys on 127.0.0.1 only; elsewhere keys are required."""
    from loopstack.config import get_settings
    from loopstack.server._serve import run, startup_mode
    from loopstack.store import get_store
    from loopstack.store._store import redact_url

    settings = get_settings()
    store = get_store(settings.resolved_database_url)
    mode = startup_mode(host, store, settings)
    click.echo(f"Loopstack server on http://{host}:{port}  (database: {redact_url(store.url)})")
    click.echo(f"  {mode}")
    click.echo(f"  OTLP/HTTP: http://{host}:{port}/v1/traces   API docs: http://{host}:{port}/docs")
    run(settings, store, host, port, log_level)
