"""The ONE mapping from a received span (``SpanRecord``) to a ``spans`` row.

Attribute names from the GenAI semantic conventions (old and new), OpenInference and ``loopstack.*``
are mapped into columns; every attribute that does not fill ``input``/``output`` stays in
``attributes``. Every value is made storable on both dialects here: NUL characters are stripped (no
PostgreSQL text or JSONB value may hold one), a number that does not fit its integer column leaves
the column empty and stays in ``attributes``, a time outside the calendar is dropped.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import orjson

from loopstack import semconv as sc
from loopstack.store._types import utcnow
from loopstack.store.environments import span_environment

#: Longest text kept in the ``input``/``output`` columns; longer values are cut with a marker.
MAX_TEXT = 1_000_000
#: The range of an ``Integer`` column on PostgreSQL (and so on both dialects).
INT_MIN, INT_MAX = -(2**31), 2**31 - 1

_MODEL_KEYS = (sc.GEN_AI_RESPONSE_MODEL, sc.GEN_AI_REQUEST_MODEL, sc.OI_MODEL_NAME)
_PROVIDER_KEYS = (sc.GEN_AI_PROVIDER, sc.GEN_AI_SYSTEM, sc.OI_PROVIDER, "llm.system")
_INPUT_TOKEN_KEYS = (sc.GEN_AI_USAGE_INPUT_TOKENS, "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
_OUTPUT_TOKEN_KEYS = (
    sc.GEN_AI_USAGE_OUTPUT_TOKENS,
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
)
_CACHE_KEYS = (sc.GEN_AI_USAGE_CACHE_READ_TOKENS, "llm.token_count.prompt_details.cache_read")
_REASONING_KEYS = (sc.GEN_AI_USAGE_REASONING_TOKENS, "llm.token_count.completion_details.reasoning")
_COST_KEYS = (sc.COST, "llm.cost.total", "gen_ai.usage.cost")
_INPUT_KEYS = (sc.INPUT, "input.value", "gen_ai.input.messages", "gen_ai.prompt")
_OUTPUT_KEYS = (sc.OUTPUT, "output.value", "gen_ai.output.messages", "gen_ai.completion")
_PROMPT_NAME_KEYS = (sc.PROMPT_NAME, "llm.prompt_template.name")
_PROMPT_VERSION_KEYS = (sc.PROMPT_VERSION, "llm.prompt_template.version")
_SESSION_KEYS = (sc.SESSION_ID, "session.id", sc.GEN_AI_CONVERSATION_ID)
_USER_KEYS = (sc.USER_ID, "user.id", "enduser.id")
_TAG_KEYS = (sc.TAGS, "tag.tags")
#: Where LangChain and other OpenInference sources put the model in the invocation parameters.
_PARAM_MODEL_KEYS = ("model", "model_name", "model_id", "deployment_name", "engine")
_OI_MESSAGE = re.compile(r"llm\.(input|output)_messages\.(\d+)\.message\.(.+)")


@dataclass(slots=True)
class SpanRecord:
    """A span as received, before mapping: hex ids, nanosecond times, plain attribute values."""

    trace_id: str
    span_id: str
    name: str
    start_ns: int
    end_ns: int | None = None
    parent_span_id: str | None = None
    kind: str = "INTERNAL"
    status_code: str = "UNSET"
    status_message: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] | None = None


def _first(attrs: Mapping[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        if key in attrs:
            value = attrs[key]
            if value is not None and value != "":
                return value
    return None


def _first_key(attrs: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    for key in keys:
        if key in attrs:
            value = attrs[key]
            if value is not None and value != "":
                return key
    return None


def _int(value: Any) -> int | None:
    """An integer that fits an ``Integer`` column; anything else leaves the column empty."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if INT_MIN <= number <= INT_MAX else None


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _clean(text: str) -> str:
    return text.replace("\x00", "") if "\x00" in text else text


def _str(value: Any, limit: int = 200) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return _clean(text[:limit])


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    else:
        try:
            text = orjson.dumps(value, default=str).decode()
        except (orjson.JSONEncodeError, TypeError):  # too deep, or an integer beyond 64 bits
            text = str(value)
    text = _clean(text)
    if len(text) > MAX_TEXT:
        return text[:MAX_TEXT] + "…[truncated]"
    return text


def _tags(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value.startswith("["):
            try:
                parsed = orjson.loads(value)
            except orjson.JSONDecodeError:
                return [value]
            return [str(v) for v in parsed] if isinstance(parsed, list) else [value]
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _time(ns: int | None) -> datetime | None:
    if ns is None or ns <= 0:
        return None
    try:
        return datetime.fromtimestamp(ns / 1e9, UTC)
    except (OverflowError, ValueError, OSError):
        return None


# ------------------------------------------------------------------------------------------------ cost

_MISSING = object()
_USAGE_FIELDS = ("input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens")

#: ``(model, provider, usage, at) -> USD or None``: how a caller prices a span's usage.
CostFn = Callable[[str | None, str | None, Mapping[str, int | None], datetime | None], float | None]
#: ``(model string, at) -> price or None``, a price being anything with ``.cost(usage)`` (the models
#: layer's ``price_for``). The store never imports a price table: callers pass one in (layering).
PriceLookup = Callable[[str, datetime | None], Any]


class SpanCost:
    """A ``CostFn`` over a price lookup, caching price rows per model and day for a minute.

    Ingest maps thousands of spans a second, and a price lookup reads the price file's table.
    """

    def __init__(self, price_for: PriceLookup) -> None:
        self._price_for = price_for
        self._prices: dict[tuple[str, date], Any] = {}
        self._at = 0.0

    def __call__(
        self,
        model: str | None,
        provider: str | None,
        usage: Mapping[str, int | None],
        at: datetime | None = None,
    ) -> float | None:
        if not model or (usage.get("input_tokens") is None and usage.get("output_tokens") is None):
            return None
        name = model if "/" in model or not provider else f"{provider.lower()}/{model}"
        now = time.monotonic()
        if now - self._at > 60:
            self._prices.clear()
            self._at = now
        key = (name, (at or utcnow()).date())
        price = self._prices.get(key, _MISSING)
        try:
            if price is _MISSING:
                price = self._price_for(name, at)
                if len(self._prices) < 10_000:
                    self._prices[key] = price
            if price is None:
                return None
            # Price.cost reads four attributes; a namespace of ints avoids building a validated model.
            counts = SimpleNamespace(**{f: usage.get(f) or 0 for f in _USAGE_FIELDS})
            return _float(price.cost(counts))
        except Exception:  # noqa: BLE001 - an unknown model or a bad price file is not an ingest error
            return None


# ---------------------------------------------------------------------------------------- OpenInference


def _oi_messages(attrs: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[str]]:
    """The chat messages of an OpenInference LLM span (flattened ``llm.*_messages.N.message.*``)."""
    found: dict[str, dict[int, dict[str, Any]]] = {"input": {}, "output": {}}
    used: set[str] = set()
    for key, value in attrs.items():
        if not key.startswith(("llm.input_messages.", "llm.output_messages.")):
            continue
        match = _OI_MESSAGE.fullmatch(key)
        if match is None:
            continue
        side, index, rest = match.group(1), int(match.group(2)), match.group(3)
        used.add(key)
        message = found[side].setdefault(index, {})
        if rest in ("role", "content", "name", "tool_call_id"):
            message[rest] = value
        elif rest.startswith("contents.") and rest.endswith(".message_content.text"):
            part = rest.removeprefix("contents.").partition(".")[0]
            message.setdefault("_parts", []).append((int(part) if part.isdigit() else 0, str(value)))
        elif rest.startswith("tool_calls."):
            call_index, _, leaf = rest.removeprefix("tool_calls.").partition(".tool_call.")
            calls = message.setdefault("_calls", {})
            calls.setdefault(call_index, {})[leaf.removeprefix("function.")] = value
    out = []
    for side in ("input", "output"):
        messages = []
        for _, message in sorted(found[side].items()):
            parts = message.pop("_parts", None)
            if parts and "content" not in message:
                message["content"] = "".join(text for _, text in sorted(parts))
            calls = message.pop("_calls", None)
            message.setdefault("content", "")  # every message has one, so the UI renders the list as chat
            if calls:
                message["tool_calls"] = [calls[k] for k in sorted(calls, key=lambda k: (len(k), k))]
            messages.append(message)
        out.append(messages)
    return out[0], out[1], used


def _json_object(value: Any) -> dict[str, Any]:
    if isinstance(value, str) and value.startswith("{"):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
    return value if isinstance(value, dict) else {}


def _oi_model(attrs: Mapping[str, Any]) -> tuple[Any, Any]:
    """Model and provider of an OpenInference LLM span without ``llm.model_name``: from the
    invocation parameters, then LangChain's ``metadata`` (``ls_model_name``), then the model's type."""
    params = _json_object(attrs.get(sc.OI_INVOCATION_PARAMETERS))
    metadata = _json_object(attrs.get("metadata"))
    model = _first(params, _PARAM_MODEL_KEYS) or metadata.get("ls_model_name") or params.get("_type")
    return model or "unknown", metadata.get("ls_provider")


def _chat_output(messages: list[dict[str, Any]]) -> Any:
    if len(messages) == 1 and set(messages[0]) <= {"role", "content"}:
        return messages[0].get("content")
    return messages


# -------------------------------------------------------------------------------------------- span_row

_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count()


def _reseed_ids() -> None:
    global _ID_PREFIX, _ID_COUNTER
    _ID_PREFIX = os.urandom(8).hex()
    _ID_COUNTER = itertools.count()


if hasattr(os, "register_at_fork"):  # forked workers must not share a prefix and a counter
    os.register_at_fork(after_in_child=_reseed_ids)


def _row_id() -> str:
    """A unique row id shaped like ``new_id()`` (32 hex): a random per-process prefix and a counter.

    Rows are deduplicated on (project, trace id, span id); this id only has to be unique, and at
    ingest rates ``uuid4`` (a syscall per id) is a measurable share of the work.
    """
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


def span_row(
    record: SpanRecord,
    project_id: str,
    ingested_at: datetime | None = None,
    *,
    cost: CostFn | None = None,
) -> dict[str, Any]:
    """The ``spans`` row for ``record`` in ``project_id``: the one attribute mapping Loopstack uses.

    ``cost`` prices a span that carries usage but no cost attribute (``SpanCost(price_for)``); without
    it such a span has no cost.
    """
    attrs = record.attributes
    start = _time(record.start_ns) or utcnow()
    end = _time(record.end_ns)
    duration = (record.end_ns - record.start_ns) / 1e6 if end and record.end_ns and record.start_ns else None
    model = _first(attrs, _MODEL_KEYS)
    provider = _first(attrs, _PROVIDER_KEYS)
    input_key = _first_key(attrs, _INPUT_KEYS)
    output_key = _first_key(attrs, _OUTPUT_KEYS)
    input_value = attrs[input_key] if input_key else None
    output_value = attrs[output_key] if output_key else None
    dropped = {input_key, output_key}
    if attrs.get(sc.OI_SPAN_KIND) == "LLM":
        # Chat messages, not the framework's serialized call, are what a reader needs to see.
        messages_in, messages_out, used = _oi_messages(attrs)
        if messages_in and input_key != sc.INPUT:
            input_value, input_key = messages_in, None
        if messages_out and output_key != sc.OUTPUT:
            output_value, output_key = _chat_output(messages_out), None
        dropped = {input_key, output_key} | (used if messages_in or messages_out else set())
        if model is None:
            model, meta_provider = _oi_model(attrs)
            provider = provider or meta_provider
    input_tokens = _int(_first(attrs, _INPUT_TOKEN_KEYS))
    output_tokens = _int(_first(attrs, _OUTPUT_TOKEN_KEYS))
    cache_read_tokens = _int(_first(attrs, _CACHE_KEYS))
    reasoning_tokens = _int(_first(attrs, _REASONING_KEYS))
    model = _str(model, 300)
    provider = _str(provider, 100)
    cost_usd = _float(_first(attrs, _COST_KEYS))
    if cost_usd is None and cost is not None:
        usage = {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cached_input_tokens": cache_read_tokens,
            "reasoning_tokens": reasoning_tokens,
        }
        cost_usd = cost(model, provider, usage, start)
    dropped.discard(None)
    kept = {k: v for k, v in attrs.items() if k not in dropped} if dropped else attrs
    return {
        "id": _row_id(),
        "project_id": project_id,
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        "parent_span_id": record.parent_span_id or None,
        "name": _str(record.name, 500) or "span",
        "kind": _str(record.kind, 30),
        "start_time": start,
        "end_time": end,
        "duration_ms": duration,
        "status_code": record.status_code,
        "status_message": _str(record.status_message, MAX_TEXT) or None,
        "service_name": _str(record.resource.get("service.name")),
        "model": model,
        "provider": provider,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": cache_read_tokens,
        "reasoning_tokens": reasoning_tokens,
        "cost": cost_usd,
        "input": _text(input_value),
        "output": _text(output_value),
        "prompt_name": _str(_first(attrs, _PROMPT_NAME_KEYS)),
        "prompt_version": _int(_first(attrs, _PROMPT_VERSION_KEYS)),
        "session_id": _str(_first(attrs, _SESSION_KEYS)),
        "user_id": _str(_first(attrs, _USER_KEYS)),
        "tags": _tags(_first(attrs, _TAG_KEYS)),
        "attributes": kept or None,
        "resource": record.resource or None,
        "events": record.events or None,
        "ingested_at": ingested_at or utcnow(),
        "environment": _str(span_environment(attrs, record.resource), 50),
    }
