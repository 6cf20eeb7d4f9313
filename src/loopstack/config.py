"""Settings: one source per setting, each readable from a ``LOOPSTACK_*`` environment variable.

A plain pydantic model that reads its own environment variables (``LOOPSTACK_<FIELD>``, the name in
any case; keyword arguments win over the environment, the environment over the defaults): every
command reads the settings, and pydantic-settings alone took ~25 ms of each command's start-up.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from loopstack.errors import ConfigError

ENV_PREFIX = "loopstack_"


def _from_environment(fields: Any) -> dict[str, str]:
    """``LOOPSTACK_<FIELD>`` values of the process environment, by field name."""
    found = {k.lower(): v for k, v in os.environ.items() if k.lower().startswith(ENV_PREFIX)}
    return {name: found[ENV_PREFIX + name] for name in fields if ENV_PREFIX + name in found}


class Settings(BaseModel):
    """Loopstack configuration. Every field can be set with ``LOOPSTACK_<FIELD>``."""

    model_config = ConfigDict(extra="ignore")

    def __init__(self, **values: Any) -> None:
        env = _from_environment(type(self).model_fields)
        try:
            super().__init__(**{**env, **values})
        except ValidationError as exc:  # one line naming the variable, not a traceback
            err = exc.errors()[0]
            name = str(err["loc"][0]) if err["loc"] else "settings"
            where = f"LOOPSTACK_{name.upper()}={env[name]!r}" if name in env and name not in values else name
            raise ConfigError(f"{where}: {err['msg']}") from None

    home: Path = Field(default_factory=lambda: Path.home() / ".loopstack")
    """Directory holding all local state (the SQLite database, caches). Tests point it at a temp dir."""

    database_url: str | None = None
    """SQLAlchemy URL of the store. Default: SQLite at ``$LOOPSTACK_HOME/loopstack.db``."""

    project: str = "default"
    """Project that local SDK and CLI calls read and write."""

    endpoint: str | None = None
    """Base URL of a Loopstack server. When set, the SDK talks to it instead of the local store."""

    api_key: str | None = None
    """Bearer key for ``endpoint``."""

    model: str = "local/smollm2-135m"
    """Default model for commands that run one (``loopstack quickstart``, ``loopstack run``)."""

    prompt_cache_ttl: float = 60.0
    """Seconds a fetched prompt is served from the in-process cache before it is revalidated."""

    trace_sample_rate: float = 1.0
    """Fraction of traces the SDK records (0..1); a trace is kept or dropped whole."""

    trace_capture_limit: int = 8000
    """Longest text (characters) the SDK records for a span's input or output; the rest is cut."""

    trace_flush_timeout: float = 2.0
    """Seconds the SDK waits at exit to send pending spans before giving up on them."""

    price_file: Path | None = None
    """YAML price table (same shape as ``loopstack/models/prices.yaml``) whose rows take precedence."""

    allowed_hosts: list[str] = Field(default_factory=list)
    """Host names (comma-separated in the environment) an OPEN server (no API keys) answers besides
    localhost, 127.0.0.1 and [::1]; any other Host header gets 403, which stops DNS rebinding. ``*``
    allows any name."""

    pii_salt: str | None = None
    """Secret salt of the ``hash`` PII masking strategy (the same value hashes alike wherever it is set)."""

    pii_policy: str = "off"
    """PII policy for requests to external model providers: ``off``, ``mask`` (masked before they are
    sent) or ``refuse`` (a request holding PII is not sent). A project's stored setting overrides it."""
    smtp_host: str = "localhost"
    """SMTP server alert emails are sent through (an email channel may name its own)."""

    smtp_port: int = 25
    """Port of ``smtp_host``."""

    smtp_from: str = "loopstack@localhost"
    """Sender address of alert emails."""

    monitor: bool = True
    """Run the server's monitoring worker (online evaluators, alert rules, deliveries)."""

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force: the explicit one, or SQLite under ``home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'loopstack.db'}"


class _ProcessSettings:
    """``get_settings()``: the process-wide settings, read once from the environment.

    ``loopstack.init(endpoint=…, api_key=…, project=…)`` overrides those fields for the whole process
    (``configure``), so spans, ``get_prompt`` and ``feedback`` share one configuration.
    ``cache_clear()`` rereads the environment and forgets the overrides.
    """

    def __init__(self) -> None:
        self._current: Settings | None = None
        self._lock = threading.RLock()

    def __call__(self) -> Settings:
        current = self._current
        if current is None:
            with self._lock:
                if self._current is None:
                    self._current = Settings()
                current = self._current
        return current

    def cache_clear(self) -> None:
        """Forget the settings (and any ``configure`` overrides); the next call rereads the environment."""
        with self._lock:
            self._current = None

    def configure(self, **values: object) -> Settings:
        """Replace the given fields of the process-wide settings (None leaves a field as it is)."""
        updates = {k: v for k, v in values.items() if v is not None}
        unknown = set(updates) - set(Settings.model_fields)
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        with self._lock:
            current = self()
            if any(getattr(current, k) != v for k, v in updates.items()):
                self._current = current = current.model_copy(update=updates)
            return current


get_settings = _ProcessSettings()
