"""Eval run pages: the list, one run's scores with confidence intervals, and a paired comparison of
two runs (statistics on top, then the items side by side, changed ones first, filterable to
regressions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from loopstack.errors import LoopstackError, NotFound
from loopstack.store.runs import RunItemRecord, RunRepository
from loopstack.ui._context import UIContext
from loopstack.ui._forms import opt_str
from loopstack.ui._render import render


def _fail(exc: LoopstackError) -> HTTPException:
    return HTTPException(404 if isinstance(exc, NotFound) else 400, str(exc))


@dataclass
class ItemPair:
    """One item (and epoch) in both runs, with each score's two values."""

    key: str
    epoch: int
    baseline: RunItemRecord | None
    candidate: RunItemRecord | None
    scores: dict[str, tuple[float | None, float | None]]
    regressed: list[str]
    improved: list[str]

    @property
    def changed(self) -> bool:
        out_a = self.baseline.output if self.baseline else None
        out_b = self.candidate.output if self.candidate else None
        return bool(self.regressed or self.improved) or out_a != out_b


def _value(item: RunItemRecord | None, name: str) -> float | None:
    if item is None or item.error is not None:
        return None
    s = item.score(name)
    return None if s is None or s.error is not None else s.value


def pair_items(a: list[RunItemRecord], b: list[RunItemRecord], names: list[str]) -> list[ItemPair]:
    """Items of two runs side by side: regressions first, then improvements, other changes, the rest."""
    base = {(i.item_key, i.epoch): i for i in a}
    cand = {(i.item_key, i.epoch): i for i in b}
    pairs = []
    for key in sorted(base.keys() | cand.keys()):
        x, y = base.get(key), cand.get(key)
        values = {n: (_value(x, n), _value(y, n)) for n in names}
        worse = [n for n, (u, v) in values.items() if u is not None and (v is None or v < u)]
        better = [n for n, (u, v) in values.items() if v is not None and (u is None or v > u)]
        pairs.append(ItemPair(key[0], key[1], x, y, values, worse, better))
    pairs.sort(key=lambda p: (not p.regressed, not p.improved, not p.changed, p.key, p.epoch))
    return pairs


def add_routes(router: APIRouter, ctx: UIContext) -> None:
    def repo(request: Request) -> RunRepository:
        return RunRepository(ctx.store(), ctx.project(request).name)

    @router.get("/runs", response_class=HTMLResponse, name="ui_runs")
    def runs(request: Request) -> HTMLResponse:
        return render(request, "runs.html", runs=repo(request).list_runs(limit=200))

    @router.get("/runs/{run_id}", response_class=HTMLResponse, name="ui_run")
    def run(request: Request, run_id: str) -> HTMLResponse:
        from loopstack.evals._outcome import summarize

        r = repo(request)
        try:
            record = r.get(run_id)
            items = r.items(run_id)
        except LoopstackError as exc:
            raise _fail(exc) from None
        summary = summarize(record, items, {})
        return render(request, "run.html", run=record, summary=summary, items=items[:500], n_items=len(items))

    @router.get("/compare", response_class=HTMLResponse, name="ui_compare")
    def compare(request: Request) -> HTMLResponse:
        from loopstack.evals.compare import compare_stored_runs

        q = request.query_params
        a, b = opt_str(q.get("a")), opt_str(q.get("b"))
        r = repo(request)
        if not a or not b:
            return render(request, "compare_pick.html", runs=r.list_runs(limit=200))
        only = q.get("only") or "all"
        if only not in ("all", "changed", "regressions"):
            raise HTTPException(400, f"only: {only!r} is not one of all, changed, regressions")
        try:
            comparison, _ = compare_stored_runs(r, a, b)
            pairs = pair_items(r.items(a), r.items(b), list(comparison.scores))
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
        return render(
            request, "compare.html", c=comparison, pairs=shown[:500], counts=counts, only=only, a=a, b=b
        )
