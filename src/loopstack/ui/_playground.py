"""The playground page: edit a prompt (or start blank), run the draft and stored versions side by side
on several models over typed variables or dataset items, then save the draft as a new version.

A run is a plain form POST that returns the page with the grid (each cell: output, tokens, latency,
cost, scores). Saving goes through a confirmation page with the diff against the parent; a label move
there needs the same "I have reviewed the change" box as a label move on the prompt page. Bad input
is shown in place above the form, with the form as it was, and nothing is stored.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from loopstack.errors import LoopstackError, NotFound
from loopstack.ui._context import UIContext, check_same_origin
from loopstack.ui._forms import opt_str
from loopstack.ui._render import PREFIX, render

MAX_MESSAGES = 12
ROLES = ("system", "user", "assistant")


def _messages(form: Any) -> list[dict[str, str]]:
    out = []
    for i in range(MAX_MESSAGES):
        content = str(form.get(f"content_{i}") or "")
        role = str(form.get(f"role_{i}") or "user")
        if content.strip():
            out.append({"role": role if role in ROLES else "user", "content": content.replace("\r\n", "\n")})
    return out


def _params(form: Any) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, cast in (("temperature", float), ("max_tokens", int)):
        raw = opt_str(str(form.get(key) or ""))
        if raw is not None:
            try:
                params[key] = cast(raw)
            except ValueError:
                raise LoopstackFormError(f"{key}: {raw!r} is not a number") from None
    return params


class LoopstackFormError(Exception):
    """A form field that cannot be read (shown in place like any other bad input)."""


def _variables(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for n, line in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise LoopstackFormError(f"variables line {n}: write NAME=VALUE, got {line.strip()!r}")
        out[key.strip()] = value
    return out


def _split(text: str, sep: str = ",") -> list[str]:
    return [p.strip() for p in text.replace("\n", sep).split(sep) if p.strip()]


def _form_state(form: Any) -> dict[str, Any]:
    """The form as typed, to render it back (after a run, or with an error)."""
    return {
        "name": str(form.get("name") or "").strip(),
        "parent": opt_str(str(form.get("parent") or "")),
        "messages": _messages(form),
        "temperature": str(form.get("temperature") or ""),
        "max_tokens": str(form.get("max_tokens") or ""),
        "draft": form.get("draft") == "yes",
        "versions": [int(v) for v in (form.getlist("version") if form else []) if str(v).isdigit()],
        "models": str(form.get("models") or ""),
        "source": "dataset" if form.get("source") == "dataset" else "typed",
        "variables": str(form.get("variables") or ""),
        "expected": str(form.get("expected") or ""),
        "dataset": str(form.get("dataset") or "").strip(),
        "items": str(form.get("items") or ""),
        "scorers": str(form.get("scorers") or ""),
    }


def _request(state: dict[str, Any], form: Any) -> Any:
    from loopstack.evals.playground import PlaygroundRequest

    if not state["name"]:
        raise LoopstackFormError("name: give the prompt a name")
    typed = state["source"] == "typed"
    return PlaygroundRequest(
        name=state["name"],
        messages=state["messages"] if state["draft"] else [],
        params=_params(form),
        versions=state["versions"],
        models=_split(state["models"]),
        variables=_variables(state["variables"]) if typed else None,
        expected=(state["expected"] or None) if typed else None,
        dataset=state["dataset"] or None,
        item_keys=_split(state["items"]),
        scorers=_split(state["scorers"]),
        parent_version=int(state["parent"]) if state["parent"] and state["parent"].isdigit() else None,
    )


def add_routes(router: APIRouter, ctx: UIContext) -> None:
    def registry(request: Request) -> Any:
        from loopstack.prompts import PromptRegistry

        return PromptRegistry(ctx.store(), ctx.project(request).name)

    def page(request: Request, state: dict[str, Any], status: int = 200, **extra: Any) -> HTMLResponse:
        versions: list[Any] = []
        if state["name"]:
            try:
                versions = registry(request).versions(state["name"])
            except NotFound:
                versions = []
        from loopstack.store.datasets import DatasetRepository

        datasets = DatasetRepository(ctx.store(), ctx.project(request).name).list_datasets()
        context = {"result": None, "error": None, "draft_run_ids": [], **extra}
        return render(
            request,
            "playground.html",
            status_code=status,
            s=state,
            stored=versions,
            datasets=datasets,
            roles=ROLES,
            rows=max(len(state["messages"]) + 1, 2),
            **context,
        )

    @router.get("/playground", response_class=HTMLResponse, name="ui_playground")
    def start(request: Request) -> HTMLResponse:
        q = request.query_params
        name = opt_str(q.get("prompt"), 200) or ""
        state: dict[str, Any] = _form_state({})
        state.update(name=name, draft=True, models="mock/echo", source="typed")
        if name:
            try:
                pv = registry(request).get(name, version=int(v)) if (v := q.get("version")) else None
                pv = pv or registry(request).get(name, label="latest")
            except (LoopstackError, ValueError) as exc:
                raise HTTPException(404, str(exc)) from None
            from loopstack.prompts._template import variables_of

            used = sorted({n for m in pv.messages for n in variables_of(m["content"])})
            state.update(
                parent=str(pv.version),
                messages=list(pv.messages),
                temperature=str(pv.params.get("temperature", "")),
                max_tokens=str(pv.params.get("max_tokens", "")),
                models=pv.model or "mock/echo",
                variables="\n".join(f"{n}=" for n in used),
            )
        return page(request, state)

    @router.post("/playground", response_class=HTMLResponse, dependencies=[Depends(check_same_origin)])
    async def run(request: Request) -> HTMLResponse:
        from loopstack.evals.playground import run_playground

        form = await request.form()
        state = _form_state(form)
        store, project = ctx.store(), ctx.project(request).name
        try:
            if form.get("action") == "save":
                return _confirm_save(request, state, form)
            result = await run_playground(store, project, _request(state, form))
        except (LoopstackError, LoopstackFormError) as exc:
            return page(request, state, 400, error=str(exc))
        from loopstack.store.experiments import ExperimentRepository

        experiments = ExperimentRepository(store, project).many(result.run_ids)
        return page(
            request, state, result=result.matrix, experiments=experiments, draft_run_ids=result.draft_run_ids
        )

    def _confirm_save(request: Request, state: dict[str, Any], form: Any) -> HTMLResponse:
        from loopstack.evals.playground import draft_diff

        if not state["name"]:
            raise LoopstackFormError("name: give the prompt a name")
        if not state["messages"]:
            raise LoopstackFormError("nothing to save: the draft has no messages")
        params = _params(form)
        reg = registry(request)
        parent = int(state["parent"]) if state["parent"] and state["parent"].isdigit() else None
        d = draft_diff(reg, state["name"], parent, state["messages"], params) if parent else None
        if d is not None and d.identical:
            raise LoopstackFormError(
                f"nothing to save: the draft is identical to {state['name']}@{parent}; edit it first"
            )
        return render(
            request,
            "playground_save.html",
            name=state["name"],
            parent=parent,
            d=d,
            messages_json=json.dumps(state["messages"]),
            params_json=json.dumps(params),
            run_ids=",".join(_split(str(form.get("draft_runs") or ""))),
            labels=reg.labels(state["name"]) if parent else {},
        )

    @router.post("/playground/save", name="ui_playground_save", dependencies=[Depends(check_same_origin)])
    async def save(request: Request) -> Any:
        from loopstack.evals.playground import save_draft

        form = await request.form()
        name = str(form.get("name") or "").strip()
        label = opt_str(str(form.get("label") or ""), 100)
        if label and form.get("confirm") != "yes":
            raise HTTPException(
                400, f"moving label {label!r}: tick the confirmation box first; nothing was saved"
            )
        try:
            messages = json.loads(str(form.get("messages") or "[]"))
            params = json.loads(str(form.get("params") or "{}"))
        except json.JSONDecodeError:
            raise HTTPException(
                400, "save: the draft's messages are not valid JSON; nothing was saved"
            ) from None
        parent_raw = str(form.get("parent") or "")
        store, project = ctx.store(), ctx.project(request).name
        try:
            if parent_raw.isdigit():
                version = save_draft(
                    store,
                    project,
                    name,
                    int(parent_raw),
                    messages,
                    params,
                    message=opt_str(str(form.get("message") or ""), 2000),
                    label=label,
                    author=ctx.author(request),
                    run_ids=_split(str(form.get("runs") or "")),
                )
            else:
                version = (
                    registry(request)
                    .push(
                        name,
                        messages,
                        params=params,
                        message=opt_str(str(form.get("message") or ""), 2000),
                        author=ctx.author(request),
                        labels=[label] if label else [],
                    )
                    .version
                )
        except LoopstackError as exc:
            raise HTTPException(400, str(exc)) from None
        return RedirectResponse(f"{PREFIX}/prompts/{name}/versions/{version}?saved=1", status_code=303)
