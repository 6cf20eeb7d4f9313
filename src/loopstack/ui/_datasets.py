"""Dataset pages: the list, a dataset's items (with links to the production spans they came from),
one item's revisions, and editing its expected output."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from loopstack.errors import LoopstackError, NotFound
from loopstack.store.datasets import DatasetRepository
from loopstack.ui import _datasets_io as io
from loopstack.ui._context import UIContext, check_same_origin
from loopstack.ui._forms import opt_int, opt_str
from loopstack.ui._render import PREFIX, render

ITEMS_PER_PAGE = 100


def _fail(exc: LoopstackError) -> HTTPException:
    return HTTPException(404 if isinstance(exc, NotFound) else 400, str(exc))


def add_routes(router: APIRouter, ctx: UIContext) -> None:
    def repo(request: Request) -> DatasetRepository:
        return DatasetRepository(ctx.store(), ctx.project(request).name)

    @router.get("/datasets", response_class=HTMLResponse, name="ui_datasets")
    def datasets(request: Request) -> HTMLResponse:
        return render(request, "datasets.html", datasets=repo(request).list_datasets())

    @router.get("/datasets/{name}", response_class=HTMLResponse, name="ui_dataset")
    def dataset(request: Request, name: str) -> HTMLResponse:
        q = request.query_params
        version = opt_int(q.get("version"), "version")
        split = opt_str(q.get("split"))
        page = max(1, opt_int(q.get("page"), "page") or 1)
        r = repo(request)
        try:
            info = r.get(name)
            items = r.items(name, version, split=split) if info.version else []
        except LoopstackError as exc:
            raise _fail(exc) from None
        start = (page - 1) * ITEMS_PER_PAGE
        return render(
            request,
            "dataset.html",
            info=info,
            items=items[start : start + ITEMS_PER_PAGE],
            total=len(items),
            page=page,
            has_next=start + ITEMS_PER_PAGE < len(items),
            version=version or info.version,
        )

    @router.get("/datasets/{name}/items/{key:path}", response_class=HTMLResponse, name="ui_dataset_item")
    def item(request: Request, name: str, key: str) -> HTMLResponse:
        store, project = ctx.store(), ctx.project(request).name
        try:
            current = io.find_item(store, project, name, key)
            history = DatasetRepository(store, project).history(name, key)
        except LoopstackError as exc:
            raise _fail(exc) from None
        return render(request, "dataset_item.html", name=name, item=current, history=list(reversed(history)))

    @router.post(
        "/datasets/{name}/items/{key:path}",
        name="ui_dataset_item_edit",
        dependencies=[Depends(check_same_origin)],
    )
    async def edit(request: Request, name: str, key: str) -> RedirectResponse:
        form = await request.form()
        text = str(form.get("expected") or "")
        store, project = ctx.store(), ctx.project(request).name
        try:
            before = io.find_item(store, project, name, key)
            result = io.set_expected(store, project, name, key, io.parse_expected(text, before.expected))
        except LoopstackError as exc:
            raise _fail(exc) from None
        return RedirectResponse(
            f"{PREFIX}/datasets/{name}/items/{key}?saved={result.version}", status_code=303
        )
