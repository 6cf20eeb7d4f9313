"""Monitoring pages: online evaluators with their health, alert rules with their state, alert events;
forms to create an evaluator and an alert rule (checked by ``loopstack.monitor``, as the API is)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from loopstack.errors import LoopstackError, NotFound
from loopstack.ui._context import UIContext, check_same_origin
from loopstack.ui._forms import opt_float, opt_int, opt_str
from loopstack.ui._render import PREFIX, render

METRICS = (
    "error_rate",
    "p95_latency_ms",
    "cost",
    "cost_per_user",
    "mean_score",
    "negative_feedback_rate",
    "acceptance_rate",
)


def _page(ctx: UIContext, request: Request, status: int = 200, **extra: Any) -> HTMLResponse:
    from loopstack.evals.scorers import list_scorers
    from loopstack.monitor import health
    from loopstack.store.monitoring import AlertRepository, EvaluatorRepository

    store, project = ctx.store(), ctx.project(request).name
    evaluators = [{**r, "health": health(r)} for r in EvaluatorRepository(store, project).list()]
    alerts = AlertRepository(store, project)
    return render(
        request,
        "monitor.html",
        status_code=status,
        evaluators=evaluators,
        rules=alerts.list_rules(),
        events=alerts.list_events(limit=50),
        scorers=[s.name for s in list_scorers()],
        metrics=METRICS,
        error=extra.get("error"),
        form=extra.get("form", {}),
        created=request.query_params.get("created"),
    )


def _evaluator_data(form: dict[str, str]) -> dict[str, Any]:
    params_text = opt_str(form.get("params"), 10_000) or "{}"
    try:
        params = json.loads(params_text)
    except ValueError as exc:
        raise HTTPException(400, f"scorer parameters must be a JSON object ({exc})") from None
    if not isinstance(params, dict):
        raise HTTPException(400, "scorer parameters must be a JSON object")
    filters: dict[str, Any] = {}
    for field, key in (("prompt_name",) * 2, ("model",) * 2, ("kind",) * 2, ("span_name", "name")):
        value = opt_str(form.get(field))
        if value:
            filters[key] = value
    version = opt_int(form.get("prompt_version"), "prompt version")
    if version is not None:
        filters["prompt_version"] = version
    tags = [t.strip() for t in (form.get("tags") or "").split(",") if t.strip()]
    if tags:
        filters["tags"] = tags
    rate = opt_float(form.get("sample_rate"), "sample rate")
    return {
        "name": opt_str(form.get("name"), 200) or "",
        "level": form.get("level") or "span",
        "sample_rate": 0.1 if rate is None else rate,
        "scorers": [{"name": opt_str(form.get("scorer")) or "", "params": params}],
        "filter": filters,
        "on_feedback": form.get("on_feedback") == "yes",
    }


def _rule_data(form: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": opt_str(form.get("name"), 200) or "",
        "metric": form.get("metric") or "",
        "baseline": form.get("baseline") == "yes",
    }
    for key, parse in (("fire", opt_float), ("resolve", opt_float)):
        value = parse(form.get(key), key)
        if value is not None:
            data[key] = value
    for key in ("window_s", "sustained", "min_samples"):
        number = opt_int(form.get(key), key)
        if number is not None:
            data[key] = number
    score = opt_str(form.get("score_name"), 200)
    if score:
        data["score_name"] = score
    channels: list[dict[str, Any]] = []
    if opt_str(form.get("webhook"), 2000):
        channels.append({"type": "webhook", "url": opt_str(form.get("webhook"), 2000)})
    if opt_str(form.get("email"), 300):
        channels.append({"type": "email", "to": [opt_str(form.get("email"), 300)]})
    if form.get("log") == "yes":
        channels.append({"type": "log"})
    data["channels"] = channels
    return data


def add_routes(router: APIRouter, ctx: UIContext) -> None:
    @router.get("/monitor", response_class=HTMLResponse, name="ui_monitor")
    def monitor(request: Request) -> HTMLResponse:
        return _page(ctx, request)

    @router.get("/monitor/evaluators/{key}", response_class=HTMLResponse, name="ui_evaluator")
    def evaluator(request: Request, key: str) -> HTMLResponse:
        from loopstack.monitor import health
        from loopstack.store.monitoring import EvaluatorRepository

        repo = EvaluatorRepository(ctx.store(), ctx.project(request).name)
        try:
            row = repo.get(key)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None
        return render(
            request, "evaluator.html", ev=row, health=health(row), scores=repo.online_scores(key, 50)
        )

    @router.post("/monitor/evaluators", name="ui_evaluator_create", dependencies=[Depends(check_same_origin)])
    async def create_evaluator(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        from loopstack.monitor import create_evaluator as create

        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            data = _evaluator_data(form)
            row = await run_in_threadpool(create, ctx.store(), ctx.project(request).name, data)
        except HTTPException as exc:
            return _page(ctx, request, 400, error=str(exc.detail), form=form)
        except LoopstackError as exc:
            return _page(ctx, request, 400, error=str(exc), form=form)
        return RedirectResponse(f"{PREFIX}/monitor?created={row['name']}", status_code=303)

    @router.post("/monitor/alerts", name="ui_alert_create", dependencies=[Depends(check_same_origin)])
    async def create_rule(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        from loopstack.monitor import create_rule as create

        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            data = _rule_data(form)
            row = await run_in_threadpool(create, ctx.store(), ctx.project(request).name, data)
        except HTTPException as exc:
            return _page(ctx, request, 400, error=str(exc.detail), form=form)
        except LoopstackError as exc:
            return _page(ctx, request, 400, error=str(exc), form=form)
        return RedirectResponse(f"{PREFIX}/monitor?created={row['name']}#rules", status_code=303)
