"""Parsing the monitoring commands' options: ``--filter KEY=VALUE`` and ``--scorer NAME[:JSON]``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click


def parse_filters(texts: tuple[str, ...]) -> dict[str, Any]:
    """``prompt_name=triage``, ``prompt_version=3``, ``attributes.tier=gold``, ``tags=beta,eu`` ... as a
    filter mapping (checked by ``loopstack.monitor``, which names an unknown field)."""
    out: dict[str, Any] = {}
    for text in texts:
        key, sep, value = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(
                f"{text!r} is not KEY=VALUE (e.g. prompt_name=triage)", param_hint="--filter"
            )
        if key.startswith("attributes."):
            try:
                parsed: Any = json.loads(value)
            except ValueError:
                parsed = value
            out.setdefault("attributes", {})[key.removeprefix("attributes.")] = parsed
        elif key == "tags":
            out["tags"] = [t.strip() for t in value.split(",") if t.strip()]
        elif key == "prompt_version":
            try:
                out[key] = int(value)
            except ValueError:
                raise click.BadParameter(
                    f"prompt_version must be a whole number, not {value!r}", param_hint="--filter"
                ) from None
        else:
            out[key] = value
    return out


def parse_scorers(texts: tuple[str, ...]) -> list[dict[str, Any]]:
    """``contains:{"value": "bug"}`` or a bare ``json_valid`` as scorer references."""
    out = []
    for text in texts:
        name, sep, params = text.partition(":")
        try:
            loaded = json.loads(params) if sep else {}
        except ValueError as exc:
            raise click.BadParameter(
                f"{text!r}: the parameters after ':' must be JSON ({exc})", param_hint="--scorer"
            ) from None
        if not isinstance(loaded, dict):
            raise click.BadParameter(f"{text!r}: the parameters must be a JSON object", param_hint="--scorer")
        out.append({"name": name.strip(), "params": loaded})
    return out


def parse_when(text: str, option: str) -> datetime:
    from loopstack._inputs import parse_time

    try:
        return parse_time(text, option)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None
