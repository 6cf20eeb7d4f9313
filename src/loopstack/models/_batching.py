"""Dynamic batching for the in-process model: concurrent requests become one batched ``generate``.

A worker thread owns the model. Requests from any event loop are queued; the worker takes the first,
keeps collecting while more arrive (a few ms apart, up to ``max_batch_size``), groups them by sampling
settings and runs each group as one left-padded ``generate`` call. A per-row tracker, called by
``generate`` after every step, applies each request's own ``max_tokens`` and stop strings and streams
its new text, so one batch serves requests with different limits. Throughput grows with concurrency
because a small model on a CPU is bound by per-step overhead, which a batch shares.

Greedy answers do not depend on batch-mates. The answer of a greedy request is, by definition, the one
it gets alone (a batch of one has a single fixed shape). A batch changes matmul shapes and padding, so
each logit moves by a rounding error; greedy rows therefore run on the float32 weights (measured: at
most ~7e-5 per logit, against ~1 in bfloat16), and a guard watches every step of every row: where the
top two logits of a live row are closer than ``tie_margin`` (1e-3, many times the measured error), that
row's argmax could differ from its solo run, so the row leaves the batch there (its tokens so far are
the solo ones) and is generated again alone. Sampled requests run on the ``sampling_dtype`` copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from loopstack.errors import LoopstackError
from loopstack.models._errors import ContextTooLong, ProviderError
from loopstack.models._types import ModelRequest, ModelResponse, Usage

_JSON_INSTRUCTION = "Answer with one JSON object and nothing else."


@dataclass
class Job:
    """One request waiting for the worker, and how to hand its answer back to the caller's loop."""

    request: ModelRequest
    max_tokens: int
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[ModelResponse]
    on_text: Callable[[str], None] | None = None
    tokens: list[int] = field(default_factory=list)
    emitted: int = 0
    finish: str | None = None
    unsure: bool = False
    """A near-tie made this row's batched argmax uncertain: it is generated again alone."""

    def group_key(self) -> tuple[Any, ...]:
        """Requests with equal keys can share one ``generate`` call."""
        r = self.request
        if not r.temperature:
            return ("greedy",)
        if r.seed is not None:  # a seeded sample is only repeatable alone: batch-mates would shift the RNG
            return ("seeded", id(self))
        return ("sample", r.temperature, r.top_p)

    def deliver(self, fn: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the caller's loop is gone; nobody is waiting
            self.loop.call_soon_threadsafe(fn, *args)

    def resolve(self, value: ModelResponse | BaseException) -> None:
        def _set() -> None:
            if self.future.done():
                return
            if isinstance(value, BaseException):
                self.future.set_exception(value)
            else:
                self.future.set_result(value)

        self.deliver(_set)


class Engine:
    """The worker thread, its queue and the loaded model (one per weights source per process)."""

    def __init__(
        self,
        name: str,
        load: Callable[[], tuple[Any, Any]],
        max_batch_size: int,
        batch_wait: float,
        max_wait: float = 0.05,
        sampling_dtype: str = "float32",
    ) -> None:
        self.name = name
        self._load = load
        self.sampling_dtype = sampling_dtype
        self.tie_margin = 1e-3
        """Greedy rows whose top two logits come closer than this in a batch are rerun alone."""
        self.reruns = 0
        """Greedy rows generated again alone after a near-tie (tests and benches read it)."""
        self._sampling_model: Any = None
        self.max_batch_size = max_batch_size
        self.batch_wait = batch_wait
        self.max_wait = max_wait
        self.queue: queue.Queue[Job] = queue.Queue()
        self.model: Any = None
        self.tokenizer: Any = None
        self.load_seconds: float | None = None
        self.load_error: BaseException | None = None
        self.batches = 0
        """Number of ``generate`` calls made (tests and benches read it)."""
        self.loaded = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def start(self) -> None:
        """Start the worker (which loads the model) if it is not running."""
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"loopstack-local-{self.name}", daemon=True
                )
                self._thread.start()

    def submit(self, job: Job) -> None:
        self.start()
        self.queue.put(job)

    def _run(self) -> None:
        started = time.perf_counter()
        try:
            self.model, self.tokenizer = self._load()
        except LoopstackError as exc:
            self.load_error = exc
        except BaseException as exc:  # noqa: BLE001 - reported to every caller, as one line
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.load_error = ProviderError(
                f"local/{self.name}: cannot load the model: {first}", provider="local"
            )
        self.load_seconds = time.perf_counter() - started
        self.loaded.set()
        while True:
            batch = self._collect()
            if self.load_error is not None:
                for job in batch:
                    job.resolve(self.load_error)
                continue
            groups: dict[tuple[Any, ...], list[Job]] = {}
            for job in batch:
                if not job.future.cancelled():
                    groups.setdefault(job.group_key(), []).append(job)
            for jobs in groups.values():
                try:
                    self._generate(jobs)
                except BaseException as exc:  # noqa: BLE001 - one failed batch must not stop the worker
                    error = ProviderError(f"local/{self.name}: generation failed: {exc}", provider="local")
                    for job in jobs:
                        job.resolve(error)

    def _collect(self) -> list[Job]:
        batch = [self.queue.get()]
        first = time.perf_counter()
        while len(batch) < self.max_batch_size:
            remaining = min(self.batch_wait, first + self.max_wait - time.perf_counter())
            if remaining <= 0:
                break
            try:
                batch.append(self.queue.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def sampling_model(self) -> Any:
        """The weights sampled requests run on: the float32 model or, made on first use, a copy in
        ``sampling_dtype`` (the greedy path keeps float32)."""
        if self.sampling_dtype == "float32":
            return self.model
        if self._sampling_model is None:
            import copy

            import torch

            self._sampling_model = copy.deepcopy(self.model).to(getattr(torch, self.sampling_dtype)).eval()
        return self._sampling_model

    def _prompt_text(self, request: ModelRequest) -> str:
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        if request.response_format == "json":
            messages.insert(0, {"role": "system", "content": _JSON_INSTRUCTION})
        text: str = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return text

    def _generate(self, jobs: list[Job]) -> None:
        import torch

        tok = self.tokenizer
        enc = tok(
            [self._prompt_text(j.request) for j in jobs],
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
        )
        prompt_lengths = enc["attention_mask"].sum(dim=1).tolist()
        limit = getattr(self.model.config, "max_position_embeddings", None)
        runnable: list[Job] = []
        for job, length in zip(jobs, prompt_lengths, strict=True):
            if limit and length + job.max_tokens > limit:
                job.resolve(
                    ContextTooLong(
                        f"local/{self.name}: {length} prompt tokens + max_tokens {job.max_tokens} exceed the "
                        f"context window of {limit}",
                        provider="local",
                    )
                )
            else:
                runnable.append(job)
        if len(runnable) != len(jobs):
            if not runnable:
                return
            self._generate(runnable)
            return
        first = jobs[0].request
        sampling = bool(first.temperature)
        model = self.sampling_model() if sampling else self.model
        kwargs: dict[str, Any] = {
            "max_new_tokens": max(j.max_tokens for j in jobs),
            "do_sample": sampling,
            "pad_token_id": tok.pad_token_id,
            "eos_token_id": tok.eos_token_id,
        }
        if sampling:
            kwargs["temperature"] = first.temperature
            kwargs["top_p"] = first.top_p if first.top_p is not None else 1.0
            kwargs["top_k"] = 0
            if first.seed is not None:
                torch.manual_seed(first.seed)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        tracker = _make_tracker(jobs, tok)
        if not sampling and len(jobs) > 1:
            kwargs["logits_processor"] = [_make_tie_guard(jobs, tracker, self.tie_margin)]
        with torch.inference_mode():
            model.generate(**enc, stopping_criteria=[tracker], **kwargs)
        self.batches += 1
        unsure = [job for job in jobs if job.unsure]
        for job, length in zip(jobs, prompt_lengths, strict=True):
            if job.unsure:
                continue
            tracker.finish_row(job)
            text = _cut_at_stop(tok.decode(job.tokens, skip_special_tokens=True), job.request.stop)
            if job.on_text is not None and len(text) > job.emitted:
                job.deliver(job.on_text, text[job.emitted :])
            job.resolve(
                ModelResponse(
                    text=text,
                    finish_reason=job.finish or "length",
                    usage=Usage(input_tokens=int(length), output_tokens=len(job.tokens)),
                    id=f"local-{uuid.uuid4().hex[:12]}",
                    response_model=self.name,
                )
            )
        for job in unsure:  # its solo answer may differ from the near-tie on: generate it alone
            job.unsure, job.tokens, job.finish = False, [], None
            self.reruns += 1
            self._generate([job])


def _cut_at_stop(text: str, stop: list[str] | None) -> str:
    if not stop:
        return text
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return text[: min(cuts)] if cuts else text


def _make_tracker(jobs: list[Job], tok: Any) -> Any:
    """A transformers StoppingCriteria that follows every row (built lazily: it subclasses a torch type)."""
    import torch
    from transformers import StoppingCriteria

    end_ids = {i for i in (tok.eos_token_id, tok.pad_token_id) if i is not None}

    class _RowTracker(StoppingCriteria):
        """Per-row token limit, stop strings and streaming, checked after each generated token."""

        def __init__(self) -> None:
            self.done = [False] * len(jobs)

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            last = input_ids[:, -1].tolist()
            for row, job in enumerate(jobs):
                if self.done[row]:
                    continue
                token = last[row]
                if token in end_ids:
                    job.finish = "stop"
                    self.done[row] = True
                    continue
                job.tokens.append(token)
                stop = job.request.stop
                if job.on_text is not None or stop:
                    text = tok.decode(job.tokens, skip_special_tokens=True)
                    if stop and _cut_at_stop(text, stop) != text:
                        job.finish = "stop"
                        self.done[row] = True
                        continue
                    if job.on_text is not None:
                        hold = max((len(s) for s in stop), default=1) - 1 if stop else 0
                        safe = len(text) - hold
                        if text.endswith("\ufffd"):  # half a multi-byte character: wait for the rest
                            safe = min(safe, len(text) - 1)
                        if safe > job.emitted:
                            job.deliver(job.on_text, text[job.emitted : safe])
                            job.emitted = safe
                if len(job.tokens) >= job.max_tokens:
                    job.finish = "length"
                    self.done[row] = True
            return torch.tensor(self.done, dtype=torch.bool, device=input_ids.device)

        def finish_row(self, job: Job) -> None:
            if job.finish is None:
                job.finish = "length"

    return _RowTracker()


def _make_tie_guard(jobs: list[Job], tracker: Any, margin: float) -> Any:
    """A LogitsProcessor that takes a live greedy row out of the batch at a near-tie (see module doc).

    It runs before the token is chosen, so the row's tokens end with the last step that was certain;
    marking it done keeps the tracker from recording (or streaming) the uncertain token.
    """
    from transformers import LogitsProcessor

    class _TieGuard(LogitsProcessor):
        def __call__(self, input_ids: Any, scores: Any) -> Any:
            top = scores.topk(2, dim=-1).values
            gaps = (top[:, 0] - top[:, 1]).tolist()
            for row, job in enumerate(jobs):
                if not tracker.done[row] and gaps[row] < margin:
                    job.unsure = True
                    tracker.done[row] = True
            return scores

    return _TieGuard()
