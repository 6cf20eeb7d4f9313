"""``/api/judges/{score}/calibration``: a judge's stored agreement with human labels (κ, α, badge)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from loopstack.server._auth import Project, current_project
from loopstack.server._params import ERRORS

router = APIRouter(prefix="/api", tags=["safety"], responses=ERRORS)
ProjectDep = Annotated[Project, Depends(current_project)]


@router.get("/judges/{score}/calibration", summary="A judge's calibration against human labels")
async def get_judge_calibration(request: Request, project: ProjectDep, score: str) -> dict[str, Any]:
    """The last ``loopstack judge calibrate`` result for the judge's score name: every statistic with
    its bootstrap CI and n, the human–human ceiling, and the badge; 404 when it was never calibrated."""
    from loopstack.errors import NotFound
    from loopstack.safety.calibration import stored_calibration

    found = await run_in_threadpool(stored_calibration, request.app.state.store, project.name, score)
    if found is None:
        raise NotFound(f"judge {score!r} has no calibration (run: loopstack judge calibrate {score} ...)")
    return found
