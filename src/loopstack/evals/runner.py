"""The eval runner: a suite's prompt x model matrix over a dataset, run with bounded concurrency.

Each (run, item, epoch) is one job: render the prompt, call the model (through the models layer, so
the call is cached, retried, costed and traced), score the output, and hand the result to a writer
that stores it at once. A failing item becomes an errored item, never a crashed run. Interrupting
(Ctrl-C, SIGTERM) cancels what is in flight, stores what finished, and marks the runs ``interrupted``;
``resume(run_id)`` then runs only the items not yet stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopstack.errors import InvalidInput, LoopstackError
from loopstack.evals._dataset import load_dataset, reload_dataset
from loopstack.evals._outcome import EvalResult, compare, summarize
from loopstack.evals._plan import (
    DatasetPlan,
    PlanItem,
    PlannedRun,
    check_variables,
    git_sha,
    request_params,
    resolve_label,
    resolve_prompt,
)
from loopstack.evals._progress import RunProgress
from loopstack.evals._writer import ItemWriter
from loopstack.evals.scorers import Sample, Scorer, as_scorer, get_scorer
from loopstack.evals.suite import PromptRef, Suite, load_suite, parse_suite
from loopstack.prompts.prompt import Prompt
from loopstack.store import Store, get_store, new_id
from loopstack.store.runs import ItemResult, RunRecord, RunRepository, ScoreRow

SuiteLike = Suite | str | Path | dict[str, Any]


@dataclass(frozen=True)
class _Job:
    run: PlannedRun
    item: PlanItem
    epoch: int


def _as_suite(suite: SuiteLike) -> Suite:
    if isinstance(suite, Suite):
        return suite
    if isinstance(suite, dict):
        return parse_suite(suite, filename="suite")
    return load_suite(suite)


def build_scorers(suite: Suite) -> list[Scorer]:
    """Instances of the suite's scorers, named as the suite says; errors name the entry."""
    suite.load_scorer_modules()
    out: list[Scorer] = []
    for i, spec in enumerate(suite.scorers):
        params = dict(spec.params)
        if spec.name:
            params["alias"] = spec.name
        fn = suite.python_scorer(i) if spec.python is not None else None  # its errors name the field
        try:
            out.append(as_scorer(fn, **params) if fn is not None else get_scorer(str(spec.scorer), **params))
        except LoopstackError as exc:
            where = f"{suite.path.name}: " if suite.path is not None else ""
            raise InvalidInput(f"{where}scorers[{i}]: {exc}") from None
    return out


def _score_rows(scores: list[Any]) -> list[ScoreRow]:
    rows: list[ScoreRow] = []
    for s in scores:
        value, string_value = s.storage_values()
        meta = dict(s.metadata or {})
        if s.passed is not None:
            meta["passed"] = s.passed
        if s.threshold is not None:
            meta["threshold"] = s.threshold
        if s.scorer:
            meta["scorer"] = s.scorer
        rows.append(
            ScoreRow(
                name=s.name,
                data_type=s.data_type,
                value=value,
                string_value=string_value,
                source=s.source,
                comment=s.explanation,
                scorer_version=s.scorer_version,
                params=s.params or None,
                error=s.error,
                metadata=meta or None,
            )
        )
    return rows


def _span_ids() -> tuple[str | None, str | None]:
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None, None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


class _Execution:
    """One pass over the jobs of a set of runs: workers, the writer, progress, interrupts."""

    def __init__(
        self,
        suite: Suite,
        repo: RunRepository,
        scorers: list[Scorer],
        *,
        progress: RunProgress,
        store: Store,
    ) -> None:
        self.suite = suite
        self.repo = repo
        self.scorers = scorers
        self.progress = progress
        self.store = store
        self.interrupted = False
        #: a resumed run may hold errored attempts of the items it retries; a fresh run holds nothing
        self.replace = True

    async def run(self, jobs: list[_Job]) -> None:
        from opentelemetry import trace

        self.tracer = trace.get_tracer("loopstack.evals")
        self.models = resolve_models(self.suite, sorted({j.run.model for j in jobs}))
        writer = ItemWriter(self.repo, replace=self.replace)
        self.progress.start(len(jobs))
        it: Iterator[_Job] = iter(jobs)
        workers = [
            asyncio.create_task(self._worker(it, writer))
            for _ in range(min(self.suite.concurrency, len(jobs)))
        ]
        restore = self._catch_signals(workers)
        try:
            await asyncio.gather(*workers)
        except asyncio.CancelledError:
            self.interrupted = True
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            restore()
            self.progress.stop()
            await writer.close()

    def _catch_signals(self, workers: list[asyncio.Task[None]]) -> Callable[[], None]:
        loop = asyncio.get_running_loop()
        installed: list[int] = []

        def stop() -> None:
            self.interrupted = True
            for w in workers:
                w.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread, or no signal support: Ctrl-C cancels the task instead

        def restore() -> None:
            for sig in installed:
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(sig)

        return restore

    async def _worker(self, jobs: Iterator[_Job], writer: ItemWriter) -> None:
        for job in jobs:
            result = await self._one(job)
            writer.put(job.run.run_id or "", result)
            self.progress.advance(result.cost, failed=result.error is not None)

    async def _one(self, job: _Job) -> ItemResult:
        from loopstack import semconv

        attrs = {semconv.SPAN_TYPE: "eval", semconv.RUN_ID: job.run.run_id or ""}
        with self.tracer.start_as_current_span("eval.item", attributes=attrs):
            trace_id, span_id = _span_ids()
            return await self._call_and_score(job, trace_id, span_id)

    async def _call_and_score(self, job: _Job, trace_id: str | None, span_id: str | None) -> ItemResult:
        from loopstack.models import ModelRequest

        item, run = job.item, job.run
        output: str | None = None
        error: str | None = None
        response = None
        started = time.perf_counter()
        try:
            messages = run.prompt.render(**item.input)
            request = ModelRequest.of(messages, epoch=job.epoch, **run.params)
            model = self.models[run.model]
            call = model.generate(request, cache=self.suite.cache, store=self.store)
            if self.suite.timeout is not None:
                async with asyncio.timeout(self.suite.timeout):
                    response = await call
            else:
                response = await call
            output = response.text
        except Exception as exc:  # noqa: BLE001 - one failing item must not take the run down
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        latency = response.latency_ms if response is not None else (time.perf_counter() - started) * 1000
        scores: list[ScoreRow] = []
        if error is None:
            sample = Sample(
                input=item.input,
                output=output,
                expected=item.expected,
                metadata=item.metadata,
                latency_ms=latency,
                input_tokens=response.usage.input_tokens if response else None,
                output_tokens=response.usage.output_tokens if response else None,
                cost=response.cost if response else None,
                item_key=item.key,
                epoch=job.epoch,
            )
            for scorer in self.scorers:
                scores.extend(_score_rows(await scorer.score(sample)))
        return ItemResult(
            item_key=item.key,
            epoch=job.epoch,
            input=item.input,
            expected=item.expected,
            output=output,
            error=error,
            latency_ms=latency,
            input_tokens=response.usage.input_tokens if response else None,
            output_tokens=response.usage.output_tokens if response else None,
            cost=response.cost if response else None,
            cached=bool(response and response.cached),
            dataset_item_id=item.dataset_item_id,
            cluster=item.cluster,
            trace_id=trace_id,
            span_id=span_id,
            scores=scores,
        )


def resolve_models(suite: Suite, names: list[str]) -> dict[str, Any]:
    """A Model per model string (with the suite's provider options); unknown ones fail here, early."""
    from loopstack.models import get_model

    return {m: get_model(m, **suite.model_options(m)) for m in names}


def _init_tracing() -> None:
    """Every model call of a run is also a span row: start local tracing unless the app did."""
    try:
        from loopstack.tracing import ensure_init
    except ImportError:  # tracing not available in this build
        return
    with contextlib.suppress(Exception):
        ensure_init()


def _flush_tracing() -> None:
    try:
        from loopstack.tracing import flush
    except ImportError:
        return
    with contextlib.suppress(Exception):
        flush()


def _prompt_config(prompt: Prompt) -> dict[str, Any]:
    return {
        "name": prompt.name,
        "version": prompt.version,
        "messages": prompt.messages,
        "params": prompt.params,
        "label": prompt.label,
    }


def _plan_prompts(suite: Suite, store: Store, project: str, baseline: str | None) -> tuple[list[Prompt], int]:
    """The distinct prompt versions to run, and the index of the baseline among them."""
    prompts: list[Prompt] = []
    seen: set[tuple[str, int]] = set()
    for entry in suite.prompts:
        p = resolve_prompt(entry, store, project)
        if (p.name, p.version) not in seen:
            seen.add((p.name, p.version))
            prompts.append(p)
    if baseline is None:
        return prompts, 0
    names = [e.name for e in suite.prompts if isinstance(e, PromptRef)]
    if not names:
        raise InvalidInput("--baseline needs a registry prompt in the suite (inline prompts have no labels)")
    base = resolve_label(names[0], baseline, store, project)
    for i, p in enumerate(prompts):
        if (p.name, p.version) == (base.name, base.version):
            return prompts, i
    return [base, *prompts], 0


async def run_suite(
    suite: SuiteLike,
    *,
    models: list[str] | None = None,
    baseline: str | None = None,
    split: str | None = None,
    limit: int | None = None,
    store: Store | None = None,
    project: str | None = None,
    progress: bool = False,
    console: Any = None,
    item_keys: Sequence[str] | None = None,
    extra_config: dict[str, Any] | None = None,
    group_id: str | None = None,
) -> EvalResult:
    """Run a suite (file, dict or ``Suite``) and return its results, recomputed from the stored rows.

    ``item_keys`` narrows the dataset to those items (the playground's chosen rows; the runs still
    record the dataset and its version); ``extra_config`` is merged into each run's config (``kind``);
    ``group_id`` lets a caller that watches progress know the group before the runs exist.
    """
    from loopstack.config import get_settings

    s = _as_suite(suite)
    updates: dict[str, Any] = {}
    if models:
        updates["models"] = list(models)
    if split is not None:
        updates["split"] = split
    if limit is not None:
        updates["limit"] = limit
    if updates:
        s = s.model_copy(update=updates)
    store = store or get_store()
    project = project or get_settings().project
    repo = RunRepository(store, project)
    dataset = load_dataset(s, store, project)
    if item_keys is not None:
        dataset = _only_items(dataset, item_keys)
    prompts, base_index = _plan_prompts(s, store, project, baseline)
    check_variables(prompts, dataset)
    scorers = build_scorers(s)
    resolve_models(s, s.model_names)  # an unknown model or a bad option fails before any run exists
    _init_tracing()
    group_id = group_id or new_id()
    sha = git_sha(s.base_dir)
    planned: list[PlannedRun] = []
    for i, prompt in enumerate(prompts):
        for model in s.model_names:
            pr = PlannedRun(prompt, model, request_params(prompt.params, s.params))
            config = {
                "suite": s.model_dump(mode="json"),
                "suite_path": str(s.path) if s.path else None,
                "dataset": dataset.label,
                "dataset_file": dataset.file,
                "dataset_hash": dataset.content_hash(),
                "prompt": _prompt_config(prompt),
                "params": pr.params,
                "role": "baseline" if i == base_index and len(prompts) > 1 else "candidate",
                "baseline_label": baseline,
                "epochs": s.epochs,
                "concurrency": s.concurrency,
                "cache": s.cache,
                "split": s.split,
                **(extra_config or {}),
            }
            record = repo.create_run(
                config=config,
                name=f"{s.display_name}: {prompt.name}@{prompt.version} · {model}",
                suite=s.display_name,
                group_id=group_id,
                prompt_name=prompt.name,
                prompt_version=prompt.version,
                model=model,
                dataset_id=dataset.dataset_id,
                dataset_version=dataset.version,
                git_sha=sha,
            )
            pr.run_id = record.id
            planned.append(pr)
    jobs = [_Job(pr, item, e) for pr in planned for item in dataset.items for e in range(s.epochs)]
    return await _execute_and_finish(
        s, repo, store, scorers, planned, jobs, group_id, progress, console, fresh=True
    )


def _only_items(dataset: DatasetPlan, keys: Sequence[str]) -> DatasetPlan:
    wanted = list(dict.fromkeys(keys))
    by_key = {i.key: i for i in dataset.items}
    unknown = [k for k in wanted if k not in by_key]
    if unknown:
        raise InvalidInput(f"{dataset.label}: no item {unknown[0]!r} (items: {', '.join(list(by_key)[:10])})")
    return dataclasses.replace(dataset, items=[by_key[k] for k in wanted])


async def _execute_and_finish(
    s: Suite,
    repo: RunRepository,
    store: Store,
    scorers: list[Scorer],
    planned: list[PlannedRun],
    jobs: list[_Job],
    group_id: str,
    progress: bool,
    console: Any,
    *,
    fresh: bool = False,
) -> EvalResult:
    execution = _Execution(
        s, repo, scorers, progress=RunProgress(enabled=progress, console=console), store=store
    )
    execution.replace = not fresh
    status = "completed"
    try:
        await execution.run(jobs)
        if execution.interrupted:
            status = "interrupted"
    except BaseException:
        status = "interrupted" if execution.interrupted else "failed"
        for pr in planned:
            repo.set_status(pr.run_id or "", status)
        raise
    finally:
        _flush_tracing()
    for pr in planned:
        repo.set_status(pr.run_id or "", status)
    return await collect_results(repo, group_id, scorers, suite_name=s.display_name)


async def collect_results(
    repo: RunRepository, group_id: str, scorers: list[Scorer], *, suite_name: str
) -> EvalResult:
    """Summaries of every run of a group and the comparisons against its baseline, from stored rows."""
    runs = repo.group(group_id)
    # Outputs are needed only by run-level metrics (score_run); summaries and comparisons use scores.
    content = any(type(s).score_run is not Scorer.score_run for s in scorers)
    items = {r.id: repo.items(r.id, content=content) for r in runs}
    summaries = []
    for r in runs:
        metrics = await _run_metrics(scorers, items[r.id])
        summaries.append(summarize(r, items[r.id], metrics))
    comparisons = []
    baselines = {r.model: r for r in runs if r.config.get("role") == "baseline"}
    for r in runs:
        base = baselines.get(r.model)
        if base is not None and base.id != r.id:
            comparisons.append(compare(base, items[base.id], r, items[r.id]))
    label = next((r.config.get("baseline_label") for r in runs), None)
    from loopstack.evals.experiments import record_summaries

    record_summaries(repo.store, repo.project, summaries)
    from loopstack.evals.calibration_notes import judge_calibrations

    judges = [s.score_name for s in scorers if s.source == "llm"]
    return EvalResult(
        suite=suite_name,
        group_id=group_id,
        runs=summaries,
        comparisons=comparisons,
        baseline_label=label,
        interrupted=any(r.status == "interrupted" for r in runs),
        judge_calibrations=judge_calibrations(repo.store, repo.project, judges) if judges else {},
    )


async def _run_metrics(scorers: list[Scorer], items: list[Any]) -> dict[str, float | None]:
    """Run-level metrics (e.g. macro-F1) from each scorer's ``score_run`` over the stored items."""
    if all(type(s).score_run is Scorer.score_run for s in scorers):
        return {}
    samples = [
        Sample(
            input=it.input,
            output=it.output,
            expected=it.expected,
            item_key=it.item_key,
            epoch=it.epoch,
            error=it.error,
            latency_ms=it.latency_ms,
            cost=it.cost,
        )
        for it in items
    ]
    out: dict[str, float | None] = {}
    for scorer in scorers:
        if type(scorer).score_run is Scorer.score_run:
            continue
        try:
            results = await scorer.score_run(samples)
        except Exception:  # noqa: BLE001 - a metric that cannot be computed is shown as missing
            continue
        for score in results:
            out[score.name] = score.numeric
    return out


async def resume_run(
    run_id: str,
    *,
    store: Store | None = None,
    project: str | None = None,
    progress: bool = False,
    console: Any = None,
) -> EvalResult:
    """Continue a run (and the rest of its suite invocation) with only the items not yet stored.

    Errored items are retried, also in runs that completed; finished ones are never sent again.
    """
    from loopstack.config import get_settings

    store = store or get_store()
    project = project or get_settings().project
    repo = RunRepository(store, project)
    first = repo.get(run_id)
    runs = repo.group(first.group_id) if first.group_id else [first]
    config = first.config
    suite_path = Path(config["suite_path"]) if config.get("suite_path") else None
    s = parse_suite(config["suite"], filename=suite_path.name if suite_path else "suite", path=suite_path)
    dataset = reload_dataset(first, s, store, project)
    dataset.check_unchanged(first.id, first.config.get("dataset_hash"))
    scorers = build_scorers(s)
    _init_tracing()
    planned: list[PlannedRun] = []
    jobs: list[_Job] = []
    for r in runs:
        pr = _planned_from_record(r)
        done = repo.finished_keys(r.id)
        todo = [
            _Job(pr, item, e) for item in dataset.items for e in range(s.epochs) if (item.key, e) not in done
        ]
        if not todo and r.status == "completed":
            continue  # nothing missing, nothing errored
        planned.append(pr)
        jobs.extend(todo)
        repo.set_status(r.id, "running")
    group_id = first.group_id or first.id
    if not planned:
        return await collect_results(repo, group_id, scorers, suite_name=s.display_name)
    return await _execute_and_finish(s, repo, store, scorers, planned, jobs, group_id, progress, console)


def _planned_from_record(r: RunRecord) -> PlannedRun:
    p = r.config["prompt"]
    prompt = Prompt(
        name=p["name"], version=p["version"], messages=p["messages"], params=p.get("params") or {}
    )
    return PlannedRun(prompt, r.model or "", dict(r.config.get("params") or {}), run_id=r.id)


def evaluate(
    suite: SuiteLike,
    *,
    models: list[str] | None = None,
    baseline: str | None = None,
    split: str | None = None,
    limit: int | None = None,
    store: Store | None = None,
    project: str | None = None,
    progress: bool = False,
) -> EvalResult:
    """Run a suite synchronously: ``result = loopstack.evaluate("suite.yaml")``; ``result["accuracy"]``."""
    return asyncio.run(
        run_suite(
            suite,
            models=models,
            baseline=baseline,
            split=split,
            limit=limit,
            store=store,
            project=project,
            progress=progress,
        )
    )


__all__ = [
    "DatasetPlan",
    "EvalResult",
    "build_scorers",
    "collect_results",
    "evaluate",
    "resume_run",
    "run_suite",
]
