"""Eval run pages: the list, one run's scores with confidence intervals, and a paired comparison of
two runs (statistics on top, then the items side by side, changed ones first, filterable to
regressions)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from loopstack.errors import LoopstackError, NotFound
from loopstack.store.runs import RunRepository
from loopstack.ui._context import UIContext
from loopstack.ui._forms import opt_str
from loopstack.ui._render import render


def _fail(exc: LoopstackError) -> HTTPException:
    return HTTPException(404 if isinstance(exc, NotFound) else 400, str(exc))


def add_routes(router: APIRouter, ctx: UIContext) -> None:
    def repo(request: Request) -> RunRepository:
        return RunRepository(ctx.store(), ctx.project(request).name)

    @router.get("/runs", response_class=HTMLResponse, name="ui_runs")
    def runs(request: Request) -> HTMLResponse:
        from loopstack.ui._experiments import runs_table

        return runs_table(ctx, request)

    @router.get("/runs/{run_id}", response_class=HTMLResponse, name="ui_run")
    def run(request: Request, run_id: str) -> HTMLResponse:
        from loopstack.evals import summarize

        r = repo(request)
        try:
            record = r.get(run_id)
            items = r.items(run_id)
        except LoopstackError as exc:
            raise _fail(exc) from None
        summary = summarize(record, items, {})
        from loopstack.evals.calibration_notes import judge_calibrations

        judges = {s.name for it in items for s in it.scores if s.source == "llm"}
        calibrations = judge_calibrations(ctx.store(), ctx.project(request).name, judges)
        return render(
            request,
            "run.html",
            run=record,
            summary=summary,
            items=items[:500],
            n_items=len(items),
            judges=sorted(judges),
            calibrations=calibrations,
        )

    @router.get("/compare", response_class=HTMLResponse, name="ui_compare")
    def compare(request: Request) -> HTMLResponse:
        from loopstack.evals.compare import compare_stored_pairs

        q = request.query_params
        a, b = opt_str(q.get("a")), opt_str(q.get("b"))
        r = repo(request)
        if not a or not b:
            return render(request, "compare_pick.html", runs=r.list_runs(limit=200))
        only = q.get("only") or "all"
        if only not in ("all", "changed", "regressions"):
            raise HTTPException(400, f"only: {only!r} is not one of all, changed, regressions")
        try:
            comparison, pairs = compare_stored_pairs(r, a, b)
        except LoopstackError as exc:
            raise _fail(exc) from None
        counts = {
            "all": len(pairs),
            "changed": sum(1 for p in pairs if p.changed),
            "regressions": sum(1 for p in pairs if p.regressed),
        }
        shown: list[Any] = [
            p
            for p in pairs
            if only == "all" or (only == "changed" and p.changed) or (only == "regressions" and p.regressed)
        ]
        from loopstack.evals.report._fmt import verdict_class

        verdicts = {name: comparison.verdict(name) for name in comparison.scores}
        classes = {name: verdict_class(v) for name, v in verdicts.items()}
        return render(
            request,
            "compare.html",
            c=comparison,
            verdicts=verdicts,
            classes=classes,
            pairs=shown[:500],
            counts=counts,
            only=only,
            a=a,
            b=b,
        )
