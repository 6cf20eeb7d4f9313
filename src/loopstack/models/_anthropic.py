"""Anthropic's Messages API (``anthropic/…``) over raw HTTP."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import aiohttp

from loopstack.models import _http
from loopstack.models._errors import AuthenticationError, ProviderError
from loopstack.models._provider import (
    Capabilities,
    Provider,
    ProviderOptions,
    TextCallback,
    register_provider,
)
from loopstack.models._types import ModelRequest, ModelResponse, Usage

API_VERSION = "2023-06-01"
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}
_JSON_INSTRUCTION = "Answer with one JSON object and nothing else."


class AnthropicOptions(ProviderOptions):
    """Where and how to reach the API."""

    base_url: str | None = None
    """API root (default: ``$ANTHROPIC_BASE_URL`` or ``https://api.anthropic.com``)."""
    api_key: str | None = None
    """Key sent as ``x-api-key``; default: the ``api_key_env`` environment variable."""
    api_key_env: str = "ANTHROPIC_API_KEY"
    default_max_tokens: int = 1024
    """The API requires a limit; used when the request sets none."""
    headers: dict[str, str] = {}


@register_provider("anthropic")
class AnthropicProvider(Provider):
    """Claude models through the Messages API."""

    Options: ClassVar[type[ProviderOptions]] = AnthropicOptions
    capabilities = Capabilities(streaming=True, json_mode=False, seed=False)
    default_max_concurrency = 64

    def __init__(self, model: str, options: ProviderOptions | None = None) -> None:
        super().__init__(model, options)
        assert isinstance(self.options, AnthropicOptions)
        self.opts: AnthropicOptions = self.options
        base = self.opts.base_url or os.environ.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com"
        self.url = base.rstrip("/") + "/v1/messages"
        self._key = self.opts.api_key or os.environ.get(self.opts.api_key_env)
        self._key_hint = f"set {self.opts.api_key_env} or pass the api_key option"
        self.headers = {
            "Content-Type": "application/json",
            "anthropic-version": API_VERSION,
            **self.opts.headers,
        }
        if self._key:
            self.headers["x-api-key"] = self._key

    @property
    def limit_key(self) -> str:
        return f"{self.name}:{self.url}"

    def body(self, request: ModelRequest) -> dict[str, Any]:
        """The JSON body of a Messages call: system messages lifted out, the rest in order."""
        system = [m.content for m in request.messages if m.role == "system"]
        if request.response_format == "json":
            system.append(_JSON_INSTRUCTION)
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens or self.opts.default_max_tokens,
            "messages": [
                {"role": m.role, "content": m.content} for m in request.messages if m.role != "system"
            ],
        }
        if system:
            body["system"] = "\n\n".join(system)
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.stop:
            body["stop_sequences"] = request.stop
        return body

    def missing_credentials(self) -> str | None:
        return None if self._key else f"{self.name}: no API key; {self._key_hint}"

    async def generate(self, request: ModelRequest) -> ModelResponse:
        if not self._key:
            raise AuthenticationError(
                f"{self.name}: no API key; {self._key_hint}", provider=self.name, status=None
            )
        client = await _http.session()
        try:
            async with client.post(
                self.url, data=_http.dumps(self.body(request)), headers=self.headers
            ) as resp:
                data = await resp.read()
                if resp.status >= 300:
                    raise _http.error_for_status(self.name, resp.status, resp.headers, data, self._key_hint)
        except aiohttp.ClientError as exc:
            raise _http.connection_error(self.name, self.url, exc) from None
        return self.parse(_http.loads(data, self.name))

    async def stream(self, request: ModelRequest, on_text: TextCallback) -> ModelResponse:
        if not self._key:
            raise AuthenticationError(
                f"{self.name}: no API key; {self._key_hint}", provider=self.name, status=None
            )
        message: dict[str, Any] = {"content": [], "usage": {}}
        parts: list[str] = []
        body = {**self.body(request), "stream": True}
        async for event in _http.sse_events(self.url, body, self.headers, self.name, self._key_hint):
            if isinstance(event, _http.NotStreamed):  # a server that ignored "stream": one piece
                whole = self.parse(event.body)
                on_text(whole.text)
                return whole
            kind = event.get("type")
            if kind == "message_start":
                message.update(event.get("message") or {})
                message["content"] = []
            elif kind == "content_block_delta":
                text = (event.get("delta") or {}).get("text")
                if text:
                    parts.append(text)
                    on_text(text)
            elif kind == "message_delta":
                message["stop_reason"] = (event.get("delta") or {}).get("stop_reason")
                message["usage"] = {**(message.get("usage") or {}), **(event.get("usage") or {})}
            elif kind == "error":
                err = event.get("error") or {}
                raise ProviderError(
                    f"{self.name}: {err.get('type', 'error')}: {err.get('message', '')}",
                    provider=self.name,
                    retryable=err.get("type") == "overloaded_error",
                )
        message["content"] = [{"type": "text", "text": "".join(parts)}]
        return self.parse(message)

    def parse(self, data: Any) -> ModelResponse:
        """A ModelResponse from a Messages reply (text blocks joined; cache reads counted as input)."""
        try:
            text = "".join(b.get("text", "") for b in data["content"] if b.get("type") == "text")
        except (KeyError, TypeError, AttributeError):
            raise ProviderError(
                f"{self.name}: unexpected reply shape: {str(data)[:200]}", provider=self.name
            ) from None
        raw = data.get("usage") or {}
        cache_read = int(raw.get("cache_read_input_tokens") or 0)
        cache_write = int(raw.get("cache_creation_input_tokens") or 0)
        usage = Usage(
            input_tokens=int(raw.get("input_tokens") or 0) + cache_read + cache_write,
            output_tokens=int(raw.get("output_tokens") or 0),
            cached_input_tokens=cache_read,
        )
        stop = data.get("stop_reason")
        return ModelResponse(
            text=text,
            finish_reason=_FINISH.get(stop, stop) if stop else None,
            usage=usage,
            id=data.get("id"),
            response_model=data.get("model"),
        )
