"""What ``loopstack models`` lists: providers with their capabilities, known model strings, prices."""

from __future__ import annotations

import importlib
import re
from typing import Any

from loopstack.models._pricing import price_table
from loopstack.models._provider import registered_providers
from loopstack.models._resolve import BUILTIN_PROVIDERS

_OPTIONAL_GROUP = re.compile(r"\((?:[^()]|\([^()]*\))*\)\?")


def display_name(pattern: str) -> str:
    """A readable model string for a price pattern: optional suffixes dropped, escapes removed."""
    return _OPTIONAL_GROUP.sub("", pattern).replace("\\", "")


def catalog() -> dict[str, Any]:
    """Providers (built-in and registered), known model strings and the prices in force."""
    for module in sorted(set(BUILTIN_PROVIDERS.values())):
        importlib.import_module(module)  # registers the built-ins (their SDK-free modules only)
    providers = []
    for name, cls in sorted(registered_providers().items()):
        caps = cls.capabilities
        options = cls.Options.model_fields
        key_env = options["api_key_env"].default if "api_key_env" in options else None
        providers.append(
            {
                "name": name,
                "streaming": caps.streaming,
                "json_mode": caps.json_mode,
                "seed": caps.seed,
                "free": caps.free,
                "api_key_env": key_env,
                "options": sorted(options),
                "doc": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "",
            }
        )
    from loopstack.models._finetuned import finetuned_models
    from loopstack.models._local import ALIASES

    known = [f"local/{alias}" for alias in sorted(ALIASES)]
    known += [m.model for m in finetuned_models()]
    known += [
        "local/<path to a transformers folder or .gguf file>",
        "mock/<name>",
        "openai-compatible/<model>",
    ]
    prices = []
    for pattern, rows in price_table().groups:
        name = display_name(pattern.pattern)
        if "*" not in name and name not in known:
            known.append(name)
        for row in rows:
            prices.append(
                {
                    "model": name,
                    "match": row.match,
                    "since": row.since.isoformat(),
                    "input": row.input,
                    "cached_input": row.input if row.cached_input is None else row.cached_input,
                    "output": row.output,
                    "reasoning": row.output if row.reasoning is None else row.reasoning,
                    "source": row.source,
                }
            )
    return {"providers": providers, "models": known, "prices": prices, "price_unit": "USD per 1M tokens"}
