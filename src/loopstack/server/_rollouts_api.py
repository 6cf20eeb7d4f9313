"""REST API of rollouts: start one on a label, read its arms and test, stop it or promote it by hand.

Bad input is a 4xx naming the problem (``loopstack.monitor`` checks it, as for the CLI): weights that do
not sum to 100, an unknown version, a second rollout on a label, an incoherent ramp.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from loopstack.server._auth import Project, current_project
from loopstack.server._params import ERRORS
from loopstack.store import Store, utcnow

router = APIRouter(prefix="/api/rollouts", tags=["rollouts"], responses=ERRORS)
ProjectDep = Annotated[Project, Depends(current_project)]


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


class RolloutBody(BaseModel):
    """A rollout: the prompt and label, the candidate (or weights), and the policy."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=200)
    label: str = Field("production", min_length=1, max_length=100)
    candidate: int | None = Field(None, ge=1, le=2**31 - 1)
    weights: dict[str, float] | None = Field(None, description='{"v3": 90, "v4": 10}: one fixed split')
    policy: dict[str, Any] = Field(
        default_factory=dict,
        description="steps, every_s | on_evidence, min_users, auto_promote, alpha, guardrails, channels …",
    )
    author: str | None = Field(None, max_length=200)


def view(row: dict[str, Any]) -> dict[str, Any]:
    """A rollout as JSON: its row plus each arm's version and share now."""
    out = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
    steps = [int(s) for s in row["steps"]]
    test = [s for s in steps if s < 100]
    pct = steps[min(int(row["step_index"]), len(steps) - 1)]
    out["arms"] = [
        {"arm": "control", "version": row["control_version"], "share_pct": 100 - max(test)},
        {"arm": "candidate", "version": row["candidate_version"], "share_pct": pct},
    ]
    out["candidate_pct"] = pct
    return out


@router.post("", status_code=201, summary="Start a rollout of a candidate version behind a label")
async def create(request: Request, project: ProjectDep, body: RolloutBody) -> dict[str, Any]:
    from loopstack.monitor.rollout_runner import start_rollout

    row = await run_in_threadpool(
        lambda: start_rollout(
            _store(request),
            project.name,
            body.prompt,
            label=body.label,
            candidate=body.candidate,
            weights=body.weights,
            policy=body.policy,
            author=body.author,
        )
    )
    return view(row)


@router.get("", summary="Rollouts, newest first")
async def list_rollouts(
    request: Request, project: ProjectDep, prompt: str | None = None, state: str | None = None
) -> dict[str, Any]:
    from loopstack.store.rollouts import RolloutRepository

    repo = RolloutRepository(_store(request), project.name)
    rows = await run_in_threadpool(lambda: repo.list(prompt=prompt, state=state))
    return {"items": [view(r) for r in rows]}


@router.get("/{key}", summary="One rollout (id, or a prompt's running one) with its live test")
async def get_rollout(request: Request, project: ProjectDep, key: str) -> dict[str, Any]:
    from loopstack.monitor.rollout_runner import live_status

    out = await run_in_threadpool(lambda: live_status(_store(request), project.name, key, utcnow()))
    return {**view(out["rollout"]), "check": out["check"]}


@router.post("/{key}/stop", summary="Stop a rollout (the label keeps the control)")
async def stop(request: Request, project: ProjectDep, key: str) -> dict[str, Any]:
    from loopstack.monitor.rollout_runner import stop_rollout

    return view(await run_in_threadpool(lambda: stop_rollout(_store(request), project.name, key)))


@router.post("/{key}/promote", summary="Promote the candidate by hand (the label moves to it)")
async def promote(request: Request, project: ProjectDep, key: str) -> dict[str, Any]:
    from loopstack.monitor.rollout_runner import promote_rollout

    return view(await run_in_threadpool(lambda: promote_rollout(_store(request), project.name, key)))
