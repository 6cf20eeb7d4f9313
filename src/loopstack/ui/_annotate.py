"""Annotation pages: the queues, reviewing one item at a time with keyboard shortcuts
(a accept, r reject, c correct, m comment, n next), and adding the traces of a filtered list."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from loopstack.errors import LoopstackError, NotFound
from loopstack.store.annotations import AnnotationQueueRepository, LockLost
from loopstack.ui import _queue
from loopstack.ui._context import AUTHOR_COOKIE, UIContext, check_same_origin
from loopstack.ui._forms import opt_str
from loopstack.ui._render import PREFIX, render

_EMPTY = {"pending": 0, "locked": 0, "done": 0}


def _fail(exc: LoopstackError) -> HTTPException:
    if isinstance(exc, LockLost):
        return HTTPException(409, str(exc))
    return HTTPException(404 if isinstance(exc, NotFound) else 400, str(exc))


def add_routes(router: APIRouter, ctx: UIContext) -> None:
    def repo(request: Request) -> AnnotationQueueRepository:
        return AnnotationQueueRepository(ctx.store(), ctx.project(request).name)

    @router.get("/annotate", response_class=HTMLResponse, name="ui_annotate")
    def queues(request: Request) -> HTMLResponse:
        return render(request, "annotate.html", counts=repo(request).counts(), reviewer=ctx.author(request))

    @router.post("/annotate/reviewer", name="ui_annotate_reviewer", dependencies=[Depends(check_same_origin)])
    async def set_reviewer(request: Request) -> RedirectResponse:
        form = await request.form()
        name = opt_str(str(form.get("reviewer") or ""), 200)
        if not name:
            raise HTTPException(400, "reviewer: give a name to record on your judgements")
        resp = RedirectResponse(f"{PREFIX}/annotate", status_code=303)
        resp.set_cookie(AUTHOR_COOKIE, name, samesite="strict", httponly=True, max_age=365 * 86400)
        return resp

    @router.post("/annotate/add", name="ui_annotate_add", dependencies=[Depends(check_same_origin)])
    async def add_traces(request: Request) -> RedirectResponse:
        """The trace list's "Add N traces to the annotation queue": the traces it showed, by id."""
        form = await request.form()
        ids = [str(v) for v in form.getlist("trace_id") if str(v).strip()]
        if not ids:
            raise HTTPException(400, "add to queue: no traces were selected")
        if len(ids) > _queue.MAX_FROM_FILTER:
            raise HTTPException(400, f"add to queue: at most {_queue.MAX_FROM_FILTER} traces at a time")
        queue = opt_str(str(form.get("queue") or ""), 200) or "default"
        try:
            result = _queue.add_traces(ctx.store(), ctx.project(request).name, ids, queue=queue)
        except LoopstackError as exc:
            raise _fail(exc) from None
        back = opt_str(str(form.get("back") or ""), 4000) or ""
        if not back.startswith(f"{PREFIX}/traces") or "//" in back:  # the trace list only, never elsewhere
            back = f"{PREFIX}/traces"
        sep = "&" if "?" in back else "?"
        counts = urlencode(
            {
                "queued": len(result.added),
                "already": len(result.already_queued),
                "rejected": len(result.rejected),
                "queue": queue,
            }
        )
        return RedirectResponse(f"{back}{sep}{counts}", status_code=303)

    @router.get("/annotate/{queue}", response_class=HTMLResponse, name="ui_annotate_queue")
    def review(request: Request, queue: str) -> HTMLResponse:
        r, reviewer = repo(request), ctx.author(request)
        try:
            item = r.claim_next(queue, reviewer, after=opt_str(request.query_params.get("after"), 64))
        except LoopstackError as exc:
            raise _fail(exc) from None
        counts = r.counts().get(queue, _EMPTY)
        return render(request, "annotate_item.html", queue=queue, item=item, counts=counts, reviewer=reviewer)

    @router.post(
        "/annotate/{queue}/{item_id}", name="ui_annotate_judge", dependencies=[Depends(check_same_origin)]
    )
    async def judge(request: Request, queue: str, item_id: str) -> RedirectResponse:
        form = await request.form()
        verdict = str(form.get("verdict") or "")
        r, reviewer = repo(request), ctx.author(request)
        base = f"{PREFIX}/annotate/{quote(queue)}"
        if verdict == "next":
            r.release(item_id, reviewer)
            return RedirectResponse(f"{base}?after={item_id}", status_code=303)
        try:
            r.judge(
                item_id,
                reviewer,
                verdict,
                correction=str(form.get("correction") or "") or None,
                comment=opt_str(str(form.get("comment") or ""), 10_000),
            )
        except LoopstackError as exc:
            raise _fail(exc) from None
        return RedirectResponse(f"{base}?judged={verdict}", status_code=303)
