"""Prompt pages: the list, one prompt's versions and labels, a diff of any two versions, label moves.

A label move (promote or roll back) takes two steps: a GET shows what will change and the diff, and only
the POST from that confirmation page moves the label.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from loopstack.errors import LoopstackError, NotFound
from loopstack.ui._context import UIContext, check_same_origin
from loopstack.ui._forms import opt_str
from loopstack.ui._render import PREFIX, render


def _registry(ctx: UIContext, request: Request) -> Any:
    from loopstack.prompts import PromptRegistry

    return PromptRegistry(ctx.store(), ctx.project(request).name)


def _fail(exc: LoopstackError) -> HTTPException:
    return HTTPException(404 if isinstance(exc, NotFound) else 400, str(exc))


def _previous_versions(reg: Any, name: str) -> dict[str, int]:
    """For each label, the version it pointed at before its last move (what a roll back restores)."""
    out: dict[str, int] = {}
    for entry in reg.history(name):  # newest first
        if entry.kind == "label" and entry.label not in out and entry.from_version is not None:
            out[entry.label] = entry.from_version
    return out


def add_routes(router: APIRouter, ctx: UIContext) -> None:
    @router.get("/prompts", response_class=HTMLResponse, name="ui_prompts")
    def prompts(request: Request) -> HTMLResponse:
        return render(request, "prompts.html", prompts=_registry(ctx, request).list_prompts())

    @router.get("/prompts/{name}", response_class=HTMLResponse, name="ui_prompt")
    def prompt(request: Request, name: str) -> HTMLResponse:
        reg = _registry(ctx, request)
        try:
            versions = reg.versions(name)
            labels = reg.labels(name)
            history = reg.history(name)
        except LoopstackError as exc:
            raise _fail(exc) from None
        return render(
            request,
            "prompt.html",
            name=name,
            versions=list(reversed(versions)),
            labels=labels,
            previous=_previous_versions(reg, name),
            history=history[:50],
        )

    @router.get("/prompts/{name}/diff", response_class=HTMLResponse, name="ui_prompt_diff")
    def diff(request: Request, name: str) -> HTMLResponse:
        reg = _registry(ctx, request)
        a, b = opt_str(request.query_params.get("a")), opt_str(request.query_params.get("b"))
        try:
            versions = reg.versions(name)
            if not versions:
                raise NotFound(f"prompt '{name}' has no versions yet")
            a = a or str(max(1, versions[-1].version - 1))
            b = b or str(versions[-1].version)
            d = reg.diff(name, a, b)
        except LoopstackError as exc:
            raise _fail(exc) from None
        return render(request, "prompt_diff.html", name=name, d=d, a=a, b=b, versions=versions)

    @router.get("/prompts/{name}/label", response_class=HTMLResponse, name="ui_prompt_label_confirm")
    def confirm(request: Request, name: str) -> HTMLResponse:
        """The confirmation step: what the label points at now, where it will point, and the diff."""
        reg = _registry(ctx, request)
        label = opt_str(request.query_params.get("label"), 100)
        target = opt_str(request.query_params.get("version"))
        if not label or not target:
            raise HTTPException(400, "label move: both label and version are needed")
        try:
            to = reg.resolve(name, target)
            current = reg.labels(name).get(label)
            d = reg.diff(name, current, to.version) if current is not None else None
        except LoopstackError as exc:
            raise _fail(exc) from None
        return render(
            request,
            "prompt_label.html",
            name=name,
            label=label,
            to=to,
            current=current,
            d=d,
            rollback=request.query_params.get("rollback") == "1",
        )

    @router.post("/prompts/{name}/label", name="ui_prompt_label", dependencies=[Depends(check_same_origin)])
    async def move(request: Request, name: str) -> RedirectResponse:
        form = await request.form()
        if form.get("confirm") != "yes":
            raise HTTPException(400, "label move: tick the confirmation box first")
        label = opt_str(str(form.get("label") or ""), 100)
        version = opt_str(str(form.get("version") or ""))
        if not label or not version:
            raise HTTPException(400, "label move: both label and version are needed")
        message = opt_str(str(form.get("message") or ""), 2000)
        reg = _registry(ctx, request)
        try:
            moved = reg.set_label(name, label, version, author=ctx.author(request), message=message)
        except LoopstackError as exc:
            raise _fail(exc) from None
        return RedirectResponse(
            f"{PREFIX}/prompts/{name}?moved={moved.label}&to={moved.to_version}", status_code=303
        )
