"""``/api/pii-policy``: read and change the project's PII policy (masking at ingest, external models)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from starlette.concurrency import run_in_threadpool

from loopstack.server._auth import Project, current_project
from loopstack.server._params import ERRORS

router = APIRouter(prefix="/api", tags=["safety"], responses=ERRORS)
ProjectDep = Annotated[Project, Depends(current_project)]


@router.get("/pii-policy", summary="The project's PII policy")
async def get_pii_policy(request: Request, project: ProjectDep) -> dict[str, Any]:
    from loopstack.safety import project_pii_policy

    policy = await run_in_threadpool(project_pii_policy, request.app.state.store, project.name)
    return policy.model_dump(mode="json")


@router.put("/pii-policy", summary="Change fields of the project's PII policy (others keep their value)")
async def put_pii_policy(
    request: Request, project: ProjectDep, changes: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Fields: ``ingest`` (off, placeholder, redact, hash), ``external`` (off, mask, refuse),
    ``external_strategy``, ``config`` (entities, score_threshold, recognizers, ...). A bad value is a
    400 naming it, and the stored policy stays as it was."""
    from loopstack.errors import InvalidInput
    from loopstack.safety import PiiPolicy, set_project_pii_policy

    unknown = sorted(set(changes) - set(PiiPolicy.model_fields))
    if unknown:
        raise InvalidInput(
            f"PII policy: unknown field {unknown[0]!r}; fields: {', '.join(PiiPolicy.model_fields)}"
        )
    policy = await run_in_threadpool(
        lambda: set_project_pii_policy(request.app.state.store, project.name, **changes)
    )
    return policy.model_dump(mode="json")
