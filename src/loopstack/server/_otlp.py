"""OTLP/HTTP trace payloads (protobuf and JSON) decoded into ``SpanRecord``s.

A payload whose structure is broken is refused whole (``InvalidPayload`` names the place); a span
that is individually unusable (bad ids, no start time) is rejected alone and counted, as the OTLP
partial-success rules ask.
"""

from __future__ import annotations

import base64
import binascii
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

    def reject(self, where: str, why: str) -> None:
        self.rejected += 1
        if len(self.errors) < 5:
            self.errors.append(f"{where}: {why}")

    @property
    def error_message(self) -> str:
        if not self.rejected:
            return ""
        more = f" (and {self.rejected - len(self.errors)} more)" if self.rejected > len(self.errors) else ""
        return "; ".join(self.errors) + more


def _hex_id(raw: str, size: int) -> str | None:
    if len(raw) != size or not _HEX.issuperset(raw) or raw == "0" * size:
        return None
    return raw


# ------------------------------------------------------------------------------------------ protobuf


def _pb_value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_pb_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _pb_value(kv.value) for kv in v.kvlist_value.values}
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
            out[kv.key] = _pb_value(v)
    return out


def decode_protobuf(body: bytes) -> Decoded:
    """Decode an ``ExportTraceServiceRequest`` in protobuf."""
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise InvalidPayload(f"body is not a valid OTLP protobuf ExportTraceServiceRequest ({exc})") from None
    out = Decoded()
    for ri, rs in enumerate(request.resource_spans):
        resource = _pb_attrs(rs.resource.attributes)
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
                attrs = _pb_attrs(sp.attributes)
                if scope and "otel.scope.name" not in attrs:
                    attrs["otel.scope.name"] = scope
                events = [
                    {
                        "name": e.name,
                        "time_unix_nano": e.time_unix_nano,
                        "attributes": _pb_attrs(e.attributes),
                    }
                    for e in sp.events
                ]
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


def _json_value(v: Any) -> Any:
    if not isinstance(v, dict) or not v:
        return None
    if "stringValue" in v or "string_value" in v:
        return _get(v, "stringValue", "string_value")
    if "boolValue" in v or "bool_value" in v:
        return bool(_get(v, "boolValue", "bool_value"))
    if "intValue" in v or "int_value" in v:
        return int(_get(v, "intValue", "int_value"))
    if "doubleValue" in v or "double_value" in v:
        return float(_get(v, "doubleValue", "double_value"))
    if "arrayValue" in v or "array_value" in v:
        inner = _get(v, "arrayValue", "array_value") or {}
        return [_json_value(x) for x in inner.get("values") or []]
    if "kvlistValue" in v or "kvlist_value" in v:
        inner = _get(v, "kvlistValue", "kvlist_value") or {}
        return _json_attrs(inner.get("values") or [])
    if "bytesValue" in v or "bytes_value" in v:
        return _get(v, "bytesValue", "bytes_value")
    return None


def _json_attrs(kvs: Any) -> dict[str, Any]:
    if not isinstance(kvs, list):
        raise ValueError("attributes must be a list of {key, value}")
    out: dict[str, Any] = {}
    for kv in kvs:
        if not isinstance(kv, dict) or not isinstance(kv.get("key"), str):
            raise ValueError("each attribute needs a string key")
        out[kv["key"]] = _json_value(kv.get("value"))
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


def decode_json(body: bytes) -> Decoded:
    """Decode an ``ExportTraceServiceRequest`` in the OTLP JSON mapping (hex ids, camelCase)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidPayload(f"body is not valid JSON: {exc}") from None
    data = _obj(data, "body")
    out = Decoded()
    for ri, rs in enumerate(_list(data, "resourceSpans", "resource_spans", "body")):
        rwhere = f"resourceSpans[{ri}]"
        rs = _obj(rs, rwhere)
        resource_obj = _obj(rs.get("resource") or {}, f"{rwhere}.resource")
        try:
            resource = _json_attrs(resource_obj.get("attributes") or [])
        except (ValueError, TypeError) as exc:
            raise InvalidPayload(f"{rwhere}.resource.attributes: {exc}") from None
        for si, ss in enumerate(_list(rs, "scopeSpans", "scope_spans", rwhere)):
            swhere = f"{rwhere}.scopeSpans[{si}]"
            ss = _obj(ss, swhere)
            scope = (ss.get("scope") or {}).get("name") if isinstance(ss.get("scope"), dict) else None
            for pi, sp in enumerate(_list(ss, "spans", "spans", swhere)):
                where = f"{swhere}.spans[{pi}]"
                if not isinstance(sp, dict):
                    out.reject(where, "a span must be an object")
                    continue
                record = _json_span(sp, where, resource, scope, out)
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
        start = int(_get(sp, "startTimeUnixNano", "start_time_unix_nano") or 0)
        end = int(_get(sp, "endTimeUnixNano", "end_time_unix_nano") or 0)
        attrs = _json_attrs(sp.get("attributes") or [])
        events = [
            {
                "name": str(e.get("name", "")),
                "time_unix_nano": int(_get(e, "timeUnixNano", "time_unix_nano") or 0),
                "attributes": _json_attrs(e.get("attributes") or []),
            }
            for e in sp.get("events") or []
        ]
    except (ValueError, TypeError, AttributeError) as exc:
        out.reject(where, str(exc))
        return None
    if start <= 0:
        out.reject(where, "startTimeUnixNano is missing")
        return None
    if scope and "otel.scope.name" not in attrs:
        attrs["otel.scope.name"] = scope
    raw_status = sp.get("status")
    status: dict[str, Any] = raw_status if isinstance(raw_status, dict) else {}
    name = sp.get("name")
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=_json_id(_get(sp, "parentSpanId", "parent_span_id"), 16),
        name=name if isinstance(name, str) else "",
        kind=_enum(sp.get("kind"), KINDS, "SPAN_KIND_"),
        start_ns=start,
        end_ns=end or None,
        status_code=_enum(status.get("code"), STATUS, "STATUS_CODE_"),
        status_message=status.get("message") or None,
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
