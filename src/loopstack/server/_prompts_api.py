"""REST API for prompts (built on ``PromptRegistry``): what the SDK's remote prompt source and tools call."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from loopstack._inputs import MAX_INT
from loopstack.server._auth import Project, current_project
from loopstack.server._params import ERRORS

router = APIRouter(prefix="/api/prompts", tags=["prompts"], responses=ERRORS)
ProjectDep = Annotated[Project, Depends(current_project)]


def _registry(request: Request, project: Project) -> Any:
    from loopstack.prompts import PromptRegistry

    return PromptRegistry(request.app.state.store, project.name)


@router.get("", summary="List prompts with their latest version and labels")
async def list_prompts(request: Request, project: ProjectDep) -> dict[str, Any]:
    registry = _registry(request, project)
    items = await run_in_threadpool(registry.list_prompts)
    return {"items": [p.to_dict() for p in items]}


@router.get("/{name}", summary="One version: by label, by number, or the production label by default")
async def get_prompt(
    request: Request,
    project: ProjectDep,
    name: str,
    label: str | None = None,
    version: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
) -> dict[str, Any]:
    registry = _registry(request, project)
    label = label or None  # ``?label=`` is no label, not an empty one
    found = await run_in_threadpool(lambda: registry.get(name, label=label, version=version))
    out: dict[str, Any] = found.to_dict()
    return out


@router.get("/{name}/versions", summary="Every version of a prompt, oldest first")
async def list_versions(request: Request, project: ProjectDep, name: str) -> dict[str, Any]:
    registry = _registry(request, project)
    found = await run_in_threadpool(registry.versions, name)
    return {"items": [v.to_dict() for v in found]}


class PushBody(BaseModel):
    """Content of a new version (the prompt file format, as JSON)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    messages: list[dict[str, str]]
    model: str | None = None
    params: dict[str, Any] | None = None
    description: str | None = None
    message: str | None = None
    author: str | None = None
    labels: list[str] = Field(default_factory=list)


@router.post("", status_code=201, summary="Push a version (identical content returns the existing one)")
async def push_prompt(request: Request, project: ProjectDep, body: PushBody) -> dict[str, Any]:
    registry = _registry(request, project)
    result = await run_in_threadpool(
        lambda: registry.push(
            body.name,
            body.messages,
            model=body.model,
            params=body.params,
            description=body.description,
            message=body.message,
            author=body.author,
            labels=body.labels,
        )
    )
    out: dict[str, Any] = result.to_dict()
    return out


class LabelBody(BaseModel):
    """Where to point a label: a version number, ``latest`` or another label."""

    model_config = ConfigDict(extra="forbid")

    target: Annotated[int, Field(ge=1, le=MAX_INT)] | str
    author: str | None = None
    message: str | None = None


@router.put("/{name}/labels/{label}", summary="Move a label")
async def set_label(
    request: Request, project: ProjectDep, name: str, label: str, body: LabelBody
) -> dict[str, Any]:
    registry = _registry(request, project)
    move = await run_in_threadpool(
        lambda: registry.set_label(name, label, body.target, author=body.author, message=body.message)
    )
    out: dict[str, Any] = move.to_dict()
    return out
