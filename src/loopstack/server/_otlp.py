"""OTLP/HTTP trace payloads (protobuf and JSON) decoded into ``SpanRecord``s.

A payload whose structure is broken is refused whole (``InvalidPayload`` names the place). A span that
is individually unusable (bad ids, no or an impossible start time, a malformed or too deeply nested
attribute value) is rejected alone and counted, as the OTLP partial-success rules ask; a resource whose
attributes are unreadable rejects the spans under it, and only those. Integers beyond int64 are kept as
their decimal text.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from loopstack.errors import InvalidInput
from loopstack.store.spans import SpanRecord

#: Deepest nesting of array/kvlist attribute values accepted; a deeper value rejects its span.
MAX_DEPTH = 32
#: Called with a request's span count after parsing and before mapping (the writer's budget check).
Admit = Callable[[int], None]
_INT = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UINT64_MAX = 2**64 - 1
KINDS = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
STATUS = ("UNSET", "OK", "ERROR")
_HEX = frozenset("0123456789abcdef")


class InvalidPayload(InvalidInput):
    """The request body is not a valid OTLP trace export."""


@dataclass
class Decoded:
    """Spans decoded from one request, and what was rejected."""

    records: list[SpanRecord] = field(default_factory=list)
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    _reasons: int = 0

    def reject(self, where: str, why: str, count: int = 1) -> None:
        """Count ``count`` spans rejected at ``where`` (the first few reasons are kept)."""
        self.rejected += count
        self._reasons += 1
        if len(self.errors) < 5:
            self.errors.append(f"{where}: {why}")

    @property
    def error_message(self) -> str:
        if not self._reasons:
            return ""
        more = self._reasons - len(self.errors)
        return "; ".join(self.errors) + (f" (and {more} more)" if more > 0 else "")


def _hex_id(raw: str, size: int) -> str | None:
    if len(raw) != size or not _HEX.issuperset(raw) or raw == "0" * size:
        return None
    return raw


# ------------------------------------------------------------------------------------------ protobuf


def _pb_value(v: Any, depth: int) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind in ("array_value", "kvlist_value") and depth >= MAX_DEPTH:
        raise ValueError(f"attribute value nested deeper than {MAX_DEPTH} levels")
    if kind == "array_value":
        return [_pb_value(x, depth + 1) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _pb_value(kv.value, depth + 1) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(v.bytes_value).decode()
    return getattr(v, kind)


def _pb_attrs(kvs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in kvs:  # the common scalar kinds inline: this loop runs ~10 times per span at ingest
        v = kv.value
        kind = v.WhichOneof("value")
        if kind == "string_value":
            out[kv.key] = v.string_value
        elif kind == "int_value":
            out[kv.key] = v.int_value
        elif kind == "double_value":
            out[kv.key] = v.double_value
        elif kind == "bool_value":
            out[kv.key] = v.bool_value
        else:
            try:
                out[kv.key] = _pb_value(v, 0)
            except ValueError as exc:
                raise ValueError(f"attribute {kv.key[:100]!r}: {exc}") from None
    return out


def decode_protobuf(body: bytes, admit: Admit | None = None) -> Decoded:
    """Decode an ``ExportTraceServiceRequest`` in protobuf.

    ``admit`` is called with the number of spans once the body is parsed, before they are mapped.
    """
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise InvalidPayload(f"body is not a valid OTLP protobuf ExportTraceServiceRequest ({exc})") from None
    if admit is not None:
        admit(sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans))
    out = Decoded()
    for ri, rs in enumerate(request.resource_spans):
        try:
            resource = _pb_attrs(rs.resource.attributes)
        except ValueError as exc:
            count = sum(len(ss.spans) for ss in rs.scope_spans)
            out.reject(f"resourceSpans[{ri}].resource", f"{exc} ({count} spans rejected)", count)
            continue
        for si, ss in enumerate(rs.scope_spans):
            scope = ss.scope.name
            for pi, sp in enumerate(ss.spans):
                where = f"resourceSpans[{ri}].scopeSpans[{si}].spans[{pi}]"
                trace_id = _hex_id(sp.trace_id.hex(), 32)
                span_id = _hex_id(sp.span_id.hex(), 16)
                if trace_id is None or span_id is None:
                    out.reject(where, "traceId must be 16 bytes and spanId 8 bytes, not all zero")
                    continue
                if not sp.start_time_unix_nano:
                    out.reject(where, "startTimeUnixNano is missing")
                    continue
                try:
                    attrs = _pb_attrs(sp.attributes)
                    events = [
                        {
                            "name": e.name,
                            "time_unix_nano": e.time_unix_nano,
                            "attributes": _pb_attrs(e.attributes),
                        }
                        for e in sp.events
                    ]
                except ValueError as exc:
                    out.reject(where, str(exc))
                    continue
                if scope and "otel.scope.name" not in attrs:
                    attrs["otel.scope.name"] = scope
                out.records.append(
                    SpanRecord(
                        trace_id=trace_id,
                        span_id=span_id,
                        parent_span_id=_hex_id(sp.parent_span_id.hex(), 16),
                        name=sp.name,
                        kind=KINDS[sp.kind] if 0 <= sp.kind < len(KINDS) else "UNSPECIFIED",
                        start_ns=sp.start_time_unix_nano,
                        end_ns=sp.end_time_unix_nano or None,
                        status_code=STATUS[sp.status.code] if 0 <= sp.status.code < 3 else "UNSET",
                        status_message=sp.status.message or None,
                        attributes=attrs,
                        resource=resource,
                        events=events or None,
                    )
                )
    return out


def protobuf_response(decoded: Decoded) -> bytes:
    """The protobuf ``ExportTraceServiceResponse`` (with partial success when spans were rejected)."""
    response = ExportTraceServiceResponse()
    if decoded.rejected:
        response.partial_success.rejected_spans = decoded.rejected
        response.partial_success.error_message = decoded.error_message
    out: bytes = response.SerializeToString()
    return out


# ---------------------------------------------------------------------------------------------- JSON


def _get(obj: dict[str, Any], camel: str, snake: str) -> Any:
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def _list(obj: dict[str, Any], camel: str, snake: str, where: str) -> list[Any]:
    value = _get(obj, camel, snake)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidPayload(f"{where}.{camel} must be a list, not {type(value).__name__}")
    return value


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidPayload(f"{where} must be an object, not {type(value).__name__}")
    return value


def _json_int(raw: Any, what: str) -> int:
    """An OTLP JSON integer: a number or a decimal string (int64 values are written as strings)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and _INT.fullmatch(raw):
        return int(raw)
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    raise ValueError(f"{what} must be an integer, not {_show(raw)}")


def _show(raw: Any) -> str:
    text = orjson.dumps(raw, default=str).decode() if not isinstance(raw, str) else repr(raw)
    return text if len(text) <= 40 else text[:40] + "…"


def _json_value(v: Any, depth: int) -> Any:
    if v is None:
        return None
    if not isinstance(v, dict):
        raise ValueError(f"an AnyValue must be an object, not {_show(v)}")
    if not v:
        return None
    if "stringValue" in v or "string_value" in v:
        raw = _get(v, "stringValue", "string_value")
        if not isinstance(raw, str):
            raise ValueError(f"stringValue must be a string, not {_show(raw)}")
        return raw
    if "boolValue" in v or "bool_value" in v:
        raw = _get(v, "boolValue", "bool_value")
        if isinstance(raw, bool):
            return raw
        if raw in ("true", "false"):
            return raw == "true"
        raise ValueError(f"boolValue must be true or false, not {_show(raw)}")
    if "intValue" in v or "int_value" in v:
        number = _json_int(_get(v, "intValue", "int_value"), "intValue")
        # Kept whole: an integer beyond int64 is stored as its decimal text, never clipped.
        return number if _INT64_MIN <= number <= _INT64_MAX else str(number)
    if "doubleValue" in v or "double_value" in v:
        raw = _get(v, "doubleValue", "double_value")
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise ValueError(f"doubleValue must be a number, not {_show(raw)}")
        return float(raw)  # "NaN" and "Infinity" are how OTLP JSON writes those doubles
    if "arrayValue" in v or "array_value" in v or "kvlistValue" in v or "kvlist_value" in v:
        array = "arrayValue" in v or "array_value" in v
        name = "arrayValue" if array else "kvlistValue"
        inner = _get(v, "arrayValue", "array_value") if array else _get(v, "kvlistValue", "kvlist_value")
        if inner is None:
            inner = {}
        if not isinstance(inner, dict):
            raise ValueError(f"{name} must be an object with a values list, not {_show(inner)}")
        values = inner.get("values") or []
        if not isinstance(values, list):
            raise ValueError(f"{name}.values must be a list, not {_show(values)}")
        if depth >= MAX_DEPTH:
            raise ValueError(f"attribute value nested deeper than {MAX_DEPTH} levels")
        if array:
            return [_json_value(x, depth + 1) for x in values]
        return _json_attrs(values, depth + 1)
    if "bytesValue" in v or "bytes_value" in v:
        raw = _get(v, "bytesValue", "bytes_value")
        if not isinstance(raw, str):
            raise ValueError(f"bytesValue must be a base64 string, not {_show(raw)}")
        return raw
    return None


def _json_attrs(kvs: Any, depth: int = 0) -> dict[str, Any]:
    if not isinstance(kvs, list):
        raise ValueError("attributes must be a list of {key, value}")
    out: dict[str, Any] = {}
    for kv in kvs:
        if not isinstance(kv, dict) or not isinstance(kv.get("key"), str):
            raise ValueError("each attribute needs a string key")
        try:
            out[kv["key"]] = _json_value(kv.get("value"), depth)
        except ValueError as exc:
            raise ValueError(f"attribute {kv['key'][:100]!r}: {exc}") from None
    return out


def _enum(value: Any, names: tuple[str, ...], prefix: str) -> str:
    if isinstance(value, int) and 0 <= value < len(names):
        return names[value]
    if isinstance(value, str):
        name = value.upper().removeprefix(prefix)
        if name in names:
            return name
    return names[0]


def _json_id(value: Any, size: int) -> str | None:
    """A hex id (the OTLP JSON mapping), or base64 as protobuf's generic JSON mapping writes bytes."""
    if not isinstance(value, str):
        return None
    found = _hex_id(value.lower(), size)
    if found is None and len(value) == (12 if size == 16 else 24):
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None
        found = _hex_id(raw.hex(), size) if len(raw) * 2 == size else None
    return found


def _json_time(raw: Any, what: str) -> int:
    if raw is None or raw == "":
        return 0
    value = _json_int(raw, what)
    if not 0 <= value <= _UINT64_MAX:
        raise ValueError(f"{what} is out of range (nanoseconds since 1970 as an unsigned 64-bit integer)")
    return value


def _count_json(resource_spans: list[Any]) -> int:
    total = 0
    for rs in resource_spans:
        scope_spans = _get(rs, "scopeSpans", "scope_spans") if isinstance(rs, dict) else None
        for ss in scope_spans if isinstance(scope_spans, list) else []:
            spans = ss.get("spans") if isinstance(ss, dict) else None
            total += len(spans) if isinstance(spans, list) else 0
    return total


def decode_json(body: bytes, admit: Admit | None = None) -> Decoded:
    """Decode an ``ExportTraceServiceRequest`` in the OTLP JSON mapping (hex ids, camelCase).

    ``admit`` is called with the number of spans once the body is parsed, before they are mapped.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidPayload(f"body is not valid JSON: {exc}") from None
    data = _obj(data, "body")
    resource_spans = _list(data, "resourceSpans", "resource_spans", "body")
    if admit is not None:
        admit(_count_json(resource_spans))
    out = Decoded()
    for ri, rs in enumerate(resource_spans):
        rwhere = f"resourceSpans[{ri}]"
        rs = _obj(rs, rwhere)
        scope_spans = _list(rs, "scopeSpans", "scope_spans", rwhere)
        try:
            resource_obj = rs.get("resource")
            if resource_obj is not None and not isinstance(resource_obj, dict):
                raise ValueError(f"must be an object, not {_show(resource_obj)}")
            resource = _json_attrs((resource_obj or {}).get("attributes") or [])
        except ValueError as exc:
            # The spans are fine but what they ran in is unreadable: reject them, not the request.
            count = _count_json([rs])
            out.reject(f"{rwhere}.resource", f"{exc} ({count} spans rejected)", count)
            continue
        for si, ss in enumerate(scope_spans):
            swhere = f"{rwhere}.scopeSpans[{si}]"
            ss = _obj(ss, swhere)
            scope = (ss.get("scope") or {}).get("name") if isinstance(ss.get("scope"), dict) else None
            for pi, sp in enumerate(_list(ss, "spans", "spans", swhere)):
                where = f"{swhere}.spans[{pi}]"
                if not isinstance(sp, dict):
                    out.reject(where, "a span must be an object")
                    continue
                record = _json_span(sp, where, resource, scope if isinstance(scope, str) else None, out)
                if record is not None:
                    out.records.append(record)
    return out


def _json_span(
    sp: dict[str, Any], where: str, resource: dict[str, Any], scope: str | None, out: Decoded
) -> SpanRecord | None:
    trace_id = _json_id(_get(sp, "traceId", "trace_id"), 32)
    span_id = _json_id(_get(sp, "spanId", "span_id"), 16)
    if trace_id is None or span_id is None:
        out.reject(where, "traceId must be 32 hex characters and spanId 16, not all zero")
        return None
    try:
        start = _json_time(_get(sp, "startTimeUnixNano", "start_time_unix_nano"), "startTimeUnixNano")
        end = _json_time(_get(sp, "endTimeUnixNano", "end_time_unix_nano"), "endTimeUnixNano")
        attrs = _json_attrs(sp.get("attributes") or [])
        raw_events = sp.get("events") or []
        if not isinstance(raw_events, list):
            raise ValueError("events must be a list")
        events = []
        for e in raw_events:
            if not isinstance(e, dict):
                raise ValueError("each event must be an object")
            events.append(
                {
                    "name": str(e.get("name", "")),
                    "time_unix_nano": _json_time(_get(e, "timeUnixNano", "time_unix_nano"), "timeUnixNano"),
                    "attributes": _json_attrs(e.get("attributes") or []),
                }
            )
        raw_status = sp.get("status")
        status: dict[str, Any] = raw_status if isinstance(raw_status, dict) else {}
        message = status.get("message")
        if message is not None and not isinstance(message, str):
            raise ValueError(f"status.message must be a string, not {_show(message)}")
        name = sp.get("name")
        if name is not None and not isinstance(name, str):
            raise ValueError(f"name must be a string, not {_show(name)}")
    except ValueError as exc:
        out.reject(where, str(exc))
        return None
    if start <= 0:
        out.reject(where, "startTimeUnixNano is missing")
        return None
    if scope and "otel.scope.name" not in attrs:
        attrs["otel.scope.name"] = scope
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=_json_id(_get(sp, "parentSpanId", "parent_span_id"), 16),
        name=name or "",
        kind=_enum(sp.get("kind"), KINDS, "SPAN_KIND_"),
        start_ns=start,
        end_ns=end or None,
        status_code=_enum(status.get("code"), STATUS, "STATUS_CODE_"),
        status_message=message or None,
        attributes=attrs,
        resource=resource,
        events=events or None,
    )


def json_response(decoded: Decoded) -> bytes:
    """The JSON ``ExportTraceServiceResponse``."""
    if not decoded.rejected:
        return b"{}"
    return orjson.dumps(
        {"partialSuccess": {"rejectedSpans": str(decoded.rejected), "errorMessage": decoded.error_message}}
    )
