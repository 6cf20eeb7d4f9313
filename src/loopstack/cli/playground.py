"""``loopstack playground``: open the playground page, starting the server if none is asked to be used."""

from __future__ import annotations

import threading
import webbrowser
from urllib.parse import urlencode

import click


@click.command(short_help="Open the prompt playground in the browser (starts the server).")
@click.option("-p", "--prompt", "prompt", default=None, help="Start from this prompt (NAME or NAME@VERSION).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Do not start a server: one is already running at HOST:PORT.")
@click.option("--no-browser", is_flag=True, help="Print the address instead of opening a browser.")
def playground(prompt: str | None, host: str, port: int, no_serve: bool, no_browser: bool) -> None:
    """Edit a prompt, run versions × models side by side, save the draft as a new version."""
    from loopstack.config import get_settings
    from loopstack.store import get_store

    settings = get_settings()
    store = get_store(settings.resolved_database_url)
    query: dict[str, str] = {}
    if prompt:
        from loopstack.prompts import PromptRegistry

        name, _, version = prompt.partition("@")
        pv = PromptRegistry(store, settings.project).resolve(name, version or "latest")
        query = {"prompt": pv.name, "version": str(pv.version)}
    url = f"http://{host}:{port}/ui/playground" + (f"?{urlencode(query)}" if query else "")
    click.echo(f"Playground: {url}")
    if not no_browser:
        threading.Timer(1.0 if not no_serve else 0.0, webbrowser.open, args=(url,)).start()
    if no_serve:
        return
    from loopstack.server._serve import run, startup_mode

    click.echo(f"  {startup_mode(host, store, settings)}")
    run(settings, store, host, port, "warning")
