"""Validation of prompt content shared by the registry, YAML files and the API.

Checks raise ``FieldError`` carrying the path of the bad field (``messages[1].role``) so each caller
can name the place in its own terms (a file and line, a request body, a function argument).
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from loopstack.prompts._template import syntax_error
from loopstack.prompts._types import LATEST, ROLES

NAME_RE = re.compile(r"^[a-z0-9_.-]{1,200}$")
LABEL_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


class FieldError(ValueError):
    """A field of prompt content is invalid; ``path`` names it."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}" if path else problem)
        self.path = path
        self.problem = problem


def check_name(name: Any, path: str = "name") -> str:
    """A prompt name: lower-case letters, digits, ``_ . -``."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise FieldError(path, f"invalid prompt name {name!r} (use lower-case letters, digits, _ . -)")
    return name


def check_label(label: Any, path: str = "label") -> str:
    """A label name; ``latest`` is implicit and cannot be set."""
    if not isinstance(label, str) or not LABEL_RE.match(label):
        raise FieldError(path, f"invalid label {label!r} (use letters, digits, _ . -)")
    if label == LATEST:
        raise FieldError(path, "'latest' always means the highest version and cannot be moved")
    return label


def check_messages(messages: Any, path: str = "messages") -> list[dict[str, str]]:
    """A non-empty list of ``{role, content}`` whose contents compile as templates."""
    if not isinstance(messages, list) or not messages:
        raise FieldError(path, "must be a non-empty list of {role, content} messages")
    out: list[dict[str, str]] = []
    for i, m in enumerate(messages):
        where = f"{path}[{i}]"
        if not isinstance(m, dict):
            raise FieldError(where, "must be a mapping with 'role' and 'content'")
        for key in ("role", "content"):
            if key not in m:
                raise FieldError(where, f"missing required field '{key}'")
        extra = sorted(set(m) - {"role", "content"})
        if extra:
            raise FieldError(f"{where}.{extra[0]}", "unknown field (a message has only 'role' and 'content')")
        role, content = m["role"], m["content"]
        if role not in ROLES:
            raise FieldError(f"{where}.role", f"unknown role {role!r} (expected one of {', '.join(ROLES)})")
        if not isinstance(content, str):
            raise FieldError(f"{where}.content", "must be a string")
        problem = syntax_error(content)
        if problem:
            raise FieldError(f"{where}.content", problem)
        out.append({"role": role, "content": content})
    return out


def check_model(model: Any, path: str = "model") -> str | None:
    """An optional model string such as ``openai/gpt-4o-mini``."""
    if model is None:
        return None
    if not isinstance(model, str) or not model.strip():
        raise FieldError(path, "must be a model string such as 'openai/gpt-4o-mini'")
    return model


#: The generation parameters a model request accepts (``models.ModelRequest``; a test keeps them equal).
REQUEST_PARAMS = ("temperature", "max_tokens", "top_p", "stop", "seed", "response_format")


def did_you_mean(word: str, choices: Any) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_param(key: str, value: Any, path: str) -> None:
    """The value of a known parameter has the type a model request needs (None: the provider's default)."""
    if value is None:
        return
    ok = {
        "temperature": _number(value) and value >= 0,
        "max_tokens": isinstance(value, int) and not isinstance(value, bool) and value > 0,
        "top_p": _number(value) and 0 < value <= 1,
        "stop": isinstance(value, list) and all(isinstance(v, str) for v in value),
        "seed": isinstance(value, int) and not isinstance(value, bool),
        "response_format": value in ("text", "json"),
    }[key]
    if not ok:
        need = {
            "temperature": "a number >= 0",
            "max_tokens": "a whole number > 0",
            "top_p": "a number in (0, 1]",
            "stop": "a list of strings",
            "seed": "a whole number",
            "response_format": "'text' or 'json'",
        }[key]
        raise FieldError(path, f"must be {need}, got {value!r}")


def check_params(params: Any, path: str = "params") -> dict[str, Any]:
    """Optional model parameters: a mapping of the known request parameters to valid values.

    A misspelt name (``temprature``) is refused here, with the closest known name, instead of failing
    (or being dropped) when a model is finally called.
    """
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise FieldError(path, "must be a mapping such as {temperature: 0}")
    for key, value in params.items():
        if not isinstance(key, str):
            raise FieldError(path, f"parameter names must be strings, got {key!r}")
        if key not in REQUEST_PARAMS:
            raise FieldError(
                f"{path}.{key}",
                f"unknown parameter {key!r}{did_you_mean(key, REQUEST_PARAMS)}; "
                f"known: {', '.join(REQUEST_PARAMS)}",
            )
        _check_json(value, f"{path}.{key}")
        _check_param(key, value, f"{path}.{key}")
    return dict(params)


def _check_json(value: Any, path: str) -> None:
    if value is None or isinstance(value, str | int | float | bool):
        return
    if isinstance(value, list):
        for i, v in enumerate(value):
            _check_json(v, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise FieldError(path, f"keys must be strings, got {k!r}")
            _check_json(v, f"{path}.{k}")
        return
    raise FieldError(path, f"must be a JSON value (string, number, boolean, list, mapping), got {value!r}")


def check_optional_text(value: Any, path: str) -> str | None:
    """An optional string field (description, commit message)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise FieldError(path, "must be a string")
    return value
