"""REST API of online evaluators and alert rules: define them, read their health, events and backfills.

Definitions are checked by ``loopstack.monitor`` (the CLI and UI use the same checks): an unknown
scorer, a scorer parameter it does not take or a filter on an unknown field is a 400 naming it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from loopstack.errors import InvalidInput
from loopstack.server._auth import Project, current_project
from loopstack.server._params import ERRORS, Limit, Offset, UTCTime
from loopstack.store import Store

router = APIRouter(prefix="/api", responses=ERRORS)
ProjectDep = Annotated[Project, Depends(current_project)]


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


class EvaluatorBody(BaseModel):
    """An online evaluator: which spans (filter), how many (sample_rate), judged by which scorers."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=200)
    level: Literal["span", "trace"] = Field("span", description="trace: a judge sees every span of the trace")
    filter: dict[str, Any] = Field(
        default_factory=dict,
        description="prompt_name, prompt_version, model, kind, name, status, environment, attributes, tags",
    )
    sample_rate: float = Field(0.1, ge=0, le=1, description="fraction of traces, by a hash of the trace id")
    scorers: list[dict[str, Any]] = Field(
        min_length=1, max_length=20, description='registered scorers: [{"name": "contains", "params": {...}}]'
    )
    on_feedback: bool = Field(
        False, description="also judge every thumbs-down or correction, whatever the rate"
    )
    enabled: bool = True


class EvaluatorPatch(BaseModel):
    """Fields to change (the evaluator's version goes up)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    level: Literal["span", "trace"] | None = None
    filter: dict[str, Any] | None = None
    sample_rate: float | None = Field(None, ge=0, le=1)
    scorers: list[dict[str, Any]] | None = Field(None, min_length=1, max_length=20)
    on_feedback: bool | None = None
    enabled: bool | None = None


class BackfillBody(BaseModel):
    """A backfill over spans that started in ``[start, end)``; without ``confirm`` only the preview."""

    model_config = ConfigDict(extra="forbid")

    start: UTCTime
    end: UTCTime
    sample_rate: float | None = Field(None, ge=0, le=1, description="default: the evaluator's")
    confirm: bool = Field(False, description="true: run it (the worker does, in chunks)")


def _evaluator(row: dict[str, Any]) -> dict[str, Any]:
    from loopstack.monitor import health

    keep = ("id", "name", "version", "level", "filter", "sample_rate", "scorers", "on_feedback", "enabled")
    out = {k: row[k] for k in keep}
    out["created_at"], out["updated_at"] = row["created_at"], row["updated_at"]
    out["health"] = health(row)
    return out


@router.post("/evaluators", status_code=201, tags=["evaluators"], summary="Create an online evaluator")
async def post_evaluator(request: Request, project: ProjectDep, body: EvaluatorBody) -> dict[str, Any]:
    from loopstack.monitor import create_evaluator

    def run() -> dict[str, Any]:
        return create_evaluator(_store(request), project.name, body.model_dump())

    return _evaluator(await run_in_threadpool(run))


@router.get("/evaluators", tags=["evaluators"], summary="List the online evaluators with their health")
async def get_evaluators(request: Request, project: ProjectDep) -> dict[str, Any]:
    from loopstack.store.monitoring import EvaluatorRepository

    rows = await run_in_threadpool(lambda: EvaluatorRepository(_store(request), project.name).list())
    return {"items": [_evaluator(r) for r in rows]}


@router.get(
    "/evaluators/{key}", tags=["evaluators"], summary="One evaluator: definition, health, recent scores"
)
async def get_evaluator(request: Request, project: ProjectDep, key: str) -> dict[str, Any]:
    from loopstack.store.monitoring import EvaluatorRepository

    def run() -> dict[str, Any]:
        repo = EvaluatorRepository(_store(request), project.name)
        out = _evaluator(repo.get(key))
        out["recent_scores"] = repo.online_scores(key, limit=20)
        return out

    return await run_in_threadpool(run)


@router.patch("/evaluators/{key}", tags=["evaluators"], summary="Change an evaluator (a new version)")
async def patch_evaluator(
    request: Request, project: ProjectDep, key: str, body: EvaluatorPatch
) -> dict[str, Any]:
    from loopstack.monitor import update_evaluator

    def run() -> dict[str, Any]:
        return update_evaluator(_store(request), project.name, key, body.model_dump(exclude_none=True))

    return _evaluator(await run_in_threadpool(run))


@router.post(
    "/evaluators/{key}/backfill",
    tags=["evaluators"],
    summary="Preview (and with confirm, schedule) a backfill over a time range",
)
async def post_backfill(
    request: Request, project: ProjectDep, key: str, body: BackfillBody
) -> dict[str, Any]:
    from loopstack.monitor.backfill import request_backfill

    if body.end <= body.start:
        raise InvalidInput("backfill: end must be after start")

    def run() -> dict[str, Any]:
        return request_backfill(
            _store(request),
            project.name,
            key,
            body.start,
            body.end,
            sample_rate=body.sample_rate,
            confirm=body.confirm,
        )

    return await run_in_threadpool(run)


# ---------------------------------------------------------------------------------------------- alerts


class ChannelBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    type: Literal["webhook", "email", "log"]
    url: str | None = Field(None, max_length=2000)
    to: list[str] = Field(default_factory=list, max_length=20)
    smtp_host: str | None = Field(None, max_length=300)
    smtp_port: int | None = Field(None, ge=1, le=65535)


class AlertRuleBody(BaseModel):
    """An alert rule over rolling windows (docs/monitoring.md, "Alerts")."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=200)
    metric: Literal[
        "error_rate",
        "p95_latency_ms",
        "cost",
        "cost_per_user",
        "mean_score",
        "negative_feedback_rate",
        "acceptance_rate",
    ]
    filter: dict[str, Any] = Field(default_factory=dict)
    score_name: str | None = Field(None, max_length=200)
    window_s: int = Field(300, ge=10, le=86_400)
    step_s: int | None = Field(None, ge=10, le=86_400)
    fire: float | None = Field(None, allow_inf_nan=False)
    resolve: float | None = Field(None, allow_inf_nan=False)
    min_samples: int = Field(30, ge=0, le=10_000_000)
    sustained: int = Field(1, ge=1, le=100)
    resolve_after: int = Field(1, ge=1, le=100)
    baseline: bool = False
    alpha: float = Field(0.01, gt=0, lt=0.5)
    resolve_alpha: float = Field(0.2, gt=0, lt=1)
    delay_s: int = Field(30, ge=0, le=3600)
    channels: list[ChannelBody] = Field(default_factory=list, max_length=10)


def _rule(row: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "id",
        "name",
        "version",
        "spec",
        "enabled",
        "state",
        "breach_streak",
        "clear_streak",
        "last_window_end",
        "last_value",
        "last_samples",
        "skipped_windows",
        "created_at",
    )
    return {k: row[k] for k in keep}


@router.post("/alerts/rules", status_code=201, tags=["alerts"], summary="Create an alert rule")
async def post_rule(request: Request, project: ProjectDep, body: AlertRuleBody) -> dict[str, Any]:
    from loopstack.monitor import create_rule

    data = body.model_dump(exclude_none=True)
    return _rule(await run_in_threadpool(lambda: create_rule(_store(request), project.name, data)))


@router.get("/alerts/rules", tags=["alerts"], summary="List alert rules with their state")
async def get_rules(request: Request, project: ProjectDep) -> dict[str, Any]:
    from loopstack.store.monitoring import AlertRepository

    rows = await run_in_threadpool(lambda: AlertRepository(_store(request), project.name).list_rules())
    return {"items": [_rule(r) for r in rows]}


@router.get("/alerts/rules/{key}", tags=["alerts"], summary="One alert rule")
async def get_rule(request: Request, project: ProjectDep, key: str) -> dict[str, Any]:
    from loopstack.store.monitoring import AlertRepository

    return _rule(
        await run_in_threadpool(lambda: AlertRepository(_store(request), project.name).get_rule(key))
    )


@router.get(
    "/alerts/events", tags=["alerts"], summary="Firings and resolutions, newest first, with deliveries"
)
async def get_events(
    request: Request,
    project: ProjectDep,
    rule: Annotated[str | None, Query(max_length=200, description="a rule's id or name")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    from loopstack.store.monitoring import AlertRepository

    def run() -> list[dict[str, Any]]:
        return AlertRepository(_store(request), project.name).list_events(
            rule=rule, limit=limit, offset=offset
        )

    items = await run_in_threadpool(run)
    return {"items": items, "next_offset": offset + limit if len(items) == limit else None}
