"""Annotation pages: the queues, and reviewing one item at a time with keyboard shortcuts
(a accept, r reject, c correct, m comment, n next)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from loopstack.errors import LoopstackError, NotFound
from loopstack.ui import _queue
from loopstack.ui._context import AUTHOR_COOKIE, UIContext, check_same_origin
from loopstack.ui._forms import opt_str
from loopstack.ui._render import PREFIX, render


def _fail(exc: LoopstackError) -> HTTPException:
    if isinstance(exc, _queue.LockLost):
        return HTTPException(409, str(exc))
    return HTTPException(404 if isinstance(exc, NotFound) else 400, str(exc))


def add_routes(router: APIRouter, ctx: UIContext) -> None:
    @router.get("/annotate", response_class=HTMLResponse, name="ui_annotate")
    def queues(request: Request) -> HTMLResponse:
        counts = _queue.queue_counts(ctx.store(), ctx.project(request).id)
        return render(request, "annotate.html", counts=counts, reviewer=ctx.author(request))

    @router.post("/annotate/reviewer", name="ui_annotate_reviewer", dependencies=[Depends(check_same_origin)])
    async def set_reviewer(request: Request) -> RedirectResponse:
        form = await request.form()
        name = opt_str(str(form.get("reviewer") or ""), 200)
        if not name:
            raise HTTPException(400, "reviewer: give a name to record on your judgements")
        resp = RedirectResponse(f"{PREFIX}/annotate", status_code=303)
        resp.set_cookie(AUTHOR_COOKIE, name, samesite="strict", httponly=True, max_age=365 * 86400)
        return resp

    @router.get("/annotate/{queue}", response_class=HTMLResponse, name="ui_annotate_queue")
    def review(request: Request, queue: str) -> HTMLResponse:
        store, pid, reviewer = ctx.store(), ctx.project(request).id, ctx.author(request)
        item = _queue.claim_next(
            store, pid, queue, reviewer, after=opt_str(request.query_params.get("after"))
        )
        counts = _queue.queue_counts(store, pid).get(queue, {"pending": 0, "locked": 0, "done": 0})
        return render(request, "annotate_item.html", queue=queue, item=item, counts=counts, reviewer=reviewer)

    @router.post(
        "/annotate/{queue}/{item_id}", name="ui_annotate_judge", dependencies=[Depends(check_same_origin)]
    )
    async def judge(request: Request, queue: str, item_id: str) -> RedirectResponse:
        form = await request.form()
        verdict = str(form.get("verdict") or "")
        store, pid, reviewer = ctx.store(), ctx.project(request).id, ctx.author(request)
        base = f"{PREFIX}/annotate/{quote(queue)}"
        if verdict == "next":
            _queue.release(store, pid, item_id, reviewer)
            return RedirectResponse(f"{base}?after={item_id}", status_code=303)
        try:
            _queue.judge(
                store,
                pid,
                item_id,
                reviewer,
                verdict,
                correction=str(form.get("correction") or "") or None,
                comment=opt_str(str(form.get("comment") or ""), 10_000),
            )
        except LoopstackError as exc:
            raise _fail(exc) from None
        return RedirectResponse(f"{base}?judged={verdict}", status_code=303)
