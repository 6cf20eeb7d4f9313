"""From a dataset item to the chat messages a student is trained on and served with.

One function decides how an item becomes messages, so the fine-tuning export, the teacher's requests
and the served student all see the same text:

* with a ``prompt`` (a registered prompt version): the prompt rendered with the item's input
  variables, every message it has (system, few-shot turns, the final user turn);
* without one: an optional system message, then ONE user message rendered from the input:
  - an input holding only ``messages`` (chat turns, as spans without template variables are stored)
    gives those turns (their system turns replaced by the system prompt when one is given);
  - an input with one variable gives that value as the text (``{"review": "Great"}`` → ``Great``);
  - an input with several variables gives one ``name: value`` line per variable, in the input's order
    (non-text values as compact JSON).
* the target (the item's expected output, or a teacher label) becomes the final assistant message:
  text as is, anything else as JSON (``{"topic": "bug", "sentiment": "negative"}``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loopstack.errors import InvalidInput
from loopstack.prompts.prompt import Prompt
from loopstack.store.datasets import DatasetItem

_NO_TARGET = object()


def render_user(input: Mapping[str, Any]) -> str:
    """The user message text for an item's input variables (the module docstring gives the rule)."""
    if len(input) == 1:
        (value,) = input.values()
        return value if isinstance(value, str) else _json(value)
    return "\n".join(f"{k}: {v if isinstance(v, str) else _json(v)}" for k, v in input.items())


def target_text(value: Any) -> str:
    """An expected output (or teacher label) as the assistant message's text."""
    return value if isinstance(value, str) else _json(value)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _chat_turns(input: Mapping[str, Any]) -> list[dict[str, str]] | None:
    """The chat turns of an input that holds only ``messages``, else None."""
    turns = input.get("messages")
    if set(input) != {"messages"} or not isinstance(turns, list):
        return None
    out: list[dict[str, str]] = []
    for t in turns:
        if isinstance(t, Mapping) and t.get("role") in ("system", "user", "assistant"):
            content = t.get("content")
            out.append(
                {"role": str(t["role"]), "content": content if isinstance(content, str) else _json(content)}
            )
    return out or None


def prompt_messages(
    input: Mapping[str, Any], *, system_prompt: str | None = None, prompt: Prompt | None = None
) -> list[dict[str, str]]:
    """The request messages for ``input`` (everything but the answer), by the module's rule.

    ``system_prompt`` replaces the prompt's system messages when both are given.
    """
    if prompt is not None:
        messages = [dict(m) for m in prompt.render(**dict(input))]
    else:
        turns = _chat_turns(input)
        messages = turns if turns is not None else [{"role": "user", "content": render_user(input)}]
    if system_prompt is not None:
        messages = [{"role": "system", "content": system_prompt}] + [
            m for m in messages if m["role"] != "system"
        ]
    return messages


def to_chat_messages(
    item: DatasetItem,
    *,
    system_prompt: str | None = None,
    prompt: Prompt | None = None,
    target: Any = _NO_TARGET,
    include_target: bool = True,
) -> list[dict[str, str]]:
    """``item`` as chat messages: the request (``prompt_messages``) plus the answer as the last message.

    ``target`` overrides the item's expected output (e.g. a teacher label); ``include_target=False``
    gives the request only (what the served student receives). An item with no target is an error
    naming it: a training example needs an answer.
    """
    messages = prompt_messages(item.input, system_prompt=system_prompt, prompt=prompt)
    if not include_target:
        return messages
    value = item.expected if target is _NO_TARGET else target
    if value is None:
        raise InvalidInput(f"item {item.key!r} has no expected output (label it, or leave it out)")
    return [*messages, {"role": "assistant", "content": target_text(value)}]


def read_system_prompt(value: str | None) -> str | None:
    """``--system-prompt`` as given: the text, or ``@file`` for the file's text (final newline dropped)."""
    if value is None or not value.startswith("@"):
        return value
    path = Path(value[1:]).expanduser()
    if not path.is_file():
        raise InvalidInput(f"--system-prompt {value}: no such file")
    return path.read_text(encoding="utf-8").rstrip("\n")


def resolve_prompt(ref: str, *, store: Any = None, project: str | None = None) -> Prompt:
    """The registered prompt version ``NAME``, ``NAME@LABEL`` or ``NAME@VERSION`` names."""
    from loopstack.config import get_settings
    from loopstack.models import parse_prompt_ref
    from loopstack.prompts import PromptRegistry
    from loopstack.store import get_store

    name, label, version = parse_prompt_ref(ref)
    pv = PromptRegistry(store or get_store(), project or get_settings().project).get(
        name, label=label, version=version
    )
    return Prompt(pv.name, pv.version, list(pv.messages), pv.model, dict(pv.params), label)
