"""Rollout pages: the list, and one rollout with its arms side by side (always-valid intervals), the
test's verdict, its decisions and the label's history (where an automatic rollback shows)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from loopstack.errors import NotFound
from loopstack.ui._context import UIContext
from loopstack.ui._render import render


def add_routes(router: APIRouter, ctx: UIContext) -> None:
    @router.get("/rollouts", response_class=HTMLResponse, name="ui_rollouts")
    def rollouts(request: Request) -> HTMLResponse:
        from loopstack.store.rollouts import RolloutRepository

        rows = RolloutRepository(ctx.store(), ctx.project(request).name).list()
        return render(request, "rollouts.html", rollouts=rows)

    @router.get("/rollouts/{key}", response_class=HTMLResponse, name="ui_rollout")
    def rollout(request: Request, key: str) -> HTMLResponse:
        from loopstack.monitor.rollout_runner import live_status
        from loopstack.prompts import PromptRegistry
        from loopstack.store import utcnow

        store, project = ctx.store(), ctx.project(request).name
        try:
            found = live_status(store, project, key, utcnow())
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None
        row = found["rollout"]
        history = [
            h for h in PromptRegistry(store, project).history(row["prompt"]) if h.label == row["label"]
        ]
        steps = row["steps"]
        return render(
            request,
            "rollout.html",
            ro=row,
            check=found["check"],
            history=history,
            pct=steps[min(row["step_index"], len(steps) - 1)],
            control_pct=100 - max(s for s in steps if s < 100),
        )
