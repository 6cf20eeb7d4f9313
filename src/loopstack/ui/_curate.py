"""The trace list's "Add N model calls to dataset": the list's current filter, curated into a dataset."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse

from loopstack.errors import LoopstackError
from loopstack.store import Store
from loopstack.store.tracelist import TraceFilters
from loopstack.ui._context import UIContext, check_same_origin
from loopstack.ui._forms import opt_str
from loopstack.ui._render import PREFIX

#: Most model calls one form post curates (more: ``loopstack dataset from-traces``, which can sample).
MAX_FROM_FILTER = 5000


def curatable(store: Store, project: str, filters: TraceFilters) -> int:
    """How many model calls the trace list's filter selects for curation (counted up to the cap + 1)."""
    from loopstack.flywheel.curation import criteria_from_trace_filters
    from loopstack.store.curation import CurationRepository

    try:
        criteria = criteria_from_trace_filters(filters)
        return CurationRepository(store, project).count(criteria, cap=MAX_FROM_FILTER)
    except LoopstackError:
        return 0


def add_routes(router: APIRouter, ctx: UIContext) -> None:
    @router.post("/traces/curate", name="ui_traces_curate", dependencies=[Depends(check_same_origin)])
    async def curate_filter(request: Request) -> RedirectResponse:
        from loopstack.flywheel.curation import criteria_from_trace_filters, curate
        from loopstack.ui._traces import parse_filters

        form = await request.form()
        dataset = opt_str(str(form.get("dataset") or ""), 200)
        if not dataset:
            raise HTTPException(400, "add to dataset: give the dataset a name")
        back = opt_str(str(form.get("back") or ""), 4000) or ""
        if not back.startswith(f"{PREFIX}/traces") or "//" in back:  # the trace list only, never elsewhere
            back = f"{PREFIX}/traces"
        query = {
            k: v
            for k, v in parse_qsl(urlsplit(back).query)
            if k not in ("cursor", "curated", "curated_dataset", "curated_version")
        }
        store, project = ctx.store(), ctx.project(request).name
        try:
            criteria = criteria_from_trace_filters(parse_filters(query))
            found = curatable(store, project, parse_filters(query))
            if found > MAX_FROM_FILTER:
                raise HTTPException(
                    400,
                    f"add to dataset: this filter selects more than {MAX_FROM_FILTER} model calls; narrow "
                    "it, or use `loopstack dataset from-traces` (it can --sample and --limit)",
                )
            report = curate(dataset, criteria=criteria, store=store, project=project)
        except LoopstackError as exc:
            raise HTTPException(400, f"add to dataset: {exc}") from None
        done = urlencode(
            {
                **query,
                "curated": report.added,
                "curated_dataset": dataset,
                "curated_version": report.version or "",
            }
        )
        return RedirectResponse(f"{PREFIX}/traces?{done}", status_code=303)
