"""The masking hook at the SDK's export boundary, for spans that did not capture through it.

``@observe``, ``span()`` and the openai instrumentation mask values as they capture them. Spans from
other tracers — the models layer (``loopstack.models``, which does not depend on tracing), an
OpenInference or OpenLLMetry instrumentation, the app's own — carry text attributes recorded as they
were; before such a span leaves the process (on the export thread, never the caller's), its text
attributes pass through the same mask, every string of a JSON value included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from loopstack import semconv as sc
from loopstack.tracing._capture import mask_text, trace_mask

#: Attributes that hold prompt/response text in the conventions Loopstack reads.
TEXT_KEYS = frozenset(
    {
        sc.INPUT,
        sc.OUTPUT,
        "input.value",
        "output.value",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.prompt",
        "gen_ai.completion",
    }
)
_MESSAGE_PREFIXES = ("llm.input_messages.", "llm.output_messages.", "gen_ai.prompt.", "gen_ai.completion.")
MASK_FAILED = "[masking failed]"


def is_text_key(key: str) -> bool:
    """True for an attribute that carries prompt or response text (OpenInference message contents too)."""
    return key in TEXT_KEYS or (key.startswith(_MESSAGE_PREFIXES) and key.endswith("content"))


def _masked_value(value: str, mask: Callable[[Any], Any]) -> str:
    try:
        return mask_text(value, mask)
    except Exception:  # noqa: BLE001 - never export what the mask failed to clean
        return MASK_FAILED


def masked_spans(
    spans: Sequence[ReadableSpan], mask: Callable[[Any], Any], own_scope: str
) -> Sequence[ReadableSpan]:
    """``spans`` with the text attributes of those not recorded by ``own_scope`` masked (copies)."""
    out: list[ReadableSpan] = []
    for span in spans:
        scope = span.instrumentation_scope
        attrs = span.attributes or {}
        if (scope is not None and scope.name == own_scope) or not any(
            isinstance(v, str) and is_text_key(k) for k, v in attrs.items()
        ):
            out.append(span)
            continue
        span_mask = trace_mask(mask, span.context.trace_id if span.context is not None else 0)
        masked = {
            k: _masked_value(v, span_mask) if isinstance(v, str) and is_text_key(k) else v
            for k, v in attrs.items()
        }
        out.append(
            ReadableSpan(
                name=span.name,
                context=span.context,
                parent=span.parent,
                resource=span.resource,
                attributes=masked,
                events=span.events,
                links=span.links,
                kind=span.kind,
                status=span.status,
                start_time=span.start_time,
                end_time=span.end_time,
                instrumentation_scope=scope,
            )
        )
    return out
