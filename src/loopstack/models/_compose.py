"""Build one request from command-line style inputs: text, a system message, a registered prompt.

The prompt arrives already fetched (the caller asks the registry, a layer beside this one): this module
only renders it, so ``models`` imports nothing above ``store``/``config``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from loopstack.errors import InvalidInput
from loopstack.models._types import ModelRequest


class RenderedPrompt(Protocol):
    """Chat messages rendered from a prompt version, attributed to it (``loopstack.PromptMessages``)."""

    prompt_name: str
    prompt_version: int

    def __iter__(self) -> Iterator[dict[str, str]]: ...


class PromptLike(Protocol):
    """What composing needs of a fetched prompt (``loopstack.Prompt`` is one)."""

    @property
    def model(self) -> str | None: ...

    @property
    def params(self) -> Mapping[str, Any]: ...

    def render(self, **variables: Any) -> RenderedPrompt: ...


@dataclass
class Composed:
    """A request and the model to send it to (the caller's choice, else the prompt's, else the default)."""

    request: ModelRequest
    model: str


def compose_request(
    text: str | None = None,
    *,
    model: str | None = None,
    system: str | None = None,
    prompt: PromptLike | None = None,
    variables: dict[str, Any] | None = None,
    **params: Any,
) -> Composed:
    """The request ``loopstack run`` sends.

    ``prompt`` (fetched by the caller, e.g. with ``get_prompt(*parse_prompt_ref("name@label"))``) is
    rendered with ``variables`` and its ``params`` apply unless overridden by ``params``; ``text``
    becomes a final user message and ``system`` a leading system message. Parameters set to None are
    ignored.
    """
    messages: list[dict[str, str]] = []
    prompt_params: dict[str, Any] = {}
    prompt_model: str | None = None
    attribution: dict[str, Any] = {}
    if prompt is not None:
        rendered = prompt.render(**(variables or {}))
        messages.extend(rendered)
        attribution = {"prompt_name": rendered.prompt_name, "prompt_version": rendered.prompt_version}
        prompt_params = dict(prompt.params)
        prompt_model = prompt.model
    elif variables:
        raise InvalidInput("--var needs --prompt: variables fill a registered prompt's template")
    if system is not None:
        messages = [m for m in messages if m["role"] != "system"] if prompt is None else messages
        messages.insert(0, {"role": "system", "content": system})
    if text is not None:
        messages.append({"role": "user", "content": text})
    if not messages:
        raise InvalidInput("nothing to send: give TEXT (or pipe it on stdin) or --prompt NAME")
    merged = {**prompt_params, **{k: v for k, v in params.items() if v is not None}, **attribution}
    request = ModelRequest.of(messages, **merged)
    if model is None:
        from loopstack.config import get_settings

        model = prompt_model or get_settings().model
    return Composed(request, model)


def parse_prompt_ref(ref: str) -> tuple[str, str | None, int | None]:
    """``(name, label, version)`` for ``get_prompt``: ``name`` -> the latest version, ``name@3`` or
    ``name@v3`` -> version 3, ``name@label`` -> that label."""
    name, _, selector = ref.partition("@")
    selector = selector.strip()
    if not selector:
        return name.strip(), "latest", None
    digits = selector[1:] if selector[:1] in ("v", "V") else selector
    if digits.isdigit():
        return name.strip(), None, int(digits)
    return name.strip(), selector, None


def parse_vars(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``["k=v", ...]`` -> ``{"k": "v"}``; a pair without ``=`` is an error naming it."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--var {pair!r}: use key=value")
        out[key.strip()] = value
    return out
