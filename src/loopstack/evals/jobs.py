"""Eval jobs: a suite run in the background of the server (the UI's eval form), with progress.

A job runs the ordinary runner in its own thread and event loop, under a group id chosen up front, so
its progress is read from the stored rows (items stored / items planned) — the same rows any
process would see. Jobs live in this process's memory; the runs they write are ordinary runs.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

import yaml

from loopstack.evals.suite import Suite
from loopstack.store import Store, new_id
from loopstack.store.runs import RunRepository

_JOBS: dict[str, EvalJob] = {}
_LOCK = threading.Lock()
MAX_JOBS = 100


@dataclass
class EvalJob:
    id: str
    suite: Suite
    project: str
    group_id: str
    total: int
    status: str = "running"  # running | completed | failed
    error: str | None = None
    pinned: dict[str, Any] = field(default_factory=dict)
    """The suite as run, its dataset pinned to the version the job used (the YAML download)."""

    def done(self, store: Store) -> int:
        repo = RunRepository(store, self.project)
        return sum(repo.count_items(r.id) for r in repo.group(self.group_id))


def suite_yaml(data: dict[str, Any]) -> str:
    """A suite mapping as the YAML file ``loopstack eval`` reads (keys in the schema's order)."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


def suite_data(suite: Suite) -> dict[str, Any]:
    """The suite as a plain mapping without its defaults (what a person would write)."""
    from loopstack.evals.suite import PromptRef

    data = suite.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    data["prompts"] = [
        str(p) if isinstance(p, PromptRef) else d for p, d in zip(suite.prompts, data["prompts"], strict=True)
    ]
    data["models"] = [
        m if isinstance(m, str) else d for m, d in zip(suite.models, data["models"], strict=True)
    ]
    return data


def start_job(store: Store, project: str, suite: Suite) -> EvalJob:
    """Check the suite (dataset, prompts, models, scorers) and start it in the background."""
    from loopstack.evals._dataset import load_dataset
    from loopstack.evals.runner import build_scorers, resolve_models

    dataset = load_dataset(suite, store, project)
    build_scorers(suite)
    resolve_models(suite, suite.model_names)
    pinned = suite_data(suite)
    if dataset.dataset_id is not None and dataset.version is not None:
        pinned["dataset"] = f"{suite.dataset_ref()[0]}@{dataset.version}"
    n_prompts = len(suite.prompts)
    total = len(dataset.items) * n_prompts * len(suite.model_names) * suite.epochs
    job = EvalJob(new_id(), suite, project, new_id(), total, pinned=pinned)
    with _LOCK:
        if len(_JOBS) >= MAX_JOBS:
            oldest = next(iter(_JOBS))
            del _JOBS[oldest]
        _JOBS[job.id] = job
    threading.Thread(target=_run, args=(store, job), daemon=True, name=f"eval-job-{job.id[:8]}").start()
    return job


def _run(store: Store, job: EvalJob) -> None:
    from loopstack.evals.runner import run_suite

    try:
        asyncio.run(run_suite(job.suite, store=store, project=job.project, group_id=job.group_id))
        job.status = "completed"
    except Exception as exc:  # noqa: BLE001 - a job's failure is shown on its page, not raised anywhere
        job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"


def get_job(job_id: str) -> EvalJob | None:
    with _LOCK:
        return _JOBS.get(job_id)
