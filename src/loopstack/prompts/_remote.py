"""Prompts from a Loopstack server: a ``PromptSource`` over the REST API (httpx, Bearer key).

Chosen by ``make_source`` when ``LOOPSTACK_ENDPOINT`` is set; the SDK cache in ``client.py`` sits in
front of it, so a slow or unreachable server only costs the first fetch of a prompt.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from loopstack import __version__
from loopstack.errors import ConfigError, InvalidInput, NotFound, StoreUnavailable
from loopstack.prompts._types import PromptVersion, rollout_from_json

if TYPE_CHECKING:
    from loopstack.config import Settings

_FIELDS = frozenset(PromptVersion.__dataclass_fields__)


def version_from_json(data: dict[str, Any]) -> PromptVersion:
    """A PromptVersion from ``GET /api/prompts/{name}`` (``PromptVersion.to_dict`` on the server)."""
    values = {k: v for k, v in data.items() if k in _FIELDS}
    if values.get("created_at"):
        values["created_at"] = datetime.fromisoformat(values["created_at"])
    values["params"] = values.get("params") or {}
    values["labels"] = list(values.get("labels") or [])
    values["rollout"] = rollout_from_json(values.get("rollout"))
    return PromptVersion(**values)


class RemotePromptSource:
    """Fetches prompt versions from ``settings.endpoint`` with ``settings.api_key``."""

    def __init__(self, settings: Settings, *, timeout: float = 5.0) -> None:
        if not settings.endpoint:
            raise ConfigError("LOOPSTACK_ENDPOINT is not set")
        self.endpoint = settings.endpoint.rstrip("/")
        self._headers = {"user-agent": f"loopstack/{__version__}"}
        if settings.api_key:
            self._headers["authorization"] = f"Bearer {settings.api_key}"
        self._timeout = timeout
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(headers=self._headers, timeout=self._timeout)
            return self._client

    def fetch(self, name: str, *, label: str | None = None, version: int | None = None) -> PromptVersion:
        params: dict[str, str | int] = {}
        if label is not None:
            params["label"] = label
        if version is not None:
            params["version"] = version
        url = f"{self.endpoint}/api/prompts/{quote(name, safe='')}"
        try:
            response = self._http().get(url, params=params)
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"cannot reach the Loopstack server at {self.endpoint}: {exc}") from None
        if response.status_code == 200:
            return version_from_json(response.json())
        detail = _detail(response)
        if response.status_code == 404:
            raise NotFound(detail)
        if response.status_code in (401, 403):
            raise ConfigError(f"the server at {self.endpoint} refused LOOPSTACK_API_KEY: {detail}")
        if response.status_code in (400, 422):
            raise InvalidInput(detail)
        raise StoreUnavailable(f"the server at {self.endpoint} answered {response.status_code}: {detail}")

    def close(self) -> None:
        """Close the HTTP connection pool."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return str(detail) if detail else response.text[:200]
