"""Trace pages: the filtered list, one trace (tree, waterfall, conversation, scores) and its forms."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from loopstack._inputs import decode_cursor, encode_cursor
from loopstack.errors import LoopstackError
from loopstack.store.scores import ScoreRepository
from loopstack.store.spans import SpanRepository
from loopstack.store.tracelist import TraceFilters
from loopstack.ui._context import UIContext, check_same_origin
from loopstack.ui._forms import opt_float, opt_str, opt_time
from loopstack.ui._render import PREFIX, render
from loopstack.ui._scores import add_human_score
from loopstack.ui._svg import waterfall_bar

#: Spans one trace page shows; a longer trace gets a link to the next spans (a 100k-span trace in one
#: page was tens of MB of HTML built in memory).
TRACE_PAGE = 1000
#: Newest scores a trace page lists (as many as ``GET /api/traces/{id}`` returns).
TRACE_SCORES = 1000

_SINCE = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}


def filters_from(request: Request) -> TraceFilters:
    """Trace filters from the query string (the names the filter form uses)."""
    return parse_filters(request.query_params)


def parse_filters(q: Mapping[str, str]) -> TraceFilters:
    """Trace filters from query parameters (also what ``loopstack queue add --filter`` takes)."""
    from loopstack.store import utcnow
    from loopstack.store.environments import check_environment

    start = opt_time(q.get("start"), "start")
    since = q.get("since")
    if start is None and since in _SINCE:
        start = utcnow() - _SINCE[since]
    status = opt_str(q.get("status"))
    if status not in (None, "error", "ok"):
        raise HTTPException(400, f"status: {status!r} is not one of error, ok")
    return TraceFilters(
        start=start,
        end=opt_time(q.get("end"), "end"),
        model=opt_str(q.get("model")),
        prompt=opt_str(q.get("prompt")),
        session=opt_str(q.get("session")),
        user=opt_str(q.get("user")),
        status=status,
        negative=q.get("negative") in ("1", "on", "true"),
        score_name=opt_str(q.get("score_name")),
        score_below=opt_float(q.get("score_below"), "score_below"),
        text=opt_str(q.get("text")),
        environment=check_environment(q.get("environment")),
    )


def span_tree(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Spans in tree order with ``depth`` and a waterfall bar relative to the whole trace."""
    if not rows:
        return []
    ids = {r["span_id"] for r in rows}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for r in rows:
        parent = r["parent_span_id"] if r["parent_span_id"] in ids else None
        children.setdefault(parent, []).append(r)
    t0 = min(r["start_time"] for r in rows)
    ends = [r["end_time"] or r["start_time"] for r in rows]
    total_ms = max((max(ends) - t0).total_seconds() * 1000, 1e-3)
    out: list[dict[str, Any]] = []
    # Depth-first with an explicit stack: a parent chain thousands deep must not hit Python's recursion
    # limit. Children go on the stack reversed so they come out in start order, as a recursive walk would.
    stack: list[tuple[dict[str, Any], int]] = [(r, 0) for r in reversed(children.get(None, []))]
    while stack:
        r, depth = stack.pop()
        offset = (r["start_time"] - t0).total_seconds() * 1000
        item = dict(r, depth=depth, offset_ms=offset)
        item["bar"] = waterfall_bar(
            offset / total_ms, (r["duration_ms"] or 0) / total_ms, error=r["status_code"] == "ERROR"
        )
        out.append(item)
        stack.extend((child, depth + 1) for child in reversed(children.get(r["span_id"], [])))
    return out


def add_routes(router: APIRouter, ctx: UIContext) -> None:
    @router.get("/traces", response_class=HTMLResponse, name="ui_traces")
    def traces(request: Request) -> HTMLResponse:
        f = filters_from(request)
        spans = SpanRepository(ctx.store(), ctx.project(request).name)
        try:
            rows, next_cursor = spans.trace_page(f, request.query_params.get("cursor"))
        except LoopstackError as exc:
            raise HTTPException(400, str(exc)) from None
        from loopstack.ui._curate import MAX_FROM_FILTER, curatable

        return render(
            request,
            "traces.html",
            rows=rows,
            next_cursor=next_cursor,
            options=spans.filter_options(),
            # counting what a filter curates can scan far more than the page shows (1.4 s for
            # negative feedback over 1M spans), so it runs only when asked (?count=1)
            curatable=(
                curatable(ctx.store(), ctx.project(request).name, f)
                if rows and request.query_params.get("count")
                else None
            ),
            curate_cap=MAX_FROM_FILTER,
        )

    @router.get("/traces/{trace_id}", response_class=HTMLResponse, name="ui_trace")
    def trace(request: Request, trace_id: str) -> HTMLResponse:
        store, project = ctx.store(), ctx.project(request).name
        cursor = request.query_params.get("after")
        try:
            after = decode_cursor(cursor, "after") if cursor else None
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        rows = SpanRepository(store, project).trace_spans(trace_id, limit=TRACE_PAGE + 1, after=after)
        if not rows:
            raise HTTPException(404, f"trace {trace_id} not found in this project")
        more = len(rows) > TRACE_PAGE
        rows = rows[:TRACE_PAGE]
        next_after = encode_cursor(rows[-1]["start_time"], rows[-1]["span_id"]) if more else None
        tree = span_tree(rows)
        wanted = request.query_params.get("span")
        selected = next((s for s in tree if s["span_id"] == wanted), tree[0])
        scores = ScoreRepository(store, project).list_scores(trace_id=trace_id, limit=TRACE_SCORES)
        from loopstack.ui._datasets_io import dataset_names

        return render(
            request,
            "trace.html",
            trace_id=trace_id,
            tree=tree,
            selected=selected,
            scores=scores,
            totals={
                "tokens": sum((s["input_tokens"] or 0) + (s["output_tokens"] or 0) for s in rows),
                "cost": sum(s["cost"] or 0 for s in rows),
                "duration_ms": max(s["offset_ms"] + (s["duration_ms"] or 0) for s in tree),
                "errors": sum(1 for s in rows if s["status_code"] == "ERROR"),
            },
            datasets=dataset_names(store, project),
            page={"size": TRACE_PAGE, "partial": more or after is not None, "next": next_after},
        )

    @router.post(
        "/traces/{trace_id}/scores", name="ui_trace_score", dependencies=[Depends(check_same_origin)]
    )
    async def trace_score(request: Request, trace_id: str) -> RedirectResponse:
        form = await request.form()
        kind = str(form.get("kind") or "score")
        span_id = opt_str(str(form.get("span_id") or ""), 16)
        comment = opt_str(str(form.get("comment") or ""), 10_000)
        kw: dict[str, Any]
        if kind == "feedback":
            value = opt_float(str(form.get("value") or ""), "value")
            if value not in (0.0, 1.0):
                raise HTTPException(400, "feedback: value must be 1 (good) or 0 (bad)")
            kw = {"name": "feedback", "value": value == 1.0, "data_type": "boolean"}
        elif kind == "correction":
            text = str(form.get("correction") or "")
            if not text.strip():
                raise HTTPException(400, "correction: the corrected output is empty")
            kw = {"name": "correction", "value": text, "data_type": "text"}
        else:
            name = opt_str(str(form.get("name") or ""), 200)
            value = opt_float(str(form.get("value") or ""), "value")
            if not name or value is None:
                raise HTTPException(400, "score: both a name and a numeric value are needed")
            kw = {"name": name, "value": value, "data_type": "numeric"}
        try:
            add_human_score(
                ctx.store(),
                ctx.project(request).name,
                trace_id=trace_id,
                span_id=span_id,
                comment=comment,
                author=ctx.author(request),
                **kw,
            )
        except LoopstackError as exc:
            raise HTTPException(400, str(exc)) from None
        suffix = f"?span={span_id}" if span_id else ""
        return RedirectResponse(f"{PREFIX}/traces/{trace_id}{suffix}", status_code=303)

    @router.post(
        "/traces/{trace_id}/dataset", name="ui_trace_dataset", dependencies=[Depends(check_same_origin)]
    )
    async def trace_to_dataset(request: Request, trace_id: str) -> RedirectResponse:
        from loopstack.ui._datasets_io import add_span_to_dataset

        form = await request.form()
        dataset = opt_str(str(form.get("dataset") or ""), 200)
        span_id = opt_str(str(form.get("span_id") or ""), 16)
        if not dataset or not span_id:
            raise HTTPException(400, "add to dataset: choose a dataset name and a span")
        store = ctx.store()
        rows = SpanRepository(store, ctx.project(request).name).trace_spans(trace_id, span_id=span_id)
        if not rows:
            raise HTTPException(404, f"span {span_id} not found in trace {trace_id}")
        expected = opt_str(str(form.get("expected") or ""), 1_000_000)
        try:
            added = add_span_to_dataset(store, ctx.project(request).name, dataset, rows[0], expected=expected)
        except LoopstackError as exc:
            raise HTTPException(400, str(exc)) from None
        how = urlencode(
            {"added": dataset, "input_from": added.input_from, "expected_from": added.expected_from}
        )
        return RedirectResponse(f"{PREFIX}/traces/{trace_id}?span={span_id}&{how}", status_code=303)
