"""Build one request from command-line style inputs: text, a system message, a registered prompt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loopstack.errors import InvalidInput
from loopstack.models._types import ModelRequest


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
    prompt: str | None = None,
    variables: dict[str, Any] | None = None,
    **params: Any,
) -> Composed:
    """The request ``loopstack run`` sends.

    ``prompt`` is ``name``, ``name@label`` or ``name@3``: the registered prompt is rendered with
    ``variables`` and its ``params`` apply unless overridden by ``params``; ``text`` becomes a final
    user message and ``system`` a leading system message. Parameters set to None are ignored.
    """
    messages: list[dict[str, str]] = []
    prompt_params: dict[str, Any] = {}
    prompt_model: str | None = None
    attribution: dict[str, Any] = {}
    if prompt is not None:
        import loopstack

        name, _, selector = prompt.partition("@")
        label, version = _selector(selector)
        found = loopstack.get_prompt(name.strip(), label=label, version=version, cache_ttl=0)
        rendered = found.render(**(variables or {}))
        messages.extend(rendered)
        attribution = {"prompt_name": rendered.prompt_name, "prompt_version": rendered.prompt_version}
        prompt_params = dict(found.params)
        prompt_model = found.model
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


def _selector(text: str) -> tuple[str | None, int | None]:
    """``""`` -> the latest version; ``3``/``v3`` -> version 3; anything else is a label."""
    text = text.strip()
    if not text:
        return "latest", None
    digits = text[1:] if text[:1] in ("v", "V") else text
    if digits.isdigit():
        return None, int(digits)
    return text, None


def parse_vars(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``["k=v", ...]`` -> ``{"k": "v"}``; a pair without ``=`` is an error naming it."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--var {pair!r}: use key=value")
        out[key.strip()] = value
    return out
