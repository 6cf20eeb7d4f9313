"""The playground: run a draft prompt and stored versions side by side on several models, over typed
variables or chosen dataset items, and save the draft as a new version.

A playground run is an ordinary eval run (``kind: playground`` in its config): the same runner, so it
is traced, scored, cached (a rerun at temperature 0 replays from the model cache) and listed in the
runs table. The draft runs as prompt ``NAME`` version 0; saving it re-attributes those runs to the
version it becomes, so "every run that evaluated v4" includes the tries that led to it.

Every check happens before the first run is created: an unknown model or one without credentials, a
variable the templates do not use or one they need and lack, a template that does not parse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopstack.errors import InvalidInput, LoopstackError
from loopstack.evals.matrix import Matrix, build_matrix
from loopstack.prompts import PromptRegistry, PromptVersion
from loopstack.prompts._content import FieldError, check_messages, check_params
from loopstack.prompts._template import syntax_error, variables_of
from loopstack.prompts.diff import PromptDiff, diff_versions
from loopstack.store import Store, new_id
from loopstack.store.experiments import ExperimentRepository
from loopstack.store.runs import RunRepository

MAX_MODELS = 6
MAX_ITEMS = 50
DRAFT_VERSION = 0


@dataclass
class PlaygroundRequest:
    """What to run: the draft (optional) and stored versions of one prompt × models × inputs."""

    name: str
    messages: list[dict[str, str]] = field(default_factory=list)
    """The draft's messages; empty: run only the stored ``versions``."""
    params: dict[str, Any] = field(default_factory=dict)
    versions: list[int] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    variables: dict[str, str] | None = None
    """Typed variables (one row); None: run on ``dataset`` items."""
    expected: str | None = None
    dataset: str | None = None
    item_keys: list[str] = field(default_factory=list)
    scorers: list[str] = field(default_factory=list)
    parent_version: int | None = None


@dataclass
class PlaygroundResult:
    run_ids: list[str]
    matrix: Matrix
    draft_run_ids: list[str]


def _check_draft(req: PlaygroundRequest) -> None:
    try:
        check_messages(req.messages)
        check_params(req.params)
    except FieldError as exc:
        raise InvalidInput(f"draft: {exc}") from None
    for i, m in enumerate(req.messages):
        problem = syntax_error(m["content"])
        if problem:
            raise InvalidInput(f"draft: message {i + 1} ({m['role']}): {problem}")


def _check_models(models: list[str]) -> None:
    from loopstack.models import get_model

    if not models:
        raise InvalidInput("models: pick at least one model")
    if len(models) > MAX_MODELS:
        raise InvalidInput(f"models: at most {MAX_MODELS} side by side (got {len(models)})")
    for name in models:
        model = get_model(name)
        problem = model.provider.missing_credentials()
        if problem:
            raise InvalidInput(f"model {name}: {problem}; nothing was run")


def _template_variables(reg: PromptRegistry, req: PlaygroundRequest) -> set[str]:
    sources = [m["content"] for m in req.messages]
    for v in req.versions:
        sources.extend(m["content"] for m in reg.get(req.name, version=v).messages)
    return {name for s in sources for name in variables_of(s)}


def _check_variables(used: set[str], typed: dict[str, str]) -> None:
    uses = ", ".join(sorted(used)) or "no variables"
    unused = sorted(set(typed) - used)
    if unused:
        raise InvalidInput(f"variable {unused[0]!r} is not used by the template (it uses: {uses})")
    missing = sorted(used - set(typed))
    if missing:
        raise InvalidInput(f"the template needs variable {missing[0]!r}: give it a value (it uses: {uses})")


def _typed_dataset(home: Path, variables: dict[str, str], expected: str | None) -> str:
    folder = home / "playground"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{new_id()}.jsonl"
    row: dict[str, Any] = {"id": "typed", **variables}
    if expected is not None:
        row["expected"] = expected
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    return str(path)


def suite_for(req: PlaygroundRequest, dataset: str) -> dict[str, Any]:
    """The suite a playground run is: inline draft + registry versions × models × scorers."""
    prompts: list[Any] = []
    if req.messages:
        prompts.append({"name": req.name, "messages": req.messages, "params": req.params})
    prompts.extend(f"{req.name}@{v}" for v in req.versions)
    return {
        "name": f"playground: {req.name}",
        "dataset": dataset,
        "prompts": prompts,
        "models": list(req.models),
        "scorers": [{"scorer": s} for s in req.scorers],
        "concurrency": 4,
    }


async def run_playground(store: Store, project: str, req: PlaygroundRequest) -> PlaygroundResult:
    """Check everything, then run the grid as eval runs of kind ``playground``; the matrix of results."""
    from loopstack.config import get_settings
    from loopstack.evals.runner import run_suite

    if not req.messages and not req.versions:
        raise InvalidInput("pick the draft or at least one stored version to run")
    if req.messages:
        _check_draft(req)
    _check_models(req.models)
    reg = PromptRegistry(store, project)
    used = _template_variables(reg, req)
    item_keys: list[str] | None = None
    if req.variables is not None:
        _check_variables(used, req.variables)
        dataset = _typed_dataset(get_settings().home, req.variables, req.expected)
    else:
        if not req.dataset:
            raise InvalidInput("inputs: type the variables, or pick a dataset and its items")
        item_keys = [k for k in req.item_keys if k] or None
        if item_keys is None:
            raise InvalidInput(f"dataset {req.dataset}: pick at least one item (up to {MAX_ITEMS})")
        if len(item_keys) > MAX_ITEMS:
            raise InvalidInput(f"dataset {req.dataset}: at most {MAX_ITEMS} items (got {len(item_keys)})")
        dataset = req.dataset
    config = {"kind": "playground", "playground": {"parent_version": req.parent_version}}
    result = await run_suite(
        suite_for(req, dataset), store=store, project=project, item_keys=item_keys, extra_config=config
    )
    ids = [r.run.id for r in result.runs]
    draft = [r.run.id for r in result.runs if r.run.prompt_version == DRAFT_VERSION]
    matrix = build_matrix(RunRepository(store, project), ids, min_runs=1, changed_first=False)
    return PlaygroundResult(ids, matrix, draft)


def draft_diff(
    reg: PromptRegistry, name: str, parent: int, messages: list[dict[str, str]], params: dict[str, Any]
) -> PromptDiff:
    """What saving the draft changes against its parent version."""
    before = reg.get(name, version=parent)
    after = PromptVersion(name=name, version=0, messages=messages, model=before.model, params=params)
    return diff_versions(before, after)


def save_draft(
    store: Store,
    project: str,
    name: str,
    parent: int,
    messages: list[dict[str, str]],
    params: dict[str, Any],
    *,
    message: str | None,
    label: str | None = None,
    author: str | None = None,
    run_ids: list[str] | None = None,
) -> int:
    """Push the draft as a new version of ``name`` (moving ``label`` to it if given); the version.

    Refuses a draft identical to its parent. The draft's playground runs (``run_ids``, prompt
    version 0 with this exact content) are attributed to the new version.
    """
    reg = PromptRegistry(store, project)
    d = draft_diff(reg, name, parent, messages, params)
    if d.identical:
        raise InvalidInput(f"nothing to save: the draft is identical to {name}@{parent}; edit it first")
    parent_version = reg.get(name, version=parent)
    pushed = reg.push(
        name,
        messages,
        model=parent_version.model,
        params=params,
        message=message,
        author=author,
        labels=[label] if label else [],
    )
    version = int(pushed.version)
    if run_ids:
        runs = RunRepository(store, project)
        exp = ExperimentRepository(store, project)
        for run_id in run_ids:
            try:
                run = runs.get(run_id)
            except LoopstackError:
                continue
            p = run.config.get("prompt") or {}
            same = p.get("messages") == messages and (p.get("params") or {}) == params
            if run.prompt_name == name and run.prompt_version == DRAFT_VERSION and same:
                exp.attribute_version(run.id, version)
    return version
