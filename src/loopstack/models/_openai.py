"""OpenAI and OpenAI-compatible chat completions (``openai/…``, ``openai-compatible/…``) over raw HTTP.

Any server that speaks ``POST {base_url}/chat/completions`` works with ``openai-compatible``: vLLM,
Ollama, llama.cpp server, LM Studio, Together, Groq …
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import aiohttp

from loopstack.errors import ConfigError
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

_FINISH = {"stop": "stop", "length": "length", "content_filter": "content_filter", "tool_calls": "tool_calls"}


class OpenAIOptions(ProviderOptions):
    """Where and how to reach the API."""

    base_url: str | None = None
    """API root, e.g. ``https://api.openai.com/v1`` (default: ``$OPENAI_BASE_URL`` or that)."""
    api_key: str | None = None
    """Key sent as ``Authorization: Bearer``; default: the ``api_key_env`` environment variable."""
    api_key_env: str | None = "OPENAI_API_KEY"
    organization: str | None = None
    headers: dict[str, str] = {}
    """Extra HTTP headers sent with every request."""


class OpenAICompatibleOptions(OpenAIOptions):
    """Like OpenAI's, but ``base_url`` is required and the key optional (local servers need none)."""

    api_key_env: str | None = None


@register_provider("openai")
class OpenAIProvider(Provider):
    """OpenAI's chat completions API."""

    Options: ClassVar[type[ProviderOptions]] = OpenAIOptions
    capabilities = Capabilities(streaming=True, json_mode=True, seed=True)
    default_max_concurrency = 128
    default_base_url: ClassVar[str | None] = "https://api.openai.com/v1"
    key_required: ClassVar[bool] = True
    #: OpenAI's current name for the limit; compatible servers still expect ``max_tokens``.
    max_tokens_field: ClassVar[str] = "max_completion_tokens"

    def __init__(self, model: str, options: ProviderOptions | None = None) -> None:
        super().__init__(model, options)
        assert isinstance(self.options, OpenAIOptions)
        opts: OpenAIOptions = self.options
        base = opts.base_url or os.environ.get("OPENAI_BASE_URL") or self.default_base_url
        if not base:
            raise ConfigError(
                f"{self.model_string}: set the base_url option, e.g. base_url=http://localhost:11434/v1"
            )
        self.url = base.rstrip("/") + "/chat/completions"
        self.headers = {"Content-Type": "application/json", "Accept": "application/json", **opts.headers}
        self._key_hint = self._describe_key_source(opts)
        key = opts.api_key or (os.environ.get(opts.api_key_env) if opts.api_key_env else None)
        self._missing_key = self.key_required and not key
        if key:
            self.headers["Authorization"] = f"Bearer {key}"
        if opts.organization:
            self.headers["OpenAI-Organization"] = opts.organization

    def _describe_key_source(self, opts: OpenAIOptions) -> str:
        if opts.api_key_env:
            return f"set {opts.api_key_env} or pass the api_key option"
        return "pass the api_key (or api_key_env) option"

    @property
    def limit_key(self) -> str:
        return f"{self.name}:{self.url}"

    def body(self, request: ModelRequest, stream: bool = False) -> dict[str, Any]:
        """The JSON body of a chat completion for ``request``."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body[self.max_tokens_field] = request.max_tokens
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.stop:
            body["stop"] = request.stop
        if request.seed is not None:
            body["seed"] = request.seed
        if request.response_format == "json":
            body["response_format"] = {"type": "json_object"}
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def missing_credentials(self) -> str | None:
        return f"{self.name}: no API key; {self._key_hint}" if self._missing_key else None

    def _check_key(self) -> None:
        if self._missing_key:
            raise AuthenticationError(
                f"{self.name}: no API key; {self._key_hint}", provider=self.name, status=None
            )

    async def generate(self, request: ModelRequest) -> ModelResponse:
        self._check_key()
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

    def parse(self, data: Any) -> ModelResponse:
        """A ModelResponse from a chat completion JSON object."""
        try:
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
            finish = choice.get("finish_reason")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ProviderError(
                f"{self.name}: unexpected reply shape: {str(data)[:200]}", provider=self.name
            ) from None
        # model_construct: the values are already normalised here, and validation is a hot-path cost
        return ModelResponse.model_construct(
            text=str(text),
            finish_reason=_FINISH.get(finish, finish) if finish else None,
            usage=_usage(data.get("usage")),
            id=_str_or_none(data.get("id")),
            response_model=_str_or_none(data.get("model")),
        )

    async def stream(self, request: ModelRequest, on_text: TextCallback) -> ModelResponse:
        self._check_key()
        parts: list[str] = []
        finish: str | None = None
        usage: Usage | None = None
        rid: str | None = None
        rmodel: str | None = None
        body = self.body(request, stream=True)
        async for event in _http.sse_events(self.url, body, self.headers, self.name, self._key_hint):
            if isinstance(event, _http.NotStreamed):  # a server that ignored "stream": one piece
                whole = self.parse(event.body)
                on_text(whole.text)
                return whole
            rid = rid or event.get("id")
            rmodel = rmodel or event.get("model")
            if event.get("usage"):
                usage = _usage(event["usage"])
            for choice in event.get("choices") or []:
                delta = (choice.get("delta") or {}).get("content")
                if delta:
                    parts.append(delta)
                    on_text(delta)
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
        return ModelResponse(
            text="".join(parts),
            finish_reason=_FINISH.get(finish, finish) if finish else None,
            usage=usage or Usage(),
            id=rid,
            response_model=rmodel,
        )


@register_provider("openai-compatible")
class OpenAICompatibleProvider(OpenAIProvider):
    """Any server with an OpenAI-style ``/chat/completions`` endpoint; needs the ``base_url`` option."""

    Options = OpenAICompatibleOptions
    default_base_url = None
    key_required = False
    max_tokens_field = "max_tokens"


def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    return Usage.model_construct(
        input_tokens=int(raw.get("prompt_tokens") or 0),
        output_tokens=int(raw.get("completion_tokens") or 0),
        cached_input_tokens=int(prompt_details.get("cached_tokens") or 0),
        reasoning_tokens=int(completion_details.get("reasoning_tokens") or 0),
    )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
