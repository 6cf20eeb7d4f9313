"""Experiment tracking: each run's metrics (every scorer's mean with its CI, errors, cost, latency),
derived from its stored items with the same statistics the reports use, and kept in ``run_metrics``
so the runs table can filter and sort on them.

``record_summaries`` runs whenever a suite's results are collected (a finished or resumed run);
``backfill`` fills in runs stored before experiment tracking, the first time the runs table is read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from loopstack.evals._outcome import RunSummary, summarize
from loopstack.store import Store
from loopstack.store.experiments import ExperimentPage, ExperimentRepository, Metric


def _num(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def metrics_of(summary: RunSummary, scorer_versions: dict[str, str] | None = None) -> list[Metric]:
    """The metric rows of one run summary: a row per scorer, per run-level metric, and the run's own."""
    versions = scorer_versions or {}
    out = [
        Metric(
            name,
            "score",
            _num(s.mean),
            _num(s.ci_low),
            _num(s.ci_high),
            s.n,
            s.errors,
            versions.get(name) or versions.get(name.split(".", 1)[0]),
        )
        for name, s in summary.scores.items()
    ]
    out.extend(Metric(name, "score", _num(v), n=summary.n_items) for name, v in summary.metrics.items())
    n = summary.n_items
    out.extend(
        [
            Metric("cost", "run", summary.cost, n=n),
            Metric("latency_ms", "run", summary.mean_latency_ms, n=n),
            Metric("errors", "run", float(summary.n_errored), n=n, errors=summary.n_errored),
            Metric("items", "run", float(n), n=n),
        ]
    )
    return out


def record_summaries(store: Store, project: str, summaries: Iterable[RunSummary]) -> None:
    """Store the metrics of each summarised run (replacing what was there)."""
    repo = ExperimentRepository(store, project)
    for summary in summaries:
        repo.save_metrics(summary.run.id, metrics_of(summary, repo.scorer_versions(summary.run.id)))


def backfill(store: Store, project: str, *, limit: int = 500) -> int:
    """Compute metrics for finished runs that have none yet; how many were filled in."""
    repo = ExperimentRepository(store, project)
    todo = repo.without_metrics(limit=limit)
    for run in todo:
        items = repo.runs.items(run.id, content=False)
        repo.save_metrics(run.id, metrics_of(summarize(run, items, {}), repo.scorer_versions(run.id)))
    return len(todo)


def list_experiments(
    store: Store,
    project: str,
    expr: str = "",
    *,
    sort: str = "created",
    desc: bool = True,
    limit: int = 50,
    offset: int = 0,
) -> ExperimentPage:
    """The runs table: runs matching ``expr`` (see ``store/_runfilter.py``), with their metrics."""
    backfill(store, project)
    return ExperimentRepository(store, project).query(expr, sort=sort, desc=desc, limit=limit, offset=offset)
