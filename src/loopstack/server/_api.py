"""REST API for traces, spans and scores (feedback), every query scoped to the caller's project."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from loopstack._inputs import MAX_INT, decode_cursor, encode_cursor
from loopstack.server._auth import Project, current_project
from loopstack.server._params import ERRORS, Limit, Offset, UTCTime
from loopstack.store import Store
from loopstack.store.environments import check_environment
from loopstack.store.scores import ScoreInput, ScoreRepository
from loopstack.store.spans import SpanFilter, SpanRepository

router = APIRouter(prefix="/api", tags=["traces"], responses=ERRORS)
ProjectDep = Annotated[Project, Depends(current_project)]


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


class Page(BaseModel):
    """A page of results; ask again with ``offset=next_offset`` while it is not null."""

    items: list[dict[str, Any]]
    next_offset: int | None


def span_filter(
    start: Annotated[UTCTime | None, Query(description="spans starting at or after (ISO 8601)")] = None,
    end: Annotated[UTCTime | None, Query(description="spans starting before (ISO 8601)")] = None,
    model: str | None = None,
    prompt_name: str | None = None,
    prompt_version: Annotated[int | None, Query(ge=0, le=MAX_INT)] = None,
    session_id: str | None = None,
    user_id: str | None = None,
    status: Annotated[Literal["UNSET", "OK", "ERROR", "unset", "ok", "error"] | None, Query()] = None,
    min_latency_ms: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
    q: Annotated[str | None, Query(description="text in the name, input or output")] = None,
    name: str | None = None,
    environment: Annotated[
        str | None,
        Query(max_length=50, description="'eval' for eval runs, 'all' for everything; default: not eval"),
    ] = None,
) -> SpanFilter:
    """The span filters of a listing request."""
    return SpanFilter(
        start=start,
        end=end,
        model=model,
        prompt_name=prompt_name,
        prompt_version=prompt_version,
        session_id=session_id,
        user_id=user_id,
        status=status,
        min_latency_ms=min_latency_ms,
        q=q,
        name=name,
        environment=check_environment(environment),
    )


Filters = Annotated[SpanFilter, Depends(span_filter)]


def _page(items: list[dict[str, Any]], limit: int, offset: int) -> Page:
    return Page(items=items, next_offset=offset + limit if len(items) == limit else None)


@router.get("/traces", response_model=Page, summary="List traces (any span matching the filters)")
async def get_traces(
    request: Request, project: ProjectDep, filters: Filters, limit: Limit = 50, offset: Offset = 0
) -> Page:
    def run() -> list[dict[str, Any]]:
        return SpanRepository(_store(request), project.name).list_traces(filters, limit=limit, offset=offset)

    return _page(await run_in_threadpool(run), limit, offset)


@router.get("/spans", response_model=Page, summary="List spans")
async def get_spans(
    request: Request,
    project: ProjectDep,
    filters: Filters,
    trace_id: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    filters.trace_id = trace_id

    def run() -> list[dict[str, Any]]:
        found = SpanRepository(_store(request), project.name).list_spans(filters, limit=limit, offset=offset)
        return [_public(r) for r in found]

    return _page(await run_in_threadpool(run), limit, offset)


def _public(row: dict[str, Any]) -> dict[str, Any]:
    row.pop("project_id", None)
    return row


#: Spans per page of ``GET /api/traces/{id}`` by default, and at most: a 100k-span trace in one answer
#: was 73 MB of JSON built in memory.
TRACE_PAGE = 1000
TRACE_PAGE_MAX = 5000


@router.get("/traces/{trace_id}", summary="One trace: a page of its spans (in start order) and its scores")
async def get_trace(
    request: Request,
    project: ProjectDep,
    trace_id: str,
    limit: Annotated[int, Query(ge=1, le=TRACE_PAGE_MAX, description="spans per page")] = TRACE_PAGE,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    trace_id = trace_id.lower()
    try:
        after = decode_cursor(cursor) if cursor else None
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None

    def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        store = _store(request)
        found = SpanRepository(store, project.name).trace_spans(trace_id, limit=limit + 1, after=after)
        scored = (
            ScoreRepository(store, project.name).list_scores(trace_id=trace_id, limit=1000) if found else []
        )
        return found, scored

    found, scored = await run_in_threadpool(run)
    if not found and after is None:
        raise HTTPException(404, f"trace {trace_id} not found in project {project.name!r}")
    page = found[:limit]
    more = len(found) > limit
    next_cursor = encode_cursor(page[-1]["start_time"], page[-1]["span_id"]) if more else None
    return {
        "trace_id": trace_id,
        "spans": [_public(s) for s in page],
        "scores": scored,
        "next_cursor": next_cursor,
    }


class ScoreBody(BaseModel):
    """Feedback or a judgement on a trace, or on one span of it."""

    model_config = ConfigDict(extra="forbid")

    trace_id: str = Field(description="32 hex characters")
    span_id: str | None = Field(default=None, description="16 hex characters; omit to score the trace")
    name: str = Field(description="e.g. thumbs, accepted, correction, helpfulness")
    value: bool | float | str = Field(
        description="true/false or up/down/accept/reject (boolean), a number, a category, or text"
    )
    data_type: Literal["numeric", "boolean", "categorical", "text"] | None = Field(
        default=None, description="inferred from the value when omitted; 'text' for a correction"
    )
    source: Literal["human", "llm", "code", "api", "user-feedback"] = "user-feedback"
    author: str | None = None
    comment: str | None = None
    metadata: dict[str, Any] | None = None


@router.post("/scores", status_code=201, tags=["scores"], summary="Record feedback or a score")
async def post_score(request: Request, project: ProjectDep, body: ScoreBody) -> dict[str, Any]:
    score = ScoreInput(
        trace_id=body.trace_id,
        span_id=body.span_id,
        name=body.name,
        value=body.value,
        data_type=body.data_type,
        source=body.source,
        author=body.author,
        comment=body.comment,
        metadata=body.metadata,
    )

    def run() -> dict[str, Any]:
        return ScoreRepository(_store(request), project.name).add_score(score)

    row = await run_in_threadpool(run)
    row.pop("project_id", None)
    return row


@router.get("/scores", response_model=Page, tags=["scores"], summary="List scores")
async def get_scores(
    request: Request,
    project: ProjectDep,
    trace_id: str | None = None,
    span_id: str | None = None,
    name: str | None = None,
    source: str | None = None,
    data_type: str | None = None,
    start: UTCTime | None = None,
    end: UTCTime | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page:
    def run() -> list[dict[str, Any]]:
        return ScoreRepository(_store(request), project.name).list_scores(
            trace_id=trace_id,
            span_id=span_id,
            name=name,
            source=source,
            data_type=data_type,
            start=start,
            end=end,
            limit=limit,
            offset=offset,
        )

    return _page(await run_in_threadpool(run), limit, offset)
