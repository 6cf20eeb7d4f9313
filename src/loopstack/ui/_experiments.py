"""Experiment pages: the runs table (filter, sort, a metric charted across runs with CI bars), the
N-run comparison matrix, and every run that evaluated one prompt version.

A filter that does not parse is shown in place, above an empty table, with a 400 status.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from loopstack.errors import LoopstackError, NotFound
from loopstack.store.experiments import ExperimentPage, ExperimentRepository
from loopstack.ui._chart import RunPoint, ci_chart
from loopstack.ui._context import UIContext
from loopstack.ui._forms import opt_int, opt_str
from loopstack.ui._render import PREFIX, render

PAGE = 50
MATRIX_PAGE = 50
CHART_RUNS = 200


def _fail(exc: LoopstackError) -> HTTPException:
    return HTTPException(404 if isinstance(exc, NotFound) else 400, str(exc))


def _chart(ctx: UIContext, request: Request, expr: str, metric: str | None, names: list[str]) -> Any:
    """The chart of ``metric`` over the (up to CHART_RUNS newest) runs matching the filter."""
    from loopstack.store.experiments import RUN_METRICS

    scored = [n for n in names if n not in RUN_METRICS]
    metric = metric if metric in names else (scored[0] if scored else None)
    if metric is None:
        return None, None
    page = ExperimentRepository(ctx.store(), ctx.project(request).name).query(
        f"{expr} {metric}>=-1e308", sort="created", desc=True, limit=CHART_RUNS
    )
    found = list(reversed(page.experiments))
    series = list(dict.fromkeys(e.run.model or "" for e in found))
    points = []
    for e in found:
        m = e.metrics[metric]
        if m.mean is None:
            continue
        label = f"{e.run.label} · {e.run.created_at:%Y-%m-%d %H:%M}"
        href = f"{PREFIX}/runs/{e.run.id}"
        points.append(RunPoint(label, m.mean, m.ci_low, m.ci_high, series.index(e.run.model or ""), href))
    return metric, ci_chart(f"{metric} across runs (oldest left), 95% CI", points, series)


def runs_table(ctx: UIContext, request: Request) -> HTMLResponse:
    """The runs table: ``?q=FILTER&sort=NAME&desc=1&page=N&chart=METRIC``."""
    from loopstack.evals.experiments import list_experiments

    q = request.query_params
    expr = opt_str(q.get("q"), 2000) or ""
    sort = opt_str(q.get("sort"), 200) or "created"
    desc = q.get("desc", "1") != "0"
    page_no = opt_int(q.get("page"), "page") or 1
    store, project = ctx.store(), ctx.project(request).name
    error = None
    try:
        page = list_experiments(
            store, project, expr, sort=sort, desc=desc, limit=PAGE, offset=(page_no - 1) * PAGE
        )
        metric, chart = _chart(ctx, request, expr, opt_str(q.get("chart"), 200) or sort, page.metric_names)
    except LoopstackError as exc:
        error = str(exc)
        page = ExperimentPage([], 0, ExperimentRepository(store, project).metric_names())
        metric, chart = None, None
    return render(
        request,
        "experiments.html",
        status_code=400 if error else 200,
        page=page,
        expr=expr,
        sort=sort,
        desc=desc,
        page_no=page_no,
        pages=max(1, -(-page.total // PAGE)),
        error=error,
        metric=metric,
        chart=chart,
    )


def add_routes(router: APIRouter, ctx: UIContext) -> None:
    @router.get("/matrix", response_class=HTMLResponse, name="ui_matrix")
    def matrix(request: Request) -> HTMLResponse:
        from loopstack.evals.matrix import build_matrix

        q = request.query_params
        ids = [r for v in q.getlist("run") for r in v.split(",") if r.strip()]
        only = q.get("only") or "all"
        if only not in ("all", "changed"):
            raise HTTPException(400, f"only: {only!r} is not one of all, changed")
        page_no = opt_int(q.get("page"), "page") or 1
        repo = ExperimentRepository(ctx.store(), ctx.project(request).name)
        try:
            m = build_matrix(repo.runs, ids)
            experiments = repo.many([r.id for r in m.runs])
        except LoopstackError as exc:
            raise _fail(exc) from None
        rows = [r for r in m.rows if only == "all" or r.changed]
        pages = max(1, -(-len(rows) // MATRIX_PAGE))
        shown = rows[(page_no - 1) * MATRIX_PAGE : page_no * MATRIX_PAGE]
        return render(
            request,
            "matrix.html",
            m=m,
            experiments=experiments,
            rows=shown,
            n_rows=len(rows),
            only=only,
            page_no=page_no,
            pages=pages,
        )

    @router.get(
        "/prompts/{name}/versions/{version}", response_class=HTMLResponse, name="ui_prompt_version_runs"
    )
    def version_runs(request: Request, name: str, version: int) -> HTMLResponse:
        from loopstack.evals.experiments import backfill

        store, project = ctx.store(), ctx.project(request).name
        backfill(store, project)
        found = ExperimentRepository(store, project).for_prompt_version(name, version)
        names = sorted({n for e in found for n, m in e.metrics.items() if m.kind == "score"})
        return render(
            request, "prompt_version_runs.html", name=name, version=version, found=found, names=names
        )
