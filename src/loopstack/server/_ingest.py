"""``POST /v1/traces``: OTLP/HTTP ingest (protobuf or JSON, optionally gzip) into the spans table."""

from __future__ import annotations

import zlib
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from loopstack.errors import StoreUnavailable
from loopstack.server._auth import Project, current_project
from loopstack.server._otlp import (
    Decoded,
    InvalidPayload,
    decode_json,
    decode_protobuf,
    json_response,
    protobuf_response,
)
from loopstack.server._writer import IngestWriter, Overloaded
from loopstack.store._types import utcnow
from loopstack.store.spans import span_row, span_values

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
#: Largest request body accepted, compressed or not (a 10 MB attribute is refused, not stored).
MAX_BODY = 8 * 1024 * 1024
RETRY_AFTER = "1"

router = APIRouter(tags=["ingest"])


class _TooLarge(Exception):
    pass


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


async def _read(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _gunzip(body: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidPayload(f"body is not valid gzip ({exc})") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise _TooLarge
    return out


@router.post(
    "/v1/traces",
    summary="OTLP/HTTP trace export (protobuf or JSON)",
    responses={
        400: {"description": "malformed payload"},
        413: {"description": "body too large"},
        415: {"description": "unsupported content type or encoding"},
        503: {"description": "overloaded or database unavailable; retry after Retry-After"},
    },
)
async def export_traces(request: Request, project: Annotated[Project, Depends(current_project)]) -> Response:
    """Store the spans of an OTLP ExportTraceServiceRequest; 200 only once they are committed."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in (PROTOBUF, JSON):
        return _error(
            415, f"unsupported Content-Type {content_type or '(none)'!r}; send {PROTOBUF} or {JSON}"
        )
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "", "gzip"):
        return _error(415, f"unsupported Content-Encoding {encoding!r}; send gzip or none")
    try:
        body = await _read(request, MAX_BODY)
        if encoding == "gzip":
            body = _gunzip(body, MAX_BODY)
        decoded: Decoded = decode_protobuf(body) if content_type == PROTOBUF else decode_json(body)
    except _TooLarge:
        return _error(413, f"request body exceeds {MAX_BODY // (1024 * 1024)} MiB; send smaller batches")
    except InvalidPayload as exc:
        return _error(400, str(exc))
    now = utcnow()
    writer: IngestWriter = request.app.state.writer
    rows = span_values([span_row(r, project.id, now) for r in decoded.records], writer.store.dialect)
    try:
        await writer.write(rows)
    except Overloaded as exc:
        return _error(503, str(exc), {"Retry-After": RETRY_AFTER})
    except StoreUnavailable as exc:
        return _error(503, str(exc), {"Retry-After": RETRY_AFTER})
    except Exception as exc:  # noqa: BLE001 - a store failure is the server's, and retryable
        return _error(503, f"could not store spans: {type(exc).__name__}", {"Retry-After": RETRY_AFTER})
    if content_type == PROTOBUF:
        return Response(protobuf_response(decoded), media_type=PROTOBUF)
    return Response(json_response(decoded), media_type=JSON)
