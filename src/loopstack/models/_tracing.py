"""The OpenTelemetry span every model call makes (tracer ``loopstack.models``, names from semconv).

With no TracerProvider configured the OTel API hands out no-op spans, so this costs almost nothing
and the models layer never depends on Loopstack's tracing package.
"""

from __future__ import annotations

from typing import Any

import orjson
from opentelemetry import trace

from loopstack import semconv
from loopstack.models._types import ModelRequest, ModelResponse

_tracer = trace.get_tracer("loopstack.models")

# Official GenAI names not (yet) in loopstack.semconv.
_REQUEST_SEED = "gen_ai.request.seed"
_REQUEST_STOP = "gen_ai.request.stop_sequences"
_REQUEST_PARAMS = "loopstack.request.params"


def start_span(provider: str, model: str, request: ModelRequest) -> trace.Span:
    """Start (not activate) the span of one call, with the request's attributes."""
    span = _tracer.start_span(
        f"chat {model}",
        kind=trace.SpanKind.CLIENT,
        attributes={
            semconv.GEN_AI_OPERATION: "chat",
            semconv.GEN_AI_PROVIDER: provider,
            semconv.GEN_AI_REQUEST_MODEL: model,
        },
    )
    if not span.is_recording():  # no SDK configured, or sampled out: skip the JSON work
        return span
    attrs: dict[str, Any] = {
        semconv.GEN_AI_SYSTEM: provider,
        semconv.SPAN_TYPE: "generation",
        semconv.INPUT: orjson.dumps([m.model_dump() for m in request.messages]).decode(),
    }
    params = request.params()
    if request.temperature is not None:
        attrs[semconv.GEN_AI_REQUEST_TEMPERATURE] = request.temperature
    if request.max_tokens is not None:
        attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] = request.max_tokens
    if request.top_p is not None:
        attrs[semconv.GEN_AI_REQUEST_TOP_P] = request.top_p
    if request.seed is not None:
        attrs[_REQUEST_SEED] = request.seed
    if request.stop:
        attrs[_REQUEST_STOP] = list(request.stop)
    if params:
        attrs[_REQUEST_PARAMS] = orjson.dumps(params).decode()
    if request.prompt_name is not None:
        attrs[semconv.PROMPT_NAME] = request.prompt_name
    if request.prompt_version is not None:
        attrs[semconv.PROMPT_VERSION] = request.prompt_version
    if request.rollout_id is not None:
        attrs[semconv.ROLLOUT_ID] = request.rollout_id
        attrs[semconv.ROLLOUT_ARM] = str(request.rollout_arm)
    if request.prompt_variables:
        attrs[semconv.PROMPT_VARIABLES] = orjson.dumps(request.prompt_variables, default=str).decode()
    span.set_attributes(attrs)
    return span


def end_span_ok(span: trace.Span, response: ModelResponse) -> None:
    """Record the answer, usage, cost and cache status, then end the span."""
    if span.is_recording():
        usage = response.usage
        attrs: dict[str, Any] = {
            semconv.OUTPUT: response.text,
            semconv.GEN_AI_USAGE_INPUT_TOKENS: usage.input_tokens,
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: usage.output_tokens,
            semconv.GEN_AI_USAGE_CACHE_READ_TOKENS: usage.cached_input_tokens,
            semconv.GEN_AI_USAGE_REASONING_TOKENS: usage.reasoning_tokens,
            semconv.CACHE_HIT: response.cached,
        }
        # A replay costs nothing now; the response itself keeps what the original call cost.
        cost = 0.0 if response.cached else response.cost
        if cost is not None:
            attrs[semconv.COST] = cost
        if response.finish_reason:
            attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = [response.finish_reason]
        if response.id:
            attrs[semconv.GEN_AI_RESPONSE_ID] = response.id
        if response.response_model:
            attrs[semconv.GEN_AI_RESPONSE_MODEL] = response.response_model
        span.set_attributes(attrs)
    span.end()


def end_span_error(span: trace.Span, exc: BaseException) -> None:
    """Mark the span failed with the error's one-line message, then end it."""
    if span.is_recording():
        span.record_exception(exc)
        span.set_status(trace.Status(trace.StatusCode.ERROR, str(exc).splitlines()[0] if str(exc) else ""))
        span.set_attribute("error.type", type(exc).__name__)
    span.end()
