"""Filling the annotation queue from the trace list: the traces a filter matches, added through the
annotation queue repository (``store.annotations``), which the CLI and REST API use too."""

from __future__ import annotations

from loopstack.store import Store
from loopstack.store.annotations import AddResult, AnnotationQueueRepository, Target
from loopstack.store.spans import SpanRepository
from loopstack.store.tracelist import PAGE_SIZE, TraceFilters

#: The most traces one "add the filtered traces" request puts on a queue.
MAX_FROM_FILTER = 1000


def matching_trace_ids(store: Store, project: str, filters: TraceFilters, limit: int) -> list[str]:
    """Up to ``limit`` trace ids the trace list shows for ``filters``, newest first."""
    out: list[str] = []
    cursor: str | None = None
    spans = SpanRepository(store, project)
    while len(out) < limit:
        page, cursor = spans.trace_page(filters, cursor, limit=min(PAGE_SIZE * 4, limit - len(out)))
        out.extend(r.trace_id for r in page)
        if cursor is None:
            break
    return out


def add_traces(store: Store, project: str, trace_ids: list[str], *, queue: str = "default") -> AddResult:
    """Put each trace on ``queue`` (a bad id is rejected alone; a waiting trace is not added twice)."""
    repo = AnnotationQueueRepository(store, project)
    return repo.add([Target("trace", t.strip().lower()) for t in trace_ids], queue=queue)


def add_filtered(
    store: Store,
    project: str,
    filters: TraceFilters,
    *,
    limit: int = MAX_FROM_FILTER,
    queue: str = "default",
) -> AddResult:
    """Put the newest ``limit`` traces matching ``filters`` on ``queue``."""
    repo = AnnotationQueueRepository(store, project)
    ids = matching_trace_ids(store, project, filters, min(limit, MAX_FROM_FILTER))
    return repo.add([Target("trace", t) for t in ids], queue=queue)
