"""``POST /v1/traces``: OTLP/HTTP ingest (protobuf or JSON, optionally gzip) into the spans table."""

from __future__ import annotations

import asyncio
import zlib
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from loopstack.errors import LoopstackError, StoreUnavailable
from loopstack.server._auth import Project, current_project
from loopstack.server._otlp import (
    Decoded,
    InvalidPayload,
    decode_json,
    decode_protobuf,
    json_response,
    protobuf_response,
)
from loopstack.server._writer import IngestWriter, Overloaded, TooManySpans, Written
from loopstack.store._types import utcnow
from loopstack.store.spans import SpanCost, span_row, span_values

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
#: Largest request body accepted, compressed or not (a 10 MB attribute is refused, not stored).
MAX_BODY = 8 * 1024 * 1024
RETRY_AFTER = "1"
_RETRY = {"Retry-After": RETRY_AFTER}


def _price_for(model: str, at: datetime | None) -> Any:
    from loopstack.models import price_for  # on first use: the server starts without the models layer

    return price_for(model, at)


#: Prices the usage of spans that carry no cost, from the models layer's table (cached per minute).
_COST = SpanCost(_price_for)

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


@dataclass
class _Queued:
    decoded: Decoded
    #: resolves once the rows are committed; None when the request had no storable span
    written: Future[Written] | None


def _ingest_mask(store: Any, project: str) -> Any:
    """The project's ingest masker (``loopstack.safety``), or None when its PII policy is off.

    The policy is a stored project setting (cached for seconds); safety loads only when one is set.
    """
    from loopstack.store.project_settings import ProjectSettingsRepository

    if not ProjectSettingsRepository(store, project).get("pii"):
        return None
    from loopstack.safety._pii_policy import ingest_masker

    return ingest_masker(store, project)


def _prepare(
    body: bytes, gzipped: bool, protobuf: bool, project_id: str, writer: IngestWriter, project: str = ""
) -> _Queued:
    """Inflate, parse, reserve the writer's budget, map, and queue: the CPU-heavy part, off the event loop.

    With a PII policy on the project, the rows are masked here, before they are queued.
    The span count is checked against the budget right after parsing, before any span is mapped, so an
    oversized or ill-timed request costs no more than its parse. The rows are queued from this thread,
    so a request cancelled meanwhile (the client went away) still returns its reservation.
    """
    reserved = 0

    def admit(count: int) -> None:
        nonlocal reserved
        reserved = writer.reserve(count)

    if gzipped:
        body = _gunzip(body, MAX_BODY)
    try:
        decoded = decode_protobuf(body, admit) if protobuf else decode_json(body, admit)
        now = utcnow()
        rows = [span_row(r, project_id, now, cost=_COST) for r in decoded.records]
        masker = _ingest_mask(writer.store, project) if project else None
        if masker is not None:  # masked before any row is written: unmasked text is never stored
            from loopstack.safety._pii_policy import mask_span_rows

            rows = mask_span_rows(rows, masker)
        values = span_values(rows, writer.store.dialect)
    except BaseException:
        writer.release(reserved)
        raise
    if not values:
        writer.release(reserved)
        return _Queued(decoded, None)
    return _Queued(decoded, writer.submit(values, reserved))


@router.post(
    "/v1/traces",
    summary="OTLP/HTTP trace export (protobuf or JSON)",
    responses={
        400: {"description": "malformed payload, or every span in it was rejected"},
        413: {"description": "body too large, or more spans than the server accepts in one request"},
        415: {"description": "unsupported content type or encoding"},
        503: {"description": "overloaded or database unavailable; retry after Retry-After"},
    },
)
async def export_traces(request: Request, project: Annotated[Project, Depends(current_project)]) -> Response:
    """Store the spans of an OTLP ExportTraceServiceRequest; 200 only once they are committed.

    Spans that cannot be stored are rejected alone, reported as OTLP partial success; 400 when no span
    of the request could be stored.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in (PROTOBUF, JSON):
        return _error(
            415, f"unsupported Content-Type {content_type or '(none)'!r}; send {PROTOBUF} or {JSON}"
        )
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "", "gzip"):
        return _error(415, f"unsupported Content-Encoding {encoding!r}; send gzip or none")
    writer: IngestWriter = request.app.state.writer
    if writer.full:  # refused before the body is even read: it clears as the queue drains
        return _error(503, f"ingestion queue is full ({writer.pending} spans pending); retry later", _RETRY)
    try:
        body = await _read(request, MAX_BODY)
        queued = await run_in_threadpool(
            _prepare, body, encoding == "gzip", content_type == PROTOBUF, project.id, writer, project.name
        )
    except _TooLarge:
        return _error(413, f"request body exceeds {MAX_BODY // (1024 * 1024)} MiB; send smaller batches")
    except TooManySpans as exc:
        return _error(413, str(exc))
    except InvalidPayload as exc:
        return _error(400, str(exc))
    except Overloaded as exc:
        return _error(503, str(exc), _RETRY)
    except LoopstackError as exc:  # the project's PII masking could not run: store nothing unmasked
        return _error(503, f"could not mask spans by the project's PII policy: {exc}", _RETRY)
    decoded = queued.decoded
    try:
        written = await asyncio.wrap_future(queued.written) if queued.written else Written()
    except (Overloaded, StoreUnavailable) as exc:
        return _error(503, str(exc), _RETRY)
    except Exception as exc:  # noqa: BLE001 - a store failure is the server's, and retryable
        return _error(503, f"could not store spans: {type(exc).__name__}", _RETRY)
    for index, reason in written.refused:
        record = decoded.records[index]
        decoded.reject(
            f"span {record.span_id} of trace {record.trace_id}", f"the database refused it ({reason})"
        )
    if decoded.rejected and not written.stored:
        # Nothing of it can ever be stored: a permanent error, so the exporter does not retry it.
        return _error(400, f"every span was rejected: {decoded.error_message}")
    if content_type == PROTOBUF:
        return Response(protobuf_response(decoded), media_type=PROTOBUF)
    return Response(json_response(decoded), media_type=JSON)
