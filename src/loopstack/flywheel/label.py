"""Teacher labelling: a teacher model answers every dataset item, each answer stored as a teacher label.

It runs on the eval runner's machinery: model calls through the models layer (rate limits, retries,
the PII request policy, cost), a fixed pool of workers (bounded concurrency), the runner's group-commit
``BatchWriter`` (each finished label handed over at once, stored with whatever else finished meanwhile)
and its rich progress bar with the cost so far. Labels are keyed by (item, teacher, prompt version), so
after a kill (even ``kill -9``) a rerun asks only for the items with no stored label: no item that was
stored is ever paid for twice.

``max_cost`` is a budget never passed: before each call its cost is estimated conservatively (input
tokens as characters / 3, output tokens as ``max_tokens``, else twice the longest answer so far, else
1,024) and reserved while the call is in flight; a call that would not fit is not made. A teacher
that fails ``max_consecutive_errors`` items in a row stops the job with its last error.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from loopstack.errors import InvalidInput
from loopstack.flywheel._items import parse_output
from loopstack.flywheel.chat import prompt_messages, resolve_prompt
from loopstack.prompts.prompt import Prompt
from loopstack.store import Store, get_store
from loopstack.store.datasets import DatasetItem, DatasetRepository
from loopstack.store.teacher_labels import TeacherLabel, TeacherLabelRepository

#: Consecutive failed items after which a labelling job stops (the teacher is failing, not an item).
MAX_CONSECUTIVE_ERRORS = 20
_REQUEST_PARAMS = ("temperature", "max_tokens", "top_p", "stop", "seed", "response_format")
_DEFAULT_OUTPUT_ESTIMATE = 1024


@dataclass
class LabelReport:
    """What a labelling job did."""

    dataset: str
    teacher: str
    prompt: str | None
    """``name@version`` of the prompt the requests were rendered with (None: the item input alone)."""
    selected: int
    """Items selected (split, missing-only and limit applied)."""
    already: int
    """Of those, items that already had a label from this teacher and prompt (skipped, not paid)."""
    labelled: int = 0
    errors: int = 0
    cost: float = 0.0
    stopped: str | None = None
    """Why it stopped early: ``max-cost``, ``errors`` or ``interrupted`` (None: it finished)."""
    message: str | None = None
    """A line saying why it stopped, or the first item error."""
    error_samples: list[str] = field(default_factory=list)
    writes: int = 0
    """Transactions the labels were stored in (the writer groups whatever finished meanwhile)."""
    replayed: int = 0
    """Labels answered from the response cache (``cache=True``: the same request was answered before)."""

    @property
    def remaining(self) -> int:
        """Items still without a label from this teacher and prompt."""
        return self.selected - self.already - self.labelled


@dataclass
class LabelPlan:
    """The checked inputs of a labelling job, shared by live labelling and Batch export/import."""

    dataset: str
    dataset_id: str
    items: list[DatasetItem]
    """The items to label (those already labelled are left out)."""
    selected: int
    already: int
    teacher: str
    prompt: Prompt | None
    system_prompt: str | None
    params: dict[str, Any]
    labels: TeacherLabelRepository

    @property
    def prompt_ref(self) -> str | None:
        return f"{self.prompt.name}@{self.prompt.version}" if self.prompt is not None else None

    def request(self, item: DatasetItem) -> Any:
        """The model request for ``item`` (a ``ModelRequest``): the rendered messages plus parameters."""
        from loopstack.models import ModelRequest

        messages = prompt_messages(item.input, system_prompt=self.system_prompt, prompt=self.prompt)
        return ModelRequest.of(messages, **self.params)

    def label(self, item: DatasetItem, text: str, **usage: Any) -> TeacherLabel:
        """The stored form of the teacher's answer ``text`` to ``item``."""
        return TeacherLabel(
            item_key=item.key,
            teacher=self.teacher,
            output=text,
            value=parse_output(text),
            prompt_name=self.prompt.name if self.prompt else None,
            prompt_version=self.prompt.version if self.prompt else None,
            params=self.params or None,
            dataset_item_id=item.id,
            **usage,
        )


def plan_labels(
    dataset: str,
    *,
    teacher: str,
    prompt: str | Prompt | None = None,
    system_prompt: str | None = None,
    params: Mapping[str, Any] | None = None,
    split: str | None = None,
    missing_only: bool = False,
    limit: int | None = None,
    store: Store | None = None,
    project: str | None = None,
) -> LabelPlan:
    """Check the job and choose its items: every current item of ``dataset`` (or of one ``split``; with
    ``missing_only`` only those without an expected output), first ``limit`` of them, minus those
    already labelled by ``teacher`` with this prompt version."""
    from loopstack.config import get_settings
    from loopstack.models import parse_model_string

    store = store or get_store()
    project = project or get_settings().project
    parse_model_string(teacher)  # a malformed model string fails here, before anything else
    repo = DatasetRepository(store, project)
    info = repo.get(dataset)
    if info.version == 0 or info.item_count == 0:
        raise InvalidInput(f"dataset {dataset!r} has no items to label")
    resolved = resolve_prompt(prompt, store=store, project=project) if isinstance(prompt, str) else prompt
    items = repo.items(dataset, split=split)
    if split is not None and not items:
        raise InvalidInput(f"dataset {dataset!r} has no items in split {split!r}")
    if missing_only:
        items = [i for i in items if i.expected is None]
    if limit is not None:
        items = items[:limit]
    merged = {**(resolved.params if resolved else {}), **(params or {})}
    request_params = {k: v for k, v in merged.items() if k in _REQUEST_PARAMS and v is not None}
    labels = TeacherLabelRepository(store, project, info.id)
    done = labels.labelled_keys(
        teacher, resolved.name if resolved else None, resolved.version if resolved else None
    )
    todo = [i for i in items if i.key not in done]
    plan = LabelPlan(
        dataset=dataset,
        dataset_id=info.id,
        items=todo,
        selected=len(items),
        already=len(items) - len(todo),
        teacher=teacher,
        prompt=resolved,
        system_prompt=system_prompt,
        params=request_params,
        labels=labels,
    )
    if resolved is not None:  # a template variable missing from an item fails before any call
        needed = resolved.variables
        for item in todo:
            missing = sorted(needed - set(item.input))
            if missing:
                raise InvalidInput(
                    f"dataset {dataset!r} item {item.key!r} lacks {', '.join(map(repr, missing))}, "
                    f"needed by prompt {resolved.name}@{resolved.version}"
                )
    if todo:
        plan.request(todo[0])  # a bad parameter fails here too
    return plan


class _Budget:
    """Cost so far plus the estimates of calls in flight, against ``max_cost``."""

    def __init__(self, teacher: str, free: bool, max_cost: float | None) -> None:
        from loopstack.models import price_for

        self.max_cost = max_cost
        self.spent = 0.0
        self.reserved = 0.0
        self.longest_output = 0
        self.price = None if free else price_for(teacher)
        if max_cost is not None and not free and self.price is None:
            raise InvalidInput(
                f"--max-cost: no price is known for {teacher}, so its cost cannot be bounded; add it to a "
                "price file (LOOPSTACK_PRICE_FILE) or leave --max-cost out"
            )

    def estimate(self, request: Any) -> float:
        if self.price is None:
            return 0.0
        chars = sum(len(m.content) for m in request.messages)
        tokens_in = math.ceil(chars / 3) + 4 * len(request.messages) + 3
        if request.max_tokens is not None:
            tokens_out = request.max_tokens
        elif self.longest_output:
            tokens_out = 2 * self.longest_output
        else:
            tokens_out = _DEFAULT_OUTPUT_ESTIMATE
        return float(tokens_in * self.price.input + tokens_out * self.price.output) / 1_000_000

    def reserve(self, estimate: float) -> bool:
        if self.max_cost is not None and self.spent + self.reserved + estimate > self.max_cost:
            return False
        self.reserved += estimate
        return True

    def settle(self, estimate: float, cost: float | None, output_tokens: int | None) -> None:
        self.reserved -= estimate
        self.spent += cost or 0.0
        self.longest_output = max(self.longest_output, output_tokens or 0)


class _Job:
    def __init__(
        self,
        plan: LabelPlan,
        model: Any,
        report: LabelReport,
        budget: _Budget,
        progress: Any,
        max_consecutive_errors: int,
        store: Store,
        cache: bool = False,
    ) -> None:
        self.plan = plan
        self.cache = cache
        self.model = model
        self.report = report
        self.budget = budget
        self.progress = progress
        self.max_errors = max_consecutive_errors
        self.store = store
        self.streak = 0
        self.stop: str | None = None

    async def run(self, concurrency: int) -> None:
        from loopstack.evals._writer import BatchWriter

        writer: BatchWriter[TeacherLabel] = BatchWriter(self.plan.labels.save)
        self.progress.start(len(self.plan.items))
        items = iter(self.plan.items)
        workers = [
            asyncio.create_task(self._worker(items, writer))
            for _ in range(max(1, min(concurrency, len(self.plan.items))))
        ]
        try:
            await asyncio.gather(*workers)
        except asyncio.CancelledError:
            self.stop = self.stop or "interrupted"
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            self.progress.stop()
            await writer.close()
            self.report.writes = writer.batches

    async def _worker(self, items: Iterator[DatasetItem], writer: Any) -> None:
        for item in items:
            if self.stop is not None:
                return
            request = self.plan.request(item)
            estimate = self.budget.estimate(request)
            if not self.budget.reserve(estimate):
                self.stop = "max-cost"
                return
            started = time.perf_counter()
            try:
                response = await self.model.generate(request, cache=self.cache, store=self.store)
            except Exception as exc:  # noqa: BLE001 - one failing item must not take the job down
                self.budget.settle(estimate, None, None)
                self._failed(item, exc)
                continue
            self.budget.settle(estimate, response.cost, response.usage.output_tokens)
            self.streak = 0
            self.report.replayed += int(response.cached)
            writer.submit(
                self.plan.label(
                    item,
                    response.text,
                    input_tokens=response.usage.input_tokens,
                    output_tokens=response.usage.output_tokens,
                    cost=response.cost,
                    latency_ms=response.latency_ms or (time.perf_counter() - started) * 1000,
                )
            )
            self.report.labelled += 1
            self.report.cost += response.cost or 0.0
            self.progress.advance(response.cost)

    def _failed(self, item: DatasetItem, exc: Exception) -> None:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        self.report.errors += 1
        if len(self.report.error_samples) < 5:
            self.report.error_samples.append(f"{item.key}: {text}")
        self.report.message = self.report.message or f"item {item.key}: {text}"
        self.progress.advance(None, failed=True)
        self.streak += 1
        if self.streak >= self.max_errors and self.stop is None:
            self.stop = "errors"
            self.report.message = (
                f"the teacher {self.plan.teacher} failed {self.streak} items in a row, so labelling "
                f"stopped (last error: {text})"
            )


async def label_dataset_async(
    dataset: str,
    *,
    teacher: str,
    prompt: str | Prompt | None = None,
    system_prompt: str | None = None,
    params: Mapping[str, Any] | None = None,
    concurrency: int = 8,
    max_cost: float | None = None,
    split: str | None = None,
    missing_only: bool = False,
    limit: int | None = None,
    max_consecutive_errors: int = MAX_CONSECUTIVE_ERRORS,
    model_options: Mapping[str, Any] | None = None,
    cache: bool = False,
    progress: bool = False,
    console: Any = None,
    store: Store | None = None,
    project: str | None = None,
) -> LabelReport:
    """``label_dataset`` inside a running event loop."""
    from loopstack.evals._progress import RunProgress
    from loopstack.models import get_model

    if concurrency < 1:
        raise InvalidInput(f"--concurrency {concurrency}: give at least 1")
    if max_cost is not None and max_cost < 0:
        raise InvalidInput(f"--max-cost {max_cost:g}: give a budget of 0 or more (USD)")
    store = store or get_store()
    plan = plan_labels(
        dataset,
        teacher=teacher,
        prompt=prompt,
        system_prompt=system_prompt,
        params=params,
        split=split,
        missing_only=missing_only,
        limit=limit,
        store=store,
        project=project,
    )
    model = get_model(teacher, **dict(model_options or {}))
    missing = model.provider.missing_credentials()
    if missing and plan.items:
        raise InvalidInput(missing)
    report = LabelReport(
        dataset=dataset,
        teacher=teacher,
        prompt=plan.prompt_ref,
        selected=plan.selected,
        already=plan.already,
    )
    if not plan.items:
        return report
    budget = _Budget(teacher, model.provider.capabilities.free, max_cost)
    job = _Job(
        plan,
        model,
        report,
        budget,
        RunProgress(enabled=progress, console=console, description=f"label · {teacher}"),
        max_consecutive_errors,
        store,
        cache,
    )
    await job.run(concurrency)
    report.stopped = job.stop
    if job.stop == "max-cost":
        report.message = (
            f"stopped before passing the budget of ${max_cost:g} (spent ${report.cost:.4f}); "
            f"{report.remaining} items left unlabelled — rerun with a larger --max-cost to continue"
        )
    return report


def label_dataset(dataset: str, *, teacher: str, **options: Any) -> LabelReport:
    """Label every item of ``dataset`` with ``teacher`` (a model string), storing each answer as a
    teacher label as soon as it arrives; rerunning (after a kill too) labels only what is missing.

    Options: ``prompt`` (``NAME@LABEL`` or a ``Prompt``: the requests are the prompt rendered with each
    item's input; default: the input alone, see ``flywheel.chat``), ``system_prompt``, ``params``
    (temperature, max_tokens, ...; over the prompt's), ``concurrency`` (calls in flight, default 8),
    ``max_cost`` (USD, never passed), ``split``, ``missing_only`` (only items without an expected
    output), ``limit``, ``max_consecutive_errors``, ``model_options`` (provider options, e.g.
    ``base_url``), ``cache`` (replay the response cache and store new answers in it: a temperature-0
    teacher asked what it already answered is not asked again; off by default, as each answer then
    costs a write), ``progress``, ``store``, ``project``.
    """
    return asyncio.run(label_dataset_async(dataset, teacher=teacher, **options))
