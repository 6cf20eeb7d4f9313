"""The overview dashboard: tiles, SVG time series and breakdowns by model and prompt version."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from loopstack.monitor import RANGES, compute_dashboard, resolve_range
from loopstack.store.environments import check_environment
from loopstack.ui._context import UIContext
from loopstack.ui._forms import opt_time
from loopstack.ui._render import render
from loopstack.ui._svg import line_chart


def add_routes(router: APIRouter, ctx: UIContext) -> None:
    @router.get("/", response_class=HTMLResponse, name="ui_dashboard")
    def dashboard(request: Request) -> HTMLResponse:
        q = request.query_params
        rng = q.get("range") or "24h"
        if rng not in RANGES:
            rng = "24h"
        start, end, width = resolve_range(
            rng, opt_time(q.get("start"), "start"), opt_time(q.get("end"), "end")
        )
        environment = check_environment(q.get("environment"))
        d = compute_dashboard(
            ctx.store(), ctx.project(request).id, start, end, width, environment=environment
        )
        s = d.series
        charts = [
            line_chart("Requests", d.buckets, [("requests", [float(x.requests) for x in s])]),
            line_chart(
                "Latency p50 / p95 (ms)",
                d.buckets,
                [("p50", [x.p50_ms for x in s]), ("p95", [x.p95_ms for x in s])],
            ),
            line_chart(
                "Tokens",
                d.buckets,
                [
                    ("input", [float(x.input_tokens) for x in s]),
                    ("output", [float(x.output_tokens) for x in s]),
                ],
            ),
            line_chart("Cost (USD)", d.buckets, [("cost", [x.cost for x in s])]),
            line_chart("Error rate", d.buckets, [("errors", [x.error_rate for x in s])], percent=True),
            line_chart(
                "Feedback rate", d.buckets, [("feedback", [x.feedback_rate for x in s])], percent=True
            ),
        ]
        titles = [
            "Requests",
            "Latency p50 / p95",
            "Tokens (input / output)",
            "Cost",
            "Error rate",
            "Feedback rate",
        ]
        score_charts = [
            (sc, line_chart(f"Mean {sc.name}", d.buckets, [(sc.name, sc.series)])) for sc in d.scores
        ]
        return render(
            request,
            "dashboard.html",
            d=d,
            rng=rng,
            ranges=list(RANGES),
            charts=list(zip(titles, charts, strict=True)),
            score_charts=score_charts,
            environment=environment,
        )

    @router.get("/analytics", response_class=HTMLResponse, name="ui_analytics")
    def analytics_page(request: Request) -> HTMLResponse:
        # Its own page: it reads raw spans and feedback per trace (no rollup), which over a 7-day window
        # of a busy project takes seconds, and the dashboard must stay fast.
        q = request.query_params
        rng = q.get("range") or "24h"
        if rng not in RANGES:
            rng = "24h"
        start, end, width = resolve_range(
            rng, opt_time(q.get("start"), "start"), opt_time(q.get("end"), "end")
        )
        from loopstack.monitor.analytics import product_analytics

        a_buckets, analytics = product_analytics(ctx.store(), ctx.project(request).id, start, end, width)
        acceptance_charts = [
            (
                kind,
                line_chart(
                    f"Acceptance by {kind}",
                    a_buckets,
                    [
                        (s.label, [r.value for r in s.acceptance_by_bucket])
                        for s in analytics
                        if s.kind == kind
                    ][:6],
                    percent=True,
                ),
            )
            for kind in ("prompt", "model", "arm")
            if any(s.kind == kind for s in analytics)
        ]
        return render(
            request,
            "analytics.html",
            rng=rng,
            ranges=list(RANGES),
            start=start,
            end=end,
            analytics=analytics,
            acceptance_charts=acceptance_charts,
        )
