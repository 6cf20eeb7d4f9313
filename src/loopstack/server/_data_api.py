"""Read-only REST listing of datasets and eval runs, over the evals repositories, scoped to the project."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from loopstack._inputs import MAX_INT
from loopstack.server._auth import Project, current_project
from loopstack.server._params import ERRORS

router = APIRouter(prefix="/api", tags=["datasets and runs"], responses=ERRORS)
ProjectDep = Annotated[Project, Depends(current_project)]


@router.get("/datasets", summary="List datasets with their current version and size")
async def list_datasets(request: Request, project: ProjectDep) -> dict[str, Any]:
    from loopstack.store.datasets import DatasetRepository

    repo = DatasetRepository(request.app.state.store, project.name)
    found = await run_in_threadpool(repo.list_datasets)
    return {"items": [asdict(d) for d in found]}


@router.get("/datasets/{name}", summary="One dataset and its items (current or a given version)")
async def get_dataset(
    request: Request,
    project: ProjectDep,
    name: str,
    version: Annotated[int | None, Query(ge=0, le=MAX_INT)] = None,
    split: str | None = None,
) -> dict[str, Any]:
    from loopstack.store.datasets import DatasetRepository

    repo = DatasetRepository(request.app.state.store, project.name)

    def run() -> dict[str, Any]:
        info = repo.get(name)
        items = repo.items(name, version, split=split)
        return {**asdict(info), "items": [asdict(i) for i in items]}

    return await run_in_threadpool(run)


@router.get("/runs", summary="List eval runs, newest first")
async def list_runs(
    request: Request,
    project: ProjectDep,
    group_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    from loopstack.store.runs import RunRepository

    def run() -> list[dict[str, Any]]:
        repo = RunRepository(request.app.state.store, project.name)
        return [_run(asdict(r)) for r in repo.list_runs(limit=limit, group_id=group_id)]

    return {"items": await run_in_threadpool(run)}


@router.get("/runs/{run_id}", summary="One run with its items and their scores")
async def get_run(request: Request, project: ProjectDep, run_id: str) -> dict[str, Any]:
    from loopstack.store.runs import RunRepository

    def run() -> dict[str, Any]:
        repo = RunRepository(request.app.state.store, project.name)
        record = repo.get(run_id)
        return {**_run(asdict(record)), "items": [asdict(i) for i in repo.items(record.id)]}

    return await run_in_threadpool(run)


def _run(row: dict[str, Any]) -> dict[str, Any]:
    row.pop("project_id", None)
    return row
