"""Request and response types shared by every provider: the one shape a model call has."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from loopstack.errors import InvalidInput

Role = Literal["system", "user", "assistant"]


class Message(BaseModel):
    """One chat message."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    content: str


class ModelRequest(BaseModel):
    """What to ask a model: chat messages plus generation parameters.

    ``messages`` accepts dicts or :class:`Message`; when it is a rendered ``PromptMessages`` list (it has
    ``prompt_name``/``prompt_version`` attributes) the prompt name and version are copied onto the
    request so the call's span is attributed to that prompt version. ``epoch`` is part of the cache key:
    an eval that samples each item several times asks for epochs 0..n-1 and gets distinct answers.
    """

    model_config = ConfigDict(extra="forbid")

    messages: list[Message]
    temperature: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, gt=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: list[str] | None = None
    seed: int | None = None
    response_format: Literal["text", "json"] = "text"
    """``json`` asks the provider for a JSON object (OpenAI ``json_object``; others via instructions)."""
    prompt_name: str | None = None
    prompt_version: int | None = None
    prompt_variables: dict[str, Any] | None = None
    """The variables the prompt was rendered with (recorded on the call's span, not sent to the model)."""
    rollout_id: str | None = None
    rollout_arm: str | None = None
    """The rollout arm that served the prompt (recorded on the span; not part of the cache key)."""
    epoch: int = Field(default=0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _take_prompt_attribution(cls, data: Any) -> Any:
        if isinstance(data, dict):
            messages = data.get("messages")
            name = getattr(messages, "prompt_name", None)
            if name is not None and data.get("prompt_name") is None:
                data = {**data, "prompt_name": name}
                version = getattr(messages, "prompt_version", None)
                if version is not None and data.get("prompt_version") is None:
                    data["prompt_version"] = version
                variables = getattr(messages, "prompt_variables", None)
                if variables and data.get("prompt_variables") is None:
                    data["prompt_variables"] = dict(variables)
                rollout_id = getattr(messages, "rollout_id", None)
                if rollout_id and data.get("rollout_id") is None:
                    data["rollout_id"] = rollout_id
                    data["rollout_arm"] = getattr(messages, "rollout_arm", None)
            if isinstance(messages, str):
                data = {**data, "messages": [{"role": "user", "content": messages}]}
        return data

    @classmethod
    def of(cls, messages: Any, **params: Any) -> ModelRequest:
        """A request from a string (one user message), a list of dicts/Messages, or PromptMessages.

        A bad parameter is an :class:`InvalidInput` naming it (``parameter temperature: ...``).
        """
        return cls.checked({"messages": messages, **params})

    @classmethod
    def checked(cls, data: dict[str, Any]) -> ModelRequest:
        """``model_validate`` whose error is one line naming the parameter, for users to read."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "request"
            raise InvalidInput(f"parameter {where}: {err['msg']}") from None

    def params(self) -> dict[str, Any]:
        """The generation parameters that were set (no messages, no attribution): cache key and span."""
        keys = ("temperature", "max_tokens", "top_p", "stop", "seed", "response_format")
        out = {k: getattr(self, k) for k in keys if getattr(self, k) is not None}
        if out.get("response_format") == "text":
            del out["response_format"]
        return out


class Usage(BaseModel):
    """Token counts of one call.

    ``input_tokens`` counts every prompt token, including ``cached_input_tokens`` (the part served from
    the provider's prompt cache); ``output_tokens`` counts every generated token, including
    ``reasoning_tokens``. Providers that report them differently are normalised to this.
    """

    model_config = ConfigDict(extra="forbid")

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


class ModelResponse(BaseModel):
    """What a model answered, with accounting.

    Providers fill ``text``, ``finish_reason``, ``usage``, ``id`` and ``response_model``; the models layer
    fills ``model``, ``provider``, ``latency_ms``, ``cost`` and ``cached`` (True when the answer was
    replayed from the response cache rather than generated now).
    """

    model_config = ConfigDict(extra="forbid")

    text: str
    finish_reason: str | None = None
    """``stop``, ``length``, ``content_filter`` ... as the provider reported it (normalised names)."""
    usage: Usage = Field(default_factory=Usage)
    id: str | None = None
    """The provider's own id of the response (e.g. ``chatcmpl-...``)."""
    response_model: str | None = None
    """The model name the provider says answered (may be more specific than the request's)."""
    model: str = ""
    """The model string that was called, e.g. ``openai/gpt-4o-mini``."""
    provider: str = ""
    latency_ms: float = 0.0
    cost: float | None = None
    """USD; 0 for local and mock models; None when the price of the model is unknown."""
    cached: bool = False
