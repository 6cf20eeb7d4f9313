"""REST API of the annotation queue: add traces and spans to a queue, list a queue's items and counts.

A batch add is judged item by item: a malformed or unknown id is reported in ``rejected`` and the rest
of the batch is still added (as OTLP's partial success does), so one bad id never loses the others.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from loopstack.server._auth import Project, current_project

router = APIRouter(prefix="/api", tags=["annotation queue"])
ProjectDep = Annotated[Project, Depends(current_project)]
_BAD: dict[int | str, dict[str, Any]] = {
    400: {"description": "bad queue name or filter"},
    401: {"description": "no or wrong API key"},
}


class SpanRef(BaseModel):
    """A span with its trace (found with one index lookup; a bare span id searches the project)."""

    model_config = ConfigDict(extra="forbid")

    trace_id: str = Field(max_length=200)
    span_id: str = Field(max_length=200)


class QueueAdd(BaseModel):
    """Traces and spans to put on one queue (at most 1,000 of each kind)."""

    model_config = ConfigDict(extra="forbid")

    queue: str = Field("default", min_length=1, max_length=200)
    trace_ids: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=1000)
    span_ids: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=1000)
    spans: list[SpanRef] = Field(default_factory=list, max_length=1000)


class Rejected(BaseModel):
    """One id that was not added, and why."""

    target_type: str
    id: str
    error: str


class QueueAddResult(BaseModel):
    """What was added (target id -> item id), what was already waiting, and what was rejected."""

    queue: str
    added: list[dict[str, str]]
    already_queued: list[dict[str, str]]
    rejected: list[Rejected]


@router.post(
    "/queue",
    response_model=QueueAddResult,
    summary="Add traces and spans to an annotation queue",
    responses=_BAD,
)
async def add_to_queue(request: Request, project: ProjectDep, body: QueueAdd) -> QueueAddResult:
    from loopstack.store.annotations import AnnotationQueueRepository, Target

    targets = [Target("trace", t.strip().lower()) for t in body.trace_ids]
    targets += [Target("span", s.strip().lower()) for s in body.span_ids]
    targets += [Target("span", s.span_id.strip().lower(), s.trace_id.strip().lower()) for s in body.spans]

    def run() -> QueueAddResult:
        repo = AnnotationQueueRepository(request.app.state.store, project.name)
        result = repo.add(targets, queue=body.queue)
        return QueueAddResult(
            queue=body.queue.strip(),
            added=[
                {"target_type": t.target_type, "id": t.target_id, "item_id": item}
                for t, item in result.added.items()
            ],
            already_queued=[{"target_type": t.target_type, "id": t.target_id} for t in result.already_queued],
            rejected=[
                Rejected(target_type=t.target_type, id=t.target_id, error=err) for t, err in result.rejected
            ],
        )

    return await run_in_threadpool(run)


@router.get("/queue", summary="Annotation queues: counts per queue, and the items of one", responses=_BAD)
async def list_queue(
    request: Request,
    project: ProjectDep,
    queue: Annotated[str | None, Query(max_length=200)] = None,
    status: Literal["pending", "locked", "done"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    from loopstack.store.annotations import AnnotationQueueRepository

    def run() -> dict[str, Any]:
        repo = AnnotationQueueRepository(request.app.state.store, project.name)
        items = repo.items(queue, status=status, limit=limit)
        return {"counts": repo.counts(), "items": [_item(asdict(i)) for i in items]}

    return await run_in_threadpool(run)


def _item(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("input", "output"):
        row.pop(key, None)
    return row
