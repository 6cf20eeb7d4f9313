"""Running the server: the bind-address safety check and uvicorn."""

from __future__ import annotations

from loopstack.config import Settings
from loopstack.errors import ConfigError
from loopstack.server._auth import is_loopback
from loopstack.store import Store
from loopstack.store.keys import any_active_key

__all__ = ["is_loopback", "run", "startup_mode"]


def startup_mode(host: str, store: Store, settings: Settings) -> str:
    """A line saying how requests are authenticated; ConfigError if binding ``host`` would be unsafe.

    With no API key the server is open to anyone who can reach it, which is fine on 127.0.0.1 only.
    A server that starts with keys (or beyond loopback) keeps requiring them: see ``_auth``.
    """
    with store.read() as conn:
        has_keys = any_active_key(conn)
    if has_keys:
        return "API keys required on every request (Authorization: Bearer <key>)"
    if not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {host} without API keys: anyone on the network could read and write "
            "your data; create one with 'loopstack keys create NAME', or bind 127.0.0.1"
        )
    return (
        f"no API keys configured: running OPEN for local use on {host} "
        f"(every request acts on project {settings.project!r}); create one with 'loopstack keys create'"
    )


def run(settings: Settings, store: Store, host: str, port: int, log_level: str = "warning") -> None:
    """Serve the app on ``host:port`` until interrupted."""
    import uvicorn

    from loopstack.server._app import create_app

    app = create_app(settings, store, require_keys=not is_loopback(host))
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
