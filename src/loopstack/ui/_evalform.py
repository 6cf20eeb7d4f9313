"""An eval without YAML: a form (dataset and split, prompt versions, models, scorers with parameters
and thresholds) that runs the suite in the background with progress, shows the result, and downloads
the same suite as a YAML file ``loopstack eval`` runs to the same results.

The form and the file round-trip: the form builds a suite mapping validated by the suite schema (a
bad field is named as in a file, ``form: scorers[0].params: ...``), and a pasted suite fills the form.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from loopstack.errors import InvalidInput, LoopstackError
from loopstack.ui._context import UIContext, check_same_origin
from loopstack.ui._render import PREFIX, render

SCORER_ROWS = 5


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]


def _blank_state() -> dict[str, Any]:
    return {
        "name": "",
        "dataset": "",
        "split": "",
        "limit": "",
        "prompts": "",
        "models": "",
        "epochs": "1",
        "scorers": [{"scorer": "", "name": "", "params": "", "threshold": "", "on": "mean"}] * SCORER_ROWS,
        "yaml": "",
    }


def _state_from_form(form: Any) -> dict[str, Any]:
    state = _blank_state()
    for key in ("name", "dataset", "split", "limit", "prompts", "models", "epochs", "yaml"):
        state[key] = str(form.get(key) or "").strip() if key != "yaml" else str(form.get(key) or "")
    state["scorers"] = [
        {
            "scorer": str(form.get(f"scorer_{i}") or "").strip(),
            "name": str(form.get(f"sname_{i}") or "").strip(),
            "params": str(form.get(f"params_{i}") or "").strip(),
            "threshold": str(form.get(f"threshold_{i}") or "").strip(),
            "on": "ci_low" if form.get(f"on_{i}") == "ci_low" else "mean",
        }
        for i in range(SCORER_ROWS)
    ]
    return state


def suite_mapping(state: dict[str, Any]) -> dict[str, Any]:
    """The suite a filled form describes (validated later by the suite schema)."""
    data: dict[str, Any] = {}
    if state["name"]:
        data["name"] = state["name"]
    dataset = state["dataset"]
    data["dataset"] = dataset
    if state["split"]:
        data["split"] = state["split"]
    for key in ("limit", "epochs"):
        if state[key] and not (key == "epochs" and state[key] == "1"):
            if not state[key].isdigit():
                raise InvalidInput(f"form: {key}: {state[key]!r} is not a whole number")
            data[key] = int(state[key])
    data["prompts"] = _lines(state["prompts"])
    data["models"] = _lines(state["models"])
    scorers = []
    for i, row in enumerate(state["scorers"]):
        if not row["scorer"]:
            continue
        entry: dict[str, Any] = {"scorer": row["scorer"]}
        if row["name"]:
            entry["name"] = row["name"]
        if row["params"]:
            try:
                params = json.loads(row["params"])
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"form: scorers[{i}].params: not a JSON object ({exc.msg})") from None
            if not isinstance(params, dict):
                raise InvalidInput(
                    f'form: scorers[{i}].params: give a JSON object, e.g. {{"field": "label"}}'
                )
            entry["params"] = params
        if row["threshold"]:
            try:
                entry["threshold"] = float(row["threshold"])
            except ValueError:
                raise InvalidInput(
                    f"form: scorers[{i}].threshold: {row['threshold']!r} is not a number"
                ) from None
            if row["on"] == "ci_low":
                entry["threshold_on"] = "ci_low"
        scorers.append(entry)
    if scorers:
        data["scorers"] = scorers
    return data


def state_from_suite(data: dict[str, Any]) -> dict[str, Any]:
    """Fill the form from a suite (a pasted or downloaded YAML file)."""
    from loopstack.evals.suite import parse_suite

    suite = parse_suite(data, filename="suite.yaml")
    if suite.dataset_file() is not None:
        raise InvalidInput("suite.yaml: dataset: the form runs stored datasets; push the file first")
    if any(hasattr(p, "messages") for p in suite.prompts):
        raise InvalidInput(
            "suite.yaml: prompts: the form runs registry prompts (name@version); inline ones are not"
        )
    state = _blank_state()
    state.update(
        name=suite.name or "",
        dataset=suite.dataset,
        split=suite.split or "",
        limit=str(suite.limit or ""),
        prompts="\n".join(str(p) for p in suite.prompts),
        models="\n".join(suite.model_names),
        epochs=str(suite.epochs),
    )
    rows = [
        {
            "scorer": s.scorer or "",
            "name": s.name or "",
            "params": json.dumps(s.params) if s.params else "",
            "threshold": "" if s.threshold is None else repr(s.threshold),
            "on": s.threshold_on,
        }
        for s in suite.scorers
        if s.scorer
    ]
    if len(rows) > SCORER_ROWS:
        raise InvalidInput(f"suite.yaml: scorers: the form holds {SCORER_ROWS} scorers")
    state["scorers"] = rows + state["scorers"][len(rows) :]
    return state


def _suite(state: dict[str, Any]) -> Any:
    from loopstack.evals.suite import parse_suite

    return parse_suite(suite_mapping(state), filename="form")


def add_routes(router: APIRouter, ctx: UIContext) -> None:
    def page(
        request: Request, state: dict[str, Any], status: int = 200, error: str | None = None
    ) -> HTMLResponse:
        from loopstack.evals.scorers import list_scorers
        from loopstack.store.datasets import DatasetRepository

        return render(
            request,
            "eval_form.html",
            status_code=status,
            s=state,
            error=error,
            scorer_names=sorted(sp.name for sp in list_scorers()),
            datasets=DatasetRepository(ctx.store(), ctx.project(request).name).list_datasets(),
        )

    @router.get("/evals/new", response_class=HTMLResponse, name="ui_eval_form")
    def new(request: Request) -> HTMLResponse:
        return page(request, _blank_state())

    @router.post("/evals/new", dependencies=[Depends(check_same_origin)])
    async def submit(request: Request) -> Response:
        import yaml

        from loopstack.evals.jobs import start_job, suite_data, suite_yaml

        form = await request.form()
        state = _state_from_form(form)
        action = form.get("action")
        try:
            if action == "load":
                try:
                    data = yaml.safe_load(state["yaml"] or "")
                except yaml.YAMLError as exc:
                    raise InvalidInput(
                        f"suite.yaml: {getattr(exc, 'problem', None) or 'invalid YAML'}"
                    ) from None
                if not isinstance(data, dict):
                    raise InvalidInput(
                        "suite.yaml: paste a suite (a mapping with dataset:, prompts:, models:)"
                    )
                return page(request, {**state_from_suite(data), "yaml": state["yaml"]})
            suite = _suite(state)
            if action == "yaml":
                return Response(
                    suite_yaml(suite_data(suite)),
                    media_type="application/x-yaml",
                    headers={"Content-Disposition": 'attachment; filename="suite.yaml"'},
                )
            job = start_job(ctx.store(), ctx.project(request).name, suite)
        except LoopstackError as exc:
            return page(request, state, 400, str(exc))
        return RedirectResponse(f"{PREFIX}/evals/jobs/{job.id}", status_code=303)

    @router.get("/evals/jobs/{job_id}", response_class=HTMLResponse, name="ui_eval_job")
    def job_page(request: Request, job_id: str) -> HTMLResponse:
        from loopstack.evals import summarize
        from loopstack.evals.jobs import get_job
        from loopstack.store.runs import RunRepository

        job = get_job(job_id)
        if job is None:
            raise HTTPException(404, f"eval job {job_id!r} not found (jobs live until the server restarts)")
        store = ctx.store()
        repo = RunRepository(store, job.project)
        done = job.done(store)
        summaries = []
        if job.status != "running":
            summaries = [summarize(r, repo.items(r.id, content=False), {}) for r in repo.group(job.group_id)]
        return render(request, "eval_job.html", job=job, done=done, summaries=summaries)

    @router.get("/evals/jobs/{job_id}/suite.yaml", name="ui_eval_job_yaml")
    def job_yaml(job_id: str) -> Response:
        from loopstack.evals.jobs import get_job, suite_yaml

        job = get_job(job_id)
        if job is None:
            raise HTTPException(404, f"eval job {job_id!r} not found")
        return Response(
            suite_yaml(job.pinned),
            media_type="application/x-yaml",
            headers={"Content-Disposition": 'attachment; filename="suite.yaml"'},
        )
